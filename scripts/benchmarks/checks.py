"""What the checks of a map cost: the sanity check's cascading randomisation on one frame,
and evaluate --metrics scoring a generated set."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.measure import median_ms


def bench_sanity(name: str, repeats: int) -> dict:
    """`--only sanity`: camview.checks.sanity's cascading randomisation, 5 steps x 3 methods
    (Grad-CAM, Layer-CAM, saliency) on the benchmark frame, the copy and its tracing included
    (each run makes a new copy: that is what a user waits for); the median of `repeats` runs."""
    from camview.checks.sanity import sanity_check
    from camview.models import load_model
    from camview.sources import DemoSource

    model = load_model(name)
    with DemoSource(size=(640, 480)) as demo:
        batch = model.prepare(demo.read().image)
    methods = ["gradcam", "layercam", "saliency"]
    seconds = median_ms(lambda: sanity_check(model, batch, methods), repeats, warmup=1) / 1000
    return {"sanity_s": seconds, "sanity_methods": methods, "sanity_steps": 5}


def bench_set_metrics(name: str, images: int = 100) -> dict:
    """`--only set-metrics`: `camview evaluate SET --metrics gradcam,layercam,hirescam` scoring
    on `images` generated photos (the demo photos cropped and flipped), one run, model loading
    included; the budget asked for is 180 s for 100 images and 3 live methods."""
    import cv2

    from camview.maps import make_method
    from camview.models import load_model
    from camview.sets.dataset import LabelledImage
    from camview.sets.views.set_scores import score_set
    from camview.sources.demo import demo_photos

    photos = [cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
              for _, data in demo_photos()]
    with tempfile.TemporaryDirectory() as tmp:
        items = []
        for i in range(images):
            photo = photos[i % len(photos)]
            h, w = photo.shape[:2]
            k = 1 + (i // len(photos)) % 4
            crop = photo[h * k // 16:h - h * k // 16, w * k // 16:w - w * k // 16]
            path = Path(tmp) / f"{i:03d}.jpg"
            cv2.imwrite(str(path), crop[:, ::-1] if i % 2 else crop)
            items.append(LabelledImage(path, 0))
        start = time.perf_counter()
        model = load_model(name)
        methods = [make_method(m, model) for m in ("gradcam", "layercam", "hirescam")]
        done = sum(1 for _ in score_set(model, items, methods))
        seconds = time.perf_counter() - start
    return {"set_metrics_s": seconds, "set_metrics_images": done,
            "set_metrics_methods": ["gradcam", "layercam", "hirescam"]}
