"""`camview evaluate` against `camview render` on the same generated images, and what
evaluate's set views cost (`--only set-views` runs this part alone)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.measure import interleaved_median_ms, run_cli_in_process


def bench_evaluate(model: str, images: int, repeats: int = 2,
                   runtime: str = "openvino") -> dict:
    """Images/s of `camview evaluate FOLDER --json` against `camview render FOLDER --json` on
    the same generated folder (demo photos, cropped and flipped), in one run.

    Each command also loads the model and traces its calls, a fixed cost of about a second
    that would swamp a small folder; the rate is therefore marginal: (N - n) images over the
    difference between a run on the N-image folder and one on its first n images. Runs take
    turns and the fastest of `repeats` counts, so machine load drifting weighs on both alike.
    Both run on `runtime`: left to auto, each command's own race could pick another runtime
    on a busy machine, and the ratio would compare two runtimes.
    """
    import contextlib
    import io

    from camview.sets.dataset import write_demo_set

    small = max(2, images // 8)
    times: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # The same files for both: render reads the folder, evaluate its labels.csv.
        sets = {n: write_demo_set(Path(tmp) / f"set{n}", n, flat=True) for n in (images, small)}
        out = str(Path(tmp) / "out.json")
        commands = {
            "render": lambda n: ["render", str(sets[n].parent), "--json", out, "--model", model,
                                 "--no-progress", "--runtime", runtime],
            "evaluate": lambda n: ["evaluate", str(sets[n]), "--json", out, "--model", model,
                                   "--no-progress", "--no-cache", "--runtime", runtime],
        }
        for _ in range(repeats):
            for n in (images, small):
                for name, argv in commands.items():
                    with contextlib.redirect_stdout(io.StringIO()):  # evaluate's summary line
                        times.setdefault((name, n), []).append(run_cli_in_process(argv(n)))
    rates = {name: (images - small) / (min(times[(name, images)]) - min(times[(name, small)]))
             for name in commands}
    # evaluate_vs_render was called evaluate_speedup before the runtimes came; that name now
    # means evaluate on OpenVINO ÷ on TensorFlow (bench_evaluate_runtimes).
    return {"evaluate_images_per_s": rates["evaluate"], "render_images_per_s": rates["render"],
            "evaluate_vs_render": rates["evaluate"] / rates["render"],
            "evaluate_bench": {"model": model, "runtime": runtime, "images": images, "small": small,
                               "seconds": {f"{k}_{n}": min(v) for (k, n), v in times.items()}}}


def bench_set_views(model_name: str, images: int, repeats: int = 3) -> dict:
    """Images/s of evaluate's classification with the set views (pooled features and the
    true class's map from the same batched pass, a thumbnail) against without them, on the
    same generated set in one process: the model is loaded and both calls traced and warmed
    on the set's shapes first, then the two take turns and the fastest of `repeats` counts.
    The embedding (t-SNE, once per set) is timed on its own."""
    from camview.models import load_model
    from camview.sets.classify import classify_set
    from camview.sets.dataset import open_labelled_set, write_demo_set
    from camview.sets.tally import Tally

    model = load_model(model_name)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_demo_set(Path(tmp) / "set", images)
        dataset = open_labelled_set(folder, model.labels).images

        def run(views: bool) -> tuple[float, Tally]:
            tally = Tally(0)
            start = time.perf_counter()
            for result in classify_set(model, dataset, views=views):
                tally.add(result)
            return time.perf_counter() - start, tally

        run(False), run(True)  # tracing, and TensorFlow's buffers for each input shape
        times: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(repeats):
            for views in (False, True):
                seconds, tally = run(views)
                times[views].append(seconds)
        start = time.perf_counter()
        tally.finish_views()
        embedding_s = time.perf_counter() - start
    # The two compiled calls alone, on one full batch of 4:3 inputs, interleaved.
    from camview.sets.batches import batch_logits, batch_views
    from camview.sets.classify import DEFAULT_BATCH

    x = np.random.default_rng(0).uniform(-1, 1, (DEFAULT_BATCH, *model.network_size(
        (480, 640)), 3)).astype(np.float32)
    targets = np.arange(DEFAULT_BATCH, dtype=np.int32)
    calls = interleaved_median_ms({"plain": lambda: batch_logits(model)(x),
                                   "views": lambda: batch_views(model)(x, targets)},
                                  repeats=5 * repeats)
    plain, views = (images / min(times[v]) for v in (False, True))
    return {"evaluate_plain_images_per_s": plain, "evaluate_views_images_per_s": views,
            "evaluate_views_cost": 1 - views / plain,
            "evaluate_embedding_s": embedding_s,
            "batch16_plain_ms": calls["plain"], "batch16_views_ms": calls["views"],
            "set_views_bench": {"model": model_name, "images": images,
                                "embedding": tally.embedding.method,
                                "seconds": {"plain": times[False], "views": times[True]}}}


def print_set_views(report: dict) -> None:
    print(f"evaluate's set views: {report['evaluate_views_images_per_s']:.1f} images/s with, "
          f"{report['evaluate_plain_images_per_s']:.1f} without "
          f"({100 * report['evaluate_views_cost']:.0f} % slower); one batch of 16: "
          f"{report['batch16_views_ms']:.0f} ms against {report['batch16_plain_ms']:.0f} ms; "
          f"embedding of {report['set_views_bench']['images']} images "
          f"{report['evaluate_embedding_s']:.1f} s")
