"""A short run of scripts/soak.py: results keep coming, memory stays flat, threads end."""

import importlib.util

import pytest
from helpers import REPO

from camview.sources import write_demo_video

SCRIPTS = REPO / "scripts"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.usefixtures("lite0")  # the model is built once for the session, not timed here
def test_short_soak_with_method_switches(tmp_path):
    soak = _load("soak")
    video = write_demo_video(tmp_path / "loop.avi", seconds=2.0)
    report = soak.soak(str(video), model="efficientnet_lite0", method="cam", seconds=8.0,
                       warmup=3.0, sample=1.0, switch_every=1.0)
    assert report["results"] > 20
    assert report["stalled_windows"] == 0, report["samples"]
    assert report["stopped_cleanly"] and report["leaked_threads"] == []
    assert report["rss_growth_mb"] < 50, report["samples"]
    assert report["errors"] == []


def test_bench_smoke(tmp_path):
    """The benchmark keeps working: a smoke run (--quick: few methods, small options) goes
    through every part and writes their keys."""
    import json

    bench = _load("bench")
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--model", "efficientnet_lite0", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert {"peak_gflops", "postprocess_ms_640x480", "postprocess_ms_1280x720"} <= set(report)
    (row,) = report["models"]
    assert {"classify_ms", "cam_ms", "gradcam_ms", "gradcampp_ms", "cam_ratio",
            "gradcam_ratio", "gradcampp_ratio", "gflops", "achieved_gflops_per_s",
            "recipe_ms", "recipe_speedup"} <= set(row)
    assert {"display_fps", "inference_fps", "latency_ms_p50", "latency_ms_p95", "dropped",
            "peak_rss_mb"} <= set(row["pipeline"])
