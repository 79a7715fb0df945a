"""Image arrays and image files: any array to BGR uint8, and decoding image files.

Everything below the sources may use this: sources decode with it, the model converts odd
frames with it, the overlay draws on what it returns. Faults are SourceError with one line.
"""

from __future__ import annotations

import io
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from camview.errors import SourceError

#: The still-image suffixes camview reads and writes (one list for sources, outputs, dialogs).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Larger still images are shrunk to this many pixels (with a warning) on loading.
MAX_IMAGE_PIXELS = 50_000_000
#: The most pixels a file may declare for a full decode (100 MP is 300 MB of BGR): a PNG of a
#: few MB can declare 30000x30000 and take gigabytes. JPEGs beyond it decode at 1/2, 1/4 or
#: 1/8 scale (the codec scales as it decodes); other formats beyond it are refused.
MAX_DECODE_PIXELS = 2 * MAX_IMAGE_PIXELS
#: OpenCV's scaled JPEG decodes, by their scale.
_REDUCED = ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4),
            (8, cv2.IMREAD_REDUCED_COLOR_8))
#: The colour that transparent pixels are composited over (BGR). White: transparent PNGs of
#: objects (product shots, clip art) are made to be seen on a light page, and ImageNet's
#: product photos are mostly on white.
ALPHA_BACKGROUND = 255.0


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any image array as BGR uint8 HxWx3, C-contiguous (the input itself if it already is).

    Channels: 2-D or HxWx1 are grey; HxWx2 are grey + alpha; HxWx3 are BGR; HxWx4 are BGRA.
    Alpha is composited over white (:data:`ALPHA_BACKGROUND`). Values are scaled by dtype:

    * uint8: as is. bool: False -> 0, True -> 255.
    * uint16: divided by 257 (0..65535 -> 0..255, rounded).
    * other integers: as is if every value is in 0..255, otherwise min-max scaled to 0..255.
    * float: scaled by 255 if every finite value is in 0..1, otherwise min-max scaled to 0..255
      (a constant image outside 0..1 is clipped to 0..255). NaN becomes 0, +Inf and -Inf become
      the largest and smallest finite values.

    Alpha follows the same rule: uint8 /255, uint16 /65535, float clipped to 0..1, bool 0/1.
    Raises SourceError for arrays that cannot be an image: 0 pixels, ndim other than 2 or 3,
    more than 4 channels, or complex or non-numeric dtypes.
    """
    image = np.asarray(image)
    if (image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
            and image.flags.c_contiguous and image.size):
        return image
    if image.ndim not in (2, 3):
        raise SourceError(f"an image needs 2 or 3 dimensions, not {image.ndim} "
                          f"(shape {image.shape})")
    if image.size == 0:
        raise SourceError(f"the image is empty (shape {image.shape})")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels > 4:
        raise SourceError(f"an image has 1 to 4 channels, not {channels} (shape {image.shape})")
    kind = image.dtype.kind
    if kind not in "buif":
        raise SourceError(f"an image cannot have dtype {image.dtype}")
    if image.ndim == 3 and channels == 1:
        image = image[:, :, 0]
        channels = 0
    alpha = None
    if channels in (2, 4):
        alpha = _alpha_01(image[:, :, -1])
        image = image[:, :, :-1]
    colour = _scale_to_u8(image)
    if colour.ndim == 3 and colour.shape[2] == 1:
        colour = colour[:, :, 0]
    if colour.ndim == 2:
        colour = cv2.cvtColor(np.ascontiguousarray(colour), cv2.COLOR_GRAY2BGR)
    if alpha is not None:
        a = alpha[:, :, None]
        mixed = colour.astype(np.float32) * a + ALPHA_BACKGROUND * (1.0 - a)
        colour = np.rint(mixed).astype(np.uint8)
    return np.ascontiguousarray(colour)


def _scale_to_u8(values: np.ndarray) -> np.ndarray:
    """Colour values of any real dtype scaled to uint8 (see :func:`to_bgr8`)."""
    dtype = values.dtype
    if dtype == np.uint8:
        return values
    if dtype == np.bool_:
        return values.astype(np.uint8) * np.uint8(255)
    if dtype == np.uint16:
        return cv2.convertScaleAbs(np.ascontiguousarray(values), alpha=1.0 / 257.0)
    if dtype.kind in "iu":
        lo, hi = int(values.min()), int(values.max())
        if lo >= 0 and hi <= 255:
            return values.astype(np.uint8)
        return _minmax_u8(values.astype(np.float64), lo, hi)
    # Floating point: decide on the finite values only.
    values = values.astype(np.float32 if values.itemsize <= 4 else np.float64, copy=False)
    finite = np.isfinite(values)
    if not finite.all():
        if not finite.any():
            return np.zeros(values.shape, np.uint8)
        lo_f, hi_f = values[finite].min(), values[finite].max()
        values = np.nan_to_num(values, nan=0.0, posinf=hi_f, neginf=lo_f)
    lo, hi = float(values.min()), float(values.max())
    if lo >= 0.0 and hi <= 1.0:
        return np.rint(values * 255.0).astype(np.uint8)
    return _minmax_u8(values, lo, hi)


def _minmax_u8(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi <= lo:
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    # Halved first so that hi - lo cannot overflow for extreme float64 ranges.
    scaled = (values.astype(np.float64) * 0.5 - lo * 0.5) * (255.0 / (hi * 0.5 - lo * 0.5))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _alpha_01(alpha: np.ndarray) -> np.ndarray:
    """An alpha channel as float32 in 0..1."""
    if alpha.dtype == np.bool_:
        return alpha.astype(np.float32)
    if alpha.dtype.kind in "iu":
        if alpha.dtype.itemsize <= 2:
            top = 255.0 if alpha.dtype.itemsize == 1 else 65535.0
        else:
            top = float(max(int(alpha.max()), 1))
        return np.clip(alpha.astype(np.float32) / np.float32(top), 0.0, 1.0)
    return np.clip(np.nan_to_num(alpha.astype(np.float32), nan=1.0), 0.0, 1.0)



def check_file(path: Path, what: str) -> None:
    if not path.exists():
        raise SourceError(f"{what} {path}: no such file")
    if path.is_dir():
        raise SourceError(f"{what} {path}: is a folder, not a file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SourceError(f"{what} {path}: cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise SourceError(f"{what} {path}: the file is empty (0 bytes)")


def load_image(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Read an image file as BGR uint8, plus any warnings. Raises SourceError naming the file.

    Uses cv2.imdecode on the file's bytes, so non-ASCII paths work on every platform. JPEGs
    are decoded with IMREAD_ANYCOLOR | IMREAD_ANYDEPTH, which applies their EXIF orientation
    as a photo viewer would (JPEG has no alpha, so nothing is lost). Every other format uses
    IMREAD_UNCHANGED, which keeps 16-bit depth and alpha for :func:`to_bgr8`, and their EXIF
    orientation (PNG, TIFF, WebP) is applied here. The header is read first: a file declaring
    more than :data:`MAX_DECODE_PIXELS` is decoded scaled down (JPEG) or refused, before any
    pixel is decoded. Images over :data:`MAX_IMAGE_PIXELS` are shrunk to fit, with a warning;
    a multi-page file shows its first page, with a warning.
    """
    path = Path(path)
    check_file(path, "image")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"image {path}: cannot be read ({exc.strerror or exc})") from None
    return decode_image(data, f"image {path}")


