#!/usr/bin/env python3
"""Stress: `camview evaluate` over a large generated set, watching resident memory.

Generates N small images from the demo photos (class folders), classifies them through the
evaluate core with the JSON and HTML outputs, and samples resident memory after the first
tenth, at half way and at the end of classifying (and, for information, after the outputs,
whose maps are a fixed cost of --max-mistakes images). It passes (exit 0) when the second
half of the set adds less than --max-growth-mb, and each image holds under
MAX_HELD_BYTES_PER_IMAGE of Python's allocations (numpy arrays included, traced): memory that
grew with the set (images or maps held, a leak) would grow as much in the second half as in
the first. What the first part adds is TensorFlow's buffers for each new input shape (a
size and a batch size: images are fed at their exact sizes), bounded by the
number of shapes, not by the set's size; a result is a few hundred bytes.
`python scripts/stress_evaluate.py` is the full 10 000-image run; the suite runs 240 twice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# The soak script's memory reading, shared: scripts/ is not a package, so say where it is.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import rss_mb

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


#: A result (path, true class, top-5) is a few hundred bytes and its pooled features for the
#: embedding (1280 float16) 2.5 kB; one held image is tens of kB.
MAX_HELD_BYTES_PER_IMAGE = 6144


def stress(folder: Path, model, *, batch: int = 16, max_mistakes: int = 100,
           outputs: Path | None = None) -> dict:
    """Evaluate the set at `folder`, sampling RSS after the first tenth and at the end."""
    from camview.commands.evaluate import write_json, write_report_for
    from camview.maps import make_method
    from camview.sets.classify import classify_set
    from camview.sets.dataset import open_labelled_set
    from camview.sets.tally import Tally

    dataset = open_labelled_set(folder, model.labels)
    checkpoint, half = max(100, len(dataset) // 10), len(dataset) // 2
    tally = Tally(max_mistakes)
    samples = {}
    traced_before = tracemalloc.is_tracing()
    if not traced_before:
        tracemalloc.start()
    start = time.perf_counter()
    for result in classify_set(model, dataset.images, batch_size=batch, views=True):
        tally.add(result)
        if len(tally.results) == checkpoint:
            samples["after_checkpoint"] = rss_mb()
            traced_checkpoint = tracemalloc.get_traced_memory()[0]
        if len(tally.results) == half:
            samples["half_way"] = rss_mb()
    seconds = time.perf_counter() - start
    samples["after_classifying"] = rss_mb()
    held = (tracemalloc.get_traced_memory()[0] - traced_checkpoint) / max(
        1, len(tally.results) - checkpoint)
    if not traced_before:
        tracemalloc.stop()
    start = time.perf_counter()
    tally.finish_views()  # the embedding: t-SNE over every image
    tsne_seconds = time.perf_counter() - start
    samples["after_embedding"] = rss_mb()
    if outputs is not None:
        write_json(outputs / "evaluate.json", model, str(folder), tally)
        write_report_for(str(outputs / "report.html"), model, make_method("cam", model),
                         dataset, tally)
        samples["after_outputs"] = rss_mb()
    end = samples["after_classifying"]  # the outputs add a fixed cost: --max-mistakes maps
    return {"images": len(tally.results), "checkpoint": checkpoint,
            "images_per_s": round(len(tally.results) / seconds, 1),
            "embedding": tally.embedding.method if tally.embedding else None,
            "embedding_s": round(tsne_seconds, 1),
            "rss_mb": {k: round(v, 1) for k, v in samples.items()},
            "rss_growth_mb": round(end - samples["after_checkpoint"], 1),
            "rss_growth_second_half_mb": round(end - samples["half_way"], 1),
            # The features kept for the embedding (2.5 kB an image) and t-SNE's own work.
            "rss_growth_with_embedding_mb": round(
                samples["after_embedding"] - samples["after_checkpoint"], 1),
            "held_bytes_per_image": round(held),
            "mistakes": tally.mistakes}


def embedding_stress(folder: Path, model, points: int) -> dict:
    """The embedding alone at scale: the pooled features of the small real set at `folder`,
    each repeated with noise of a tenth of the features' spread until there are `points`
    rows, reduced as evaluate reduces them (PCA, then t-SNE). Measures the seconds and the
    resident memory it adds; classifying 10 000 images first is the full run's job."""
    import numpy as np

    from camview.sets.classify import classify_set
    from camview.sets.dataset import open_labelled_set
    from camview.sets.tally import Tally
    from camview.sets.views.embedding import embed

    tally = Tally(0)
    for result in classify_set(model, open_labelled_set(folder, model.labels).images,
                               views=True):
        tally.add(result)
    real = tally.features.array()
    rng = np.random.default_rng(0)
    rows = real[np.arange(points) % len(real)]
    rows = (rows + rng.normal(0, 0.1 * real.std(axis=0) + 1e-6, rows.shape)).astype(np.float16)
    before = rss_mb()
    start = time.perf_counter()
    done = embed(rows)
    return {"points": points, "method": done.method, "dims": done.dims,
            "embedding_s": round(time.perf_counter() - start, 1),
            "rss_growth_mb": round(rss_mb() - before, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--side", type=int, default=96, help="long side of each image (px)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--max-growth-mb", type=float, default=20.0,
                        help="most resident memory the second half of the set may add")
    parser.add_argument("--max-total-growth-mb", type=float, default=200.0,
                        help="most resident memory classifying (after the first tenth) and "
                             "the embedding may add in all")
    parser.add_argument("--embedding-only", type=int, default=None, metavar="POINTS",
                        help="time only the embedding of POINTS feature rows (see "
                             "embedding_stress) and pass when it takes at most 60 s")
    args = parser.parse_args(argv)

    from camview.models import load_model
    from camview.sets.dataset import write_demo_set

    model = load_model(args.model)
    if args.embedding_only:
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_demo_set(Path(tmp) / "set", 50, long_side=args.side)
            report = embedding_stress(folder, model, args.embedding_only)
        report["passed"] = report["embedding_s"] <= 60
        print(json.dumps(report, indent=1))
        return 0 if report["passed"] else 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_demo_set(Path(tmp) / "set", args.images, long_side=args.side)
        report = stress(folder, model, batch=args.batch, outputs=Path(tmp))
    report["passed"] = (report["rss_growth_second_half_mb"] <= args.max_growth_mb
                        and report["rss_growth_with_embedding_mb"] <= args.max_total_growth_mb
                        and report["held_bytes_per_image"] <= MAX_HELD_BYTES_PER_IMAGE)
    print(json.dumps(report, indent=1))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
