#!/usr/bin/env python3
"""camview's benchmark: what maps cost over plain classification, on this machine, in one run.

Prints a table; --json PATH writes the same figures (keys documented in docs/benchmark.md);
--markdown PATH writes them as a page (docs/benchmark-results.md), with the machine and versions.
Every figure is a median over repeated batch-1 calls after warm-up, so ratios taken from one
run compare like with like even on a noisy shared machine. The parts live in
scripts/benchmarks/, a module each; this script is their command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The parts sit beside this script; a test loads it by its path, with scripts/ not on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmarks.checks import bench_sanity, bench_set_metrics
from benchmarks.drawing import bench_postprocess
from benchmarks.dream import bench_dream, print_dream
from benchmarks.evaluate import bench_evaluate, bench_set_views, print_set_views
from benchmarks.maps import bench_method_costs, bench_model
from benchmarks.measure import peak_gflops, ready_models
from benchmarks.on_ray import bench_ray, print_ray
from benchmarks.onnx_lite0 import bench_onnx_lite0, print_onnx_lite0
from benchmarks.pipeline import COMPARE3, bench_compare3, bench_pipeline
from benchmarks.runtimes import (
    bench_evaluate_runtimes,
    bench_pipeline_runtimes,
    bench_runtimes,
    print_runtimes,
)
from benchmarks.vit import bench_vit

ROOT = Path(__file__).resolve().parents[1]
SQUEEZENET_DIR = ROOT.parent / "shared" / "models" / "squeezenet1.1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model(s) to measure (default: the "
                        "registry's models whose weights are here, never a download)")
    parser.add_argument("--weights", default=None, help="weights for --model ('none': random)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--recipe-repeats", type=int, default=10)
    parser.add_argument("--pipeline-seconds", type=float, default=20.0)
    parser.add_argument("--pipeline-method", default="cam")
    # 256: the marginal rate over 64 (a difference of half a second) moved by a quarter
    # between quiet runs.
    parser.add_argument("--evaluate-images", type=int, default=256,
                        help="images in the folder evaluate and render are timed on")
    parser.add_argument("--quick", action="store_true", help="a second-long smoke run")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--markdown", default=None, metavar="PATH",
                        help="also write the figures as a Markdown page (machine, date, "
                             "versions, a table per part), e.g. docs/benchmark-results.md")
    parser.add_argument("--only", choices=sorted(ONLY), action="append", default=None,
                        help="measure only this part, in one run (may be repeated): "
                             + "; ".join(f"{k}: {v[0]}" for k, v in ONLY.items()))
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.recipe_repeats, args.pipeline_seconds = 3, 1, 1.0
        args.evaluate_images = 16
    if "CAMVIEW_SQUEEZENET" not in os.environ and (SQUEEZENET_DIR / "squeezenet1.1.xml").is_file():
        os.environ["CAMVIEW_SQUEEZENET"] = str(SQUEEZENET_DIR)
    if args.only:
        report = {"peak_gflops": peak_gflops(0.3 if args.quick else 1.0),
                  "cpu_count": os.cpu_count()}
        for part in args.only:
            report.update(ONLY[part][1](args, report))
        print(json.dumps(report, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        if args.markdown:
            write_markdown(args.markdown, report, argv)
        return 0

    models = args.model or ready_models()
    report = {"peak_gflops": peak_gflops(0.3 if args.quick else 1.0), "models": [],
              "cpu_count": os.cpu_count()}
    slow = 1 if args.quick else 3
    for name in models:
        row = bench_model(name, args.weights, args.repeats, args.recipe_repeats,
                          1 if args.quick else 3, quick=args.quick)
        row["pipeline"] = bench_pipeline(name, args.weights, args.pipeline_seconds,
                                         args.pipeline_method)
        if not args.quick:  # converting to OpenVINO takes tens of seconds: not for a smoke run
            row["runtimes"] = bench_runtimes(name, args.weights, args.repeats, slow,
                                             report["peak_gflops"])
        report["models"].append(row)
    report.update(bench_postprocess(args.repeats))
    report.update(bench_evaluate(models[0], args.evaluate_images, repeats=1 if args.quick else 3))
    report.update(bench_set_views(models[0], args.evaluate_images, 1 if args.quick else 3))
    report.update(bench_compare3(args.pipeline_seconds))
    report.update(bench_dream(steps=10 if args.quick else None))
    if not args.quick:  # four more loads of the model: not for the smoke run
        report.update(bench_evaluate_runtimes(models[0], args.evaluate_images))
    print_table(report)
    print_dream(report)
    print_runtimes(report)
    print_set_views(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.markdown:
        write_markdown(args.markdown, report, argv)
    return 0


# -- --markdown: the figures of one run as a page ---------------------------------------------

def machine() -> dict[str, str]:
    """The CPU's model name, its cores and the memory, as Linux reports them (else '?')."""
    found = {"cpu": "?", "cores": str(os.cpu_count() or "?"), "memory": "?"}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                found["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                found["memory"] = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
                break
    except OSError:
        pass
    return found


def versions() -> dict[str, str]:
    """The versions of what the figures depend on, as installed ('-' when absent)."""
    from importlib import metadata
    found = {"python": sys.version.split()[0]}
    for name, dists in (("tensorflow", ("tensorflow", "tensorflow-cpu")),
                        ("openvino", ("openvino",)), ("numpy", ("numpy",)),
                        ("camview", ("camview",))):
        found[name] = "-"
        for dist in dists:
            try:
                found[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    if found["camview"] == "-":  # run from a checkout that is not installed
        import camview
        found["camview"] = camview.__version__
    return found


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    return "-" if value is None else str(value).replace("|", "\\|")


def _tables(title: str, figures: dict, level: int = 2) -> list[str]:
    """A `key | value` table of `figures`' plain values under `title`, then a section for
    each nested dict (and each model of a list of models), one level down."""
    plain = {k: v for k, v in figures.items() if not isinstance(v, (dict, list))
             or (isinstance(v, list) and not any(isinstance(x, dict) for x in v))}
    lines = [f"{'#' * level} {title}", ""]
    if plain:
        lines += ["| key | value |", "|---|---|"]
        lines += [f"| `{k}` | {_cell(v)} |" for k, v in plain.items()]
        lines.append("")
    for key, value in figures.items():
        if isinstance(value, dict):
            lines += _tables(f"`{key}`", value, min(level + 1, 6))
        elif isinstance(value, list) and any(isinstance(x, dict) for x in value):
            for i, row in enumerate(value):
                name = row.get("model", i) if isinstance(row, dict) else i
                if isinstance(row, dict):
                    lines += _tables(f"`{key}`: {name}", row, min(level + 1, 6))
    return lines


def markdown_page(report: dict, argv: list[str] | None = None,
                  when: str | None = None) -> str:
    """The page --markdown writes: where and when the figures were measured, then the
    figures under their JSON keys (docs/benchmark.md says what each key means)."""
    import datetime
    when = when or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["scripts/bench.py", *(argv if argv is not None else sys.argv[1:])])
    lines = ["# Benchmark results", "",
             "Generated by `scripts/bench.py --markdown`; do not edit by hand. What each key means",
             "and how it is measured: [How to measure](benchmark.md).", "",
             f"- command: `{command}`", f"- date: {when}"]
    lines += [f"- {k}: {v}" for k, v in machine().items()]
    lines += ["- versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()), ""]
    lines += _tables("Figures", report)
    return "\n".join(lines).rstrip() + "\n"


def write_markdown(path: str, report: dict, argv: list[str] | None = None) -> None:
    """The page, written under a partial name and renamed (never half a page)."""
    from camview.drawing.output_files import atomic_file
    text = markdown_page(report, argv)
    with atomic_file(path) as f:
        f.write(text)


def runtime_part(args: argparse.Namespace, report: dict) -> dict:
    """--only runtime: OpenVINO against TensorFlow for each model, in one run."""
    models, slow = args.model or ready_models(), 1 if args.quick else 3
    part: dict = {"models": []}
    for name in models:
        runtimes = bench_runtimes(name, args.weights, args.repeats, slow, report["peak_gflops"])
        runtimes.update(bench_pipeline_runtimes(name, args.weights, args.pipeline_seconds,
                                                args.pipeline_method))
        part["models"].append({"model": name, "runtimes": runtimes})
    part.update(bench_evaluate_runtimes(models[0], args.evaluate_images,
                                        repeats=1 if args.quick else 2))
    if "efficientnet_lite0" in models:  # the same network as an ONNX file, beside it
        part["onnx_lite0"] = bench_onnx_lite0(args.repeats)
    print_runtimes({**report, **part})
    print_onnx_lite0(part.get("onnx_lite0"))
    return part


def set_views_part(args: argparse.Namespace) -> dict:
    """--only set-views: evaluate's own rate against render's and its set views, one run."""
    part = bench_evaluate(_first_model(args), args.evaluate_images, repeats=3)
    part.update(bench_set_views(_first_model(args), args.evaluate_images))
    print_set_views(part)
    return part


def ray_part(args: argparse.Namespace) -> dict:
    """--only ray: the pass on a local Ray with 1 and 2 workers against the local pass."""
    part = bench_ray(_first_model(args), args.evaluate_images, repeats=1 if args.quick else 2,
                     spread=not args.quick)
    print_ray(part)
    return part


def _first_model(args: argparse.Namespace) -> str:
    return (args.model or ["efficientnet_lite0"])[0]


#: --only PART: (what it measures, how), each runnable alone; the methods' parts take the first
#: model only.
ONLY = {
    "methods": ("HiResCAM, XGrad-CAM, Recipro-CAM, Integrated Gradients, RISE and SmoothGrad "
                "against classification", lambda args, _: {"methods": bench_method_costs(
        _first_model(args), args.repeats, 1 if args.quick else 3)}),
    "sanity": ("the sanity check", lambda args, _: {"sanity": bench_sanity(
        _first_model(args), 1 if args.quick else 3)}),
    "set-metrics": ("evaluate --metrics", lambda args, _: {"set-metrics": bench_set_metrics(
        _first_model(args), 16 if args.quick else 100)}),
    "dream": ("activation maximisation", lambda args, _: bench_dream(
        steps=10 if args.quick else None)),
    "runtime": ("OpenVINO against TensorFlow", runtime_part),
    "set-views": ("evaluate with and without its set views, and against render",
                  lambda args, _: set_views_part(args)),
    "ray": ("evaluate --ray: per-image cost on 1 and 2 Ray workers against local, start-up "
            "(needs camview[ray])", lambda args, _: ray_part(args)),
    "vit": ("Grad-CAM, HiResCAM, rollout and gradient rollout on a ViT-Tiny-sized model "
            "(random weights) against its own classification, and the live pipeline on it "
            "with HiResCAM against the camera's rate",
            lambda args, _: {"vit": bench_vit(args.repeats, args.quick,
                                              args.pipeline_seconds)}),
}


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(report: dict) -> None:
    print(f"peak float32 matmul: {report['peak_gflops']:.0f} GFLOP/s "
          f"({report['cpu_count']} cores)")
    head = ("model", "input", "classify", "cam", "gradcam", "gradcam++", "recipe",
            "GFLOP", "GFLOP/s")
    print("".join(h.ljust(w) for h, w in zip(head, (20, 9, 10, 15, 15, 15, 17, 7, 8),
                                             strict=True)))
    for r in report["models"]:
        cells = (r["model"], r["input"], f"{r['classify_ms']:.1f} ms",
                 f"{_fmt(r['cam_ms'])} ({_fmt(r['cam_ratio'], 2)}x)",
                 f"{_fmt(r['gradcam_ms'])} ({_fmt(r['gradcam_ratio'], 2)}x)",
                 f"{_fmt(r['gradcampp_ms'])} ({_fmt(r['gradcampp_ratio'], 2)}x)",
                 f"{r['recipe_ms']:.0f} ({r['recipe_speedup']:.0f}x)",
                 f"{r['gflops']:.2f}", f"{r['achieved_gflops_per_s']:.0f}")
        print("".join(c.ljust(w) for c, w in zip(cells, (20, 9, 10, 15, 15, 15, 17, 7, 8),
                                                  strict=True)))
    for r in report["models"]:
        print(f"{r['model']}: " + ", ".join(
            f"{key} {_fmt(r.get(key + '_ms'))} ms ({_fmt(r.get(key + '_ratio'), 2)}x)" for key in
            ("layercam", "eigencam", "reciprocam", "saliency", "guided_gradcam",
             "smoothgrad")) +
            f"; scorecam {r['scorecam_ms']:.0f} ms, occlusion {r['occlusion_ms']:.0f} ms, "
            f"deletion+insertion {r['metrics_ms']:.0f} ms")
    for r in report["models"]:
        p = r["pipeline"]
        print(f"pipeline {r['model']}: display {p['display_fps']:.1f} fps, inference "
              f"{p['inference_fps']:.1f} fps, latency p50 {p['latency_ms_p50']:.0f} ms "
              f"p95 {p['latency_ms_p95']:.0f} ms, dropped {p['dropped']}, "
              f"peak RSS {p['peak_rss_mb']:.0f} MB")
    for key in ("postprocess_ms_640x480", "postprocess_ms_1280x720"):
        print(f"{key}: {report[key]:.2f} ms")
    print(f"evaluate {report['evaluate_images_per_s']:.1f} images/s, render "
          f"{report['render_images_per_s']:.1f} images/s "
          f"({report['evaluate_vs_render']:.2f}x, {report['evaluate_bench']['model']})")
    print(f"compare {' | '.join(COMPARE3)} (efficientnet_lite0): {report['compare3_fps']:.1f} "
          f"grids/s, display {report['compare3_display_fps']:.1f} fps, latency p50 "
          f"{_fmt(report['compare3_latency_ms_p50'], 0)} ms")


if __name__ == "__main__":
    sys.exit(main())