@dataclass(frozen=True)
class ImageHeader:
    """What an image file declares, read without decoding its pixels."""

    width: int
    height: int
    pages: int = 1  # a multi-page TIFF's pages (an animated WebP's frames)
    orientation: int = 1  # EXIF orientation, 1 (as stored) to 8


_PILLOW_LIMIT = threading.Lock()


def read_header(data: np.ndarray) -> ImageHeader | None:
    """The declared size, pages and EXIF orientation of encoded image bytes; None when they
    are no image Pillow knows (OpenCV then has its say).

    Pillow reads a file's header without decoding it: OpenCV has no such call, and decoding
    first is what lets a small file declaring a huge picture take gigabytes. Pillow's own
    bomb guard is lifted while it reads (camview decodes nothing with Pillow and applies its
    own limit, MAX_DECODE_PIXELS).
    """
    from PIL import Image, UnidentifiedImageError

    with _PILLOW_LIMIT:
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(io.BytesIO(data.tobytes())) as image:
                if image.format == "PNG":  # Pillow's PNG getexif() decodes the whole image
                    exif = Image.Exif()
                    exif.load(_png_exif(data))
                else:
                    exif = image.getexif()
                orientation = exif.get(0x0112, 1)
                return ImageHeader(image.width, image.height,
                                   int(getattr(image, "n_frames", 1) or 1),
                                   orientation if orientation in range(1, 9) else 1)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            return None
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def _png_exif(data: np.ndarray) -> bytes:
    """A PNG's eXIf chunk, found by walking the chunks' lengths (nothing is decompressed)."""
    raw, at = data.tobytes(), 8
    while at + 8 <= len(raw):
        length = int.from_bytes(raw[at:at + 4], "big")
        kind = raw[at + 4:at + 8]
        if kind == b"eXIf":
            return raw[at + 8:at + 8 + length]
        if kind == b"IEND":
            break
        at += 12 + length
    return b""


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """`image` turned upright as its EXIF orientation asks (1 to 8, as photo viewers do)."""
    if orientation == 2:
        image = image[:, ::-1]
    elif orientation == 3:
        image = image[::-1, ::-1]
    elif orientation == 4:
        image = image[::-1]
    elif orientation == 5:
        image = image.swapaxes(0, 1)
    elif orientation == 6:
        image = image.swapaxes(0, 1)[:, ::-1]
    elif orientation == 7:
        image = image.swapaxes(0, 1)[::-1, ::-1]
    elif orientation == 8:
        image = image.swapaxes(0, 1)[::-1]
    return np.ascontiguousarray(image)


