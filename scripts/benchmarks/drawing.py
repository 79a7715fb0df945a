"""What drawing one frame costs: the map resized, coloured, blended and labelled."""

from __future__ import annotations

import numpy as np

from benchmarks.measure import interleaved_median_ms


def bench_postprocess(repeats: int) -> dict:
    """Per-frame drawing: map resize, colour, blend and labels of the overlay panel the live
    window composes (it shows the raw frame as is), per style; plus the side-by-side image
    that render and recordings write, which adds one copy of both halves."""
    from camview.drawing.overlay import LAYOUTS, STYLES, OverlayStyle, render_view

    cam = np.random.default_rng(1).random((7, 10)).astype(np.float32)
    top = [("Egyptian cat", 0.51), ("tiger cat", 0.28), ("tabby", 0.19)]
    out = {}
    for w, h in ((640, 480), (1280, 720)):
        frame = (np.random.default_rng(2).random((h, w, 3)) * 255).astype(np.uint8)
        calls = {}
        for style in STYLES:
            for layout in LAYOUTS:
                suffix = "" if layout == "overlay" else "_" + layout.replace("-", "_")
                look = OverlayStyle(style=style, layout=layout)
                calls[f"postprocess_ms_{w}x{h}_{style}{suffix}"] = (
                    lambda f=frame, s=look: render_view(f, cam, top, s))
        out.update(interleaved_median_ms(calls, repeats))
        out[f"postprocess_ms_{w}x{h}"] = max(out[f"postprocess_ms_{w}x{h}_{style}"]
                                             for style in STYLES)
    return out
