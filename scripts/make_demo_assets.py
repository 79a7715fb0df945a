"""Regenerate the bundled demo photos in camview/resources/demo/ from scikit-image's sample data.

Only photos whose scikit-image docstring states a public-domain or CC0 licence are used; see
camview/resources/demo/SOURCES.md for the provenance of each file. Run from the repository root:

    python scripts/make_demo_assets.py

Needs scikit-image (a test dependency) and OpenCV. Writes JPEG quality 90, at most 640 px on
the long side, RGB converted to OpenCV's BGR order before encoding.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

# (output file, scikit-image function) in the order the demo shows them.
PHOTOS = [
    ("chelsea.jpg", "chelsea"),      # tabby cat; CC0 (Stefan van der Walt)
    ("coffee.jpg", "coffee"),        # espresso cup; CC0 (Rachel Michetti)
    ("rocket.jpg", "rocket"),        # Falcon 9 on the pad; public domain (SpaceX)
    ("astronaut.jpg", "astronaut"),  # Eileen Collins with a shuttle model; public domain (NASA)
    ("camera.jpg", "camera"),        # cameraman with a tripod; CC0 (Lav Varshney)
]
LONG_SIDE_MAX = 640
JPEG_QUALITY = 90


def main(out_dir: Path | None = None) -> int:
    import skimage
    import skimage.data

    out_dir = out_dir or Path(__file__).resolve().parent.parent / "camview" / "resources" / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for filename, function in PHOTOS:
        rgb = np.asarray(getattr(skimage.data, function)())
        bgr = cv2.cvtColor(rgb, cv2.COLOR_GRAY2BGR if rgb.ndim == 2 else cv2.COLOR_RGB2BGR)
        h, w = bgr.shape[:2]
        if max(h, w) > LONG_SIDE_MAX:
            f = LONG_SIDE_MAX / max(h, w)
            bgr = cv2.resize(bgr, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise SystemExit(f"cannot encode {filename}")
        (out_dir / filename).write_bytes(data.tobytes())
        total += data.size
        print(f"{filename}: skimage.data.{function}() {w}x{h} -> "
              f"{bgr.shape[1]}x{bgr.shape[0]}, {data.size / 1024:.0f} KB")
    print(f"total {total / 1024:.0f} KB (scikit-image {skimage.__version__}) in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