def _decode_flags(data: np.ndarray, header: ImageHeader | None, what: str
                  ) -> tuple[int, int]:
    """OpenCV's flags for `data` and the scale they decode at (1, or 2/4/8 for a huge JPEG)."""
    is_jpeg = data[:2].tobytes() == b"\xff\xd8"
    flags = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH if is_jpeg else cv2.IMREAD_UNCHANGED
    pixels = header.width * header.height if header else 0
    if pixels <= MAX_DECODE_PIXELS:
        return flags, 1
    if is_jpeg:
        for scale, reduced in _REDUCED:
            if pixels / scale**2 <= MAX_DECODE_PIXELS:
                return reduced, scale
    assert header is not None
    raise SourceError(f"{what}: declares {header.width}x{header.height} ({pixels / 1e6:.0f} MP), "
                      f"over the {MAX_DECODE_PIXELS / 1e6:.0f} MP camview decodes: shrink it "
                      "first")


def decode_image(data: np.ndarray | bytes, what: str = "image") -> tuple[np.ndarray, list[str]]:
    """Decode encoded image bytes as in :func:`load_image`; ``what`` names it in messages."""
    data = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else data
    header = read_header(data) if data.size else None
    flags, scale = _decode_flags(data, header, what)
    try:
        image = cv2.imdecode(data, flags) if data.size else None
    except cv2.error as exc:
        raise SourceError(f"{what}: cannot be decoded ({exc.err or exc})") from None
    if image is None:
        raise SourceError(f"{what}: {_undecodable_reason(data)}")
    try:
        image = to_bgr8(image)
    except SourceError as exc:
        raise SourceError(f"{what}: {exc}") from None
    warnings = []
    is_jpeg = data[:2].tobytes() == b"\xff\xd8"  # OpenCV turns JPEGs upright itself
    if header is not None and header.orientation != 1 and not is_jpeg:
        image = apply_orientation(image, header.orientation)
    if header is not None and header.pages > 1:
        warnings.append(f"{what}: has {header.pages} pages; only the first is used")
    if scale > 1:
        warnings.append(f"{what}: {header.width}x{header.height} "
                        f"({header.width * header.height / 1e6:.0f} MP) decoded at 1/{scale} "
                        "scale")
    h, w = image.shape[:2]
    if h * w > MAX_IMAGE_PIXELS:
        f = math.sqrt(MAX_IMAGE_PIXELS / (h * w))
        size = (max(1, int(w * f)), max(1, int(h * f)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        warnings.append(f"{what}: {w}x{h} ({h * w / 1e6:.0f} MP) is over the "
                        f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP limit; shrunk to {size[0]}x{size[1]}")
    return image, warnings


def _undecodable_reason(data: np.ndarray) -> str:
    """Why image bytes did not decode, as far as the bytes themselves show."""
    head, tail = data[:8].tobytes(), data[-64:].tobytes().rstrip(b"\0\r\n ")
    if head[:2] == b"\xff\xd8" and not tail.endswith(b"\xff\xd9"):
        return "a JPEG cut short (no end-of-image marker): the file is incomplete"
    if head == b"\x89PNG\r\n\x1a\n":
        return "a damaged or incomplete PNG (its data does not decode)"
    try:
        text = data[:512].tobytes().decode("utf-8")
        if all(c.isprintable() or c in "\t\r\n" for c in text):
            return "a text file, not an image"
    except UnicodeDecodeError:
        pass
    return "cannot be decoded (not an image, an unsupported format, or a damaged file)"


def shrink(image: np.ndarray, side: int) -> np.ndarray:
    """`image` with its long side at most `side` pixels (aspect kept; smaller ones as they are)."""
    h, w = image.shape[:2]
    f = side / max(h, w)
    if f >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))),
                      interpolation=cv2.INTER_AREA)


def letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` scaled to fit (w, h) with its aspect ratio kept, centred on black."""
    w, h = size
    s = min(w / image.shape[1], h / image.shape[0])
    fw, fh = max(1, round(image.shape[1] * s)), max(1, round(image.shape[0] * s))
    fitted = cv2.resize(image, (fw, fh), interpolation=cv2.INTER_AREA)
    top, left = (h - fh) // 2, (w - fw) // 2
    return cv2.copyMakeBorder(fitted, top, h - fh - top, left, w - fw - left,
                              cv2.BORDER_CONSTANT, value=(0, 0, 0))
