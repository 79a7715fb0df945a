#!/usr/bin/env python3
"""Soak: a looping video through the live pipeline for minutes, watching memory and threads.

Passes (exit 0) when results keep arriving in every sampling window, resident memory grows by
less than --max-growth-mb after the warm-up, and stopping leaves no pipeline thread behind.
`python scripts/soak.py --minutes 10` is the full run; the test suite runs a few seconds of it.
`--switch-runtime-every 30` also switches the forward runtime (OpenVINO, TensorFlow) while it
runs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def rss_mb() -> float:
    """Resident memory now (not the peak), from /proc on Linux, else the peak as a fallback."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: What --switch-runtime-every cycles through (the first switch converts, once per model).
RUNTIME_CYCLE = ("openvino", "tensorflow")


def soak(video: str, *, model: str, method: str, seconds: float, warmup: float,
         sample: float, switch_every: float = 0.0, switch_runtime_every: float = 0.0) -> dict:
    """Run the pipeline on `video` (looping) and sample results, RSS and threads; every
    `switch_every` s switch the method, every `switch_runtime_every` s the runtime."""
    from camview.live import Pipeline

    threads_before = {t.ident for t in threading.enumerate()}
    results = 0
    errors: list[str] = []
    lock = threading.Lock()

    def on_result(_result) -> None:
        nonlocal results
        with lock:
            results += 1

    def on_error(message: str, kind: str) -> None:
        with lock:
            errors.append(f"{kind}: {message}")

    pipe = Pipeline(on_result=on_result, on_error=on_error, method=method, loop_video=True,
                    panel_only=True)
    pipe.set_model(model)
    loading = time.monotonic()
    pipe.start()
    pipe.wait_idle(300)
    # What a model's load and first trace take on this machine now: the bound for stopping
    # (a switch's trace in progress cannot be interrupted, and a loaded machine is slower).
    load_s = time.monotonic() - loading
    pipe.set_source(video)
    start = time.monotonic()
    samples = []
    baseline = None
    methods = ("cam", "gradcam", "gradcam++")
    switches = runtime_switches = 0
    runtimes_used: list[str] = []
    while (elapsed := time.monotonic() - start) < seconds:
        time.sleep(sample)
        with lock:
            count = results
        if switch_every and elapsed // switch_every > switches:
            switches += 1
            pipe.set_method(methods[switches % len(methods)])
        if switch_runtime_every and elapsed // switch_runtime_every > runtime_switches:
            pipe.set_runtime(RUNTIME_CYCLE[runtime_switches % len(RUNTIME_CYCLE)])
            runtime_switches += 1
        if pipe.current_model is not None:
            name = pipe.current_model.runtime.name
            if not runtimes_used or runtimes_used[-1] != name:
                runtimes_used.append(name)
        now_rss = rss_mb()
        if baseline is None and elapsed >= warmup:
            baseline = now_rss
        samples.append({"t": round(elapsed, 1), "results": count, "rss_mb": round(now_rss, 1),
                        "threads": threading.active_count()})
    stop_timeout = max(2.0, load_s)
    stopped = pipe.stop(timeout=stop_timeout)
    time.sleep(0.2)
    leaked = [t.name for t in threading.enumerate()
              if t.ident not in threads_before and t.name.startswith("camview")]
    counts = [s["results"] for s in samples]
    stalls = sum(1 for a, b in itertools.pairwise(counts) if b == a)
    final = samples[-1]["rss_mb"] if samples else rss_mb()
    return {"seconds": round(time.monotonic() - start, 1), "results": counts[-1] if counts else 0,
            "results_per_s": (counts[-1] / seconds) if counts else 0.0,
            "stalled_windows": stalls, "rss_after_warmup_mb": None if baseline is None else
            round(baseline, 1), "rss_final_mb": final,
            "rss_growth_mb": None if baseline is None else round(final - baseline, 1),
            "stopped_cleanly": stopped, "stop_timeout_s": round(stop_timeout, 1),
            "leaked_threads": leaked, "errors": errors[-5:],
            "runtime_switches": runtime_switches, "runtimes_used": runtimes_used,
            "samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the RSS "
                        "baseline is taken (default 60)")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--video", default=None, help="video to loop (default: made from the "
                        "demo photos)")
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--method", default="cam")
    parser.add_argument("--switch-every", type=float, default=0.0,
                        help="also cycle the method every N seconds")
    parser.add_argument("--switch-runtime-every", type=float, default=0.0,
                        help="also switch the runtime (openvino, tensorflow, ...) every N "
                             "seconds")
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    from camview.sources import write_demo_video

    warmup = min(args.warmup, args.minutes * 30)
    if args.switch_runtime_every:
        # Each runtime's first uses allocate once (the conversion, the compiled model, its
        # buffers: measured, +77 MB up to the third switch, then flat for 16 more): the
        # baseline comes after two rounds of the cycle.
        warmup = max(warmup, 2 * len(RUNTIME_CYCLE) * args.switch_runtime_every)
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or str(write_demo_video(Path(tmp) / "loop.avi", seconds=6.0))
        report = soak(video, model=args.model, method=args.method,
                      seconds=args.minutes * 60, warmup=warmup,
                      sample=args.sample, switch_every=args.switch_every,
                      switch_runtime_every=args.switch_runtime_every)
    ok = (report["stalled_windows"] == 0 and report["stopped_cleanly"]
          and not report["leaked_threads"]
          and (report["rss_growth_mb"] or 0.0) < args.max_growth_mb)
    summary = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(summary, indent=1))
    print("soak: PASS" if ok else "soak: FAIL")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
