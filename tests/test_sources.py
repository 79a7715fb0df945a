"""Frame sources on real files written into tmp_path: videos, images, folders, the demo."""

from __future__ import annotations

import itertools
import logging
import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import DEMO, chelsea_pan, write_video

from camview.errors import SourceError
from camview.sources import (
    CameraSource,
    DemoSource,
    FolderSource,
    Frame,
    ImageSource,
    VideoSource,
    images,
    is_demo,
    open_source,
)
from camview.sources.images import load_image, to_bgr8

N_FRAMES, FPS, W, H = 40, 25.0, 160, 120


def square_x(i: int) -> int:
    return 3 * i


def make_frame(i: int) -> np.ndarray:
    """Frame i: a white 30x30 square at x = 3i on dark gray, plus a stripe of i's parity."""
    image = np.full((H, W, 3), 40, np.uint8)
    image[40:70, square_x(i):square_x(i) + 30] = 255
    return image


def square_video(path: Path, fourcc: str, n: int = N_FRAMES) -> Path:
    """A moving bright square: each frame's index can be read back from the picture."""
    return write_video(path, (make_frame(i) for i in range(n)), FPS, fourcc)


def square_left(image: np.ndarray) -> int:
    """x of the bright square's left edge (the video is lossy: threshold at mid-gray)."""
    cols = np.flatnonzero((image[40:70].mean(axis=(0, 2))) > 150)
    return int(cols[0])


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    return {"mp4": square_video(d / "clip.mp4", "mp4v"),
            "avi": square_video(d / "clip.avi", "MJPG")}


# ---------------------------------------------------------------------------------------------
# Video


@pytest.mark.parametrize("kind", ["mp4", "avi"])
def test_video_reads_every_frame_in_order(videos, kind):
    with VideoSource(videos[kind]) as src:
        assert src.fps == pytest.approx(FPS)
        assert src.frame_count == N_FRAMES
        assert not src.is_live
        frames = list(src)
    assert [f.index for f in frames] == list(range(N_FRAMES))
    assert [f.timestamp for f in frames] == pytest.approx([i / FPS for i in range(N_FRAMES)],
                                                          abs=1e-3)
    for f in frames:
        assert isinstance(f, Frame)
        assert f.image.shape == (H, W, 3) and f.image.dtype == np.uint8
        assert f.image.flags.c_contiguous
        assert abs(square_left(f.image) - square_x(f.index)) <= 1
    assert src.warnings == []


def test_video_read_after_end_is_none_and_close_is_idempotent(videos):
    src = VideoSource(videos["avi"])
    assert len(list(src)) == N_FRAMES
    assert src.read() is None
    src.close()
    src.close()


def test_video_seek(videos):
    with VideoSource(videos["avi"]) as src:
        src.read()
        src.seek(17)
        f = src.read()
        assert f.index == 17
        assert abs(square_left(f.image) - square_x(17)) <= 1
        assert f.timestamp == pytest.approx(17 / FPS, abs=1e-3)


def test_truncated_video_yields_readable_frames_and_one_warning(tmp_path, videos, caplog):
    data = videos["avi"].read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with caplog.at_level(logging.WARNING, logger="camview.sources"):
        src = VideoSource(cut)
        frames = list(src)
        assert src.read() is None  # still ended, no second warning
    assert src.frame_count == N_FRAMES  # the header's claim
    assert 5 < len(frames) < N_FRAMES
    assert [f.index for f in frames] == list(range(len(frames)))
    for f in frames[:-1]:  # the last one may be partly decoded
        assert abs(square_left(f.image) - square_x(f.index)) <= 1
    assert len(src.warnings) == 1
    assert "cut.avi" in src.warnings[0] and f"{N_FRAMES} frames" in src.warnings[0]
    assert len([r for r in caplog.records if "cut.avi" in r.getMessage()]) == 1


@pytest.mark.parametrize("content", [b"", b"hello, I am not a video\n" * 10])
def test_bad_video_files_raise_naming_the_file(tmp_path, content):
    path = tmp_path / "movie.mp4"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=r"movie\.mp4") as info:
        open_source(str(path))
    assert ("empty" in str(info.value)) == (content == b"")


def test_missing_paths_raise_naming_them(tmp_path):
    for name in ["nothing.mp4", "nothing.png", "nothing_dir"]:
        with pytest.raises(SourceError, match=re.escape(name)):
            open_source(str(tmp_path / name))
    with pytest.raises(SourceError, match=r"gone\.avi"):
        VideoSource(tmp_path / "gone.avi").open()


# ---------------------------------------------------------------------------------------------
# Images and to_bgr8


def write(path: Path, image: np.ndarray) -> Path:
    ok, data = cv2.imencode(path.suffix, image)
    assert ok
    path.write_bytes(data.tobytes())
    return path


def only_frame(path: Path) -> np.ndarray:
    with ImageSource(path) as src:
        assert src.frame_count == 1 and src.fps is None and not src.is_live
        f = src.read()
        assert src.read() is None
    assert f.index == 0 and f.image.dtype == np.uint8 and f.image.ndim == 3
    assert f.image.flags.c_contiguous
    return f.image


def test_grayscale_image(tmp_path):
    gray = np.tile(np.arange(64, dtype=np.uint8) * 4, (16, 1))
    img = only_frame(write(tmp_path / "gray.png", gray))
    assert img.shape == (16, 64, 3)
    for c in range(3):
        np.testing.assert_array_equal(img[:, :, c], gray)


def test_16bit_image_divides_by_257(tmp_path):
    values = np.array([[0, 257, 1000, 65535]], np.uint16).repeat(3, axis=0)
    img = only_frame(write(tmp_path / "deep.png", np.dstack([values] * 3)))
    np.testing.assert_array_equal(img[0, :, 0], [0, 1, 4, 255])


def test_bgra_image_composites_over_white(tmp_path):
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., :3] = (10, 20, 200)
    bgra[:, :2, 3] = 255  # left opaque
    bgra[:, 2:, 3] = 0    # right transparent
    img = only_frame(write(tmp_path / "alpha.png", bgra))
    assert tuple(img[0, 0]) == (10, 20, 200)
    assert tuple(img[0, 3]) == (255, 255, 255)


def test_one_pixel_and_float_images(tmp_path):
    assert only_frame(write(tmp_path / "dot.png", np.array([[[1, 2, 3]]], np.uint8))).shape \
        == (1, 1, 3)
    f = np.linspace(-1.0, 3.0, 20, dtype=np.float32).reshape(4, 5)
    img = only_frame(write(tmp_path / "float.tiff", f))
    assert img[0, 0, 0] == 0 and img[-1, -1, 0] == 255  # min-max scaled


def test_text_named_png_and_non_ascii_path(tmp_path):
    bad = tmp_path / "picture.png"
    bad.write_text("not an image")
    with pytest.raises(SourceError, match=r"picture\.png"):
        open_source(str(bad))
    good = write(tmp_path / "Kätzchen_猫.jpg", np.full((8, 8, 3), 128, np.uint8))
    assert only_frame(good).shape == (8, 8, 3)


def test_huge_images_are_shrunk_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_IMAGE_PIXELS", 1000)
    src = ImageSource(write(tmp_path / "big.png", np.zeros((100, 200, 3), np.uint8)))
    img = src.read().image
    assert img.shape[0] * img.shape[1] <= 1000 and img.shape[1] > img.shape[0]
    assert len(src.warnings) == 1 and "big.png" in src.warnings[0]


def test_to_bgr8_conversions():
    u8 = np.zeros((3, 4, 3), np.uint8)
    assert to_bgr8(u8) is u8
    assert to_bgr8(np.array([[True, False]]))[0, :, 0].tolist() == [255, 0]
    assert to_bgr8(np.array([[0.0, 0.5, 1.0]], np.float32))[0, :, 1].tolist() == [0, 128, 255]
    assert to_bgr8(np.array([[-5.0, 5.0]]))[0, :, 2].tolist() == [0, 255]
    assert to_bgr8(np.array([[np.nan, 0.25, np.inf]]))[0, :, 0].tolist() == [0, 64, 64]
    assert to_bgr8(np.full((2, 2, 1), 7, np.uint8)).shape == (2, 2, 3)
    gray_alpha = np.dstack([np.full((2, 2), 0, np.uint8), np.array([[255, 0], [0, 0]], np.uint8)])
    assert to_bgr8(gray_alpha)[:, :, 0].tolist() == [[0, 255], [255, 255]]
    assert to_bgr8(np.array([[300, -3]], np.int32))[0, :, 0].tolist() == [255, 0]
    assert to_bgr8(np.array([[3, 200]], np.int64))[0, :, 0].tolist() == [3, 200]
    strided = np.zeros((4, 4, 3), np.uint8)[:, ::2]
    assert to_bgr8(strided).flags.c_contiguous


@pytest.mark.parametrize("bad", [
    np.zeros((0, 5, 3), np.uint8), np.zeros((4, 4, 5), np.uint8), np.zeros((4, 4), complex),
    np.zeros((2, 2, 2, 2), np.uint8), np.zeros(5, np.uint8), np.array([["a"]]),
])
def test_to_bgr8_refuses_non_images(bad):
    with pytest.raises(SourceError):
        to_bgr8(bad)


# ---------------------------------------------------------------------------------------------
# Folders


def test_folder_natural_order_and_skips_unreadable(tmp_path):
    for i in (10, 2, 1):
        write(tmp_path / f"img{i}.png", np.full((6, 8, 3), i, np.uint8))
    (tmp_path / "img5.jpg").write_text("broken")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "sub").mkdir()
    with FolderSource(tmp_path) as src:
        assert src.frame_count == 4 and src.fps is None
        values, names = [], []
        for f in src:
            values.append(int(f.image[0, 0, 0]))
            names.append(src.current_path.name)
    assert names == ["img1.png", "img2.png", "img10.png"]
    assert values == [1, 2, 10]
    assert len(src.warnings) == 1 and "img5.jpg" in src.warnings[0]


def test_empty_folder_and_folder_of_broken_images(tmp_path):
    with pytest.raises(SourceError, match="no images"):
        open_source(str(tmp_path))
    (tmp_path / "a.png").write_text("broken")
    src = open_source(str(tmp_path))
    with pytest.raises(SourceError, match="none of its 1 images"):
        src.read()


def test_folder_seek(tmp_path):
    for i in range(5):
        write(tmp_path / f"f{i}.png", np.full((2, 2, 3), i, np.uint8))
    with FolderSource(tmp_path) as src:
        src.seek(3)
        f = src.read()
    assert f.index == 3 and f.image[0, 0, 0] == 3


# ---------------------------------------------------------------------------------------------
# Demo, camera, open_source


def test_is_demo():
    assert is_demo("demo") and is_demo(" Demo ")
    assert not is_demo("./demo") and not is_demo(0)
    assert not is_demo("demo.mp4")


def test_demo_frames():
    src = DemoSource(duration_s=1.0, fps=10, size=(320, 240))
    assert src.is_live and src.fps == 10 and src.frame_count == 10
    frames = list(src)
    assert len(frames) == 10
    assert all(f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [f.timestamp for f in frames] == pytest.approx([i / 10 for i in range(10)])
    # The pan/zoom moves the picture from frame to frame.
    diffs = [cv2.absdiff(a.image, b.image).mean() for a, b in itertools.pairwise(frames)]
    assert min(diffs) > 0.1
    assert len(src.photo_names) >= 3


def test_demo_cycles_photos_and_is_endless_by_default():
    src = DemoSource(fps=1, size=(64, 48))
    assert src.frame_count is None
    frames = [src.read() for _ in range(14)]  # 0..13 s: photos 0, 1, 2
    assert all(f is not None and f.image.shape == (48, 64, 3) for f in frames)
    assert [src.photo_at(t) for t in (0, 5.9, 6.0, 12.5)] == [0, 0, 1, 2]
    assert cv2.absdiff(frames[3].image, frames[9].image).mean() > 10  # a different photo


def test_missing_camera_fails_quickly():
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="camera 99"):
        open_source(99)
    with pytest.raises(SourceError, match="camera 99"):
        open_source("99")
    assert time.monotonic() - t0 < 10


def test_open_source_dispatch(tmp_path, videos):
    img = write(tmp_path / "x.JPG", np.zeros((4, 4, 3), np.uint8))
    assert isinstance(open_source("0", opened=False), CameraSource)
    assert isinstance(open_source(1, opened=False), CameraSource)
    assert isinstance(open_source("demo", opened=False), DemoSource)
    assert isinstance(open_source(str(tmp_path), opened=False), FolderSource)
    assert isinstance(open_source(str(img), opened=False), ImageSource)
    assert isinstance(open_source(str(videos["mp4"]), opened=False), VideoSource)
    src = open_source(str(videos["mp4"]))
    assert src.is_open
    src.close()
    with pytest.raises(SourceError):
        open_source("")


# -- what an image file declares: size, pages, orientation (camview.sources.images) ----------

def test_a_png_declaring_a_huge_picture_is_refused_before_decoding(tmp_path):
    """A few bytes declaring 30000x30000 RGB (a decompression bomb decodes to 2.7 GB): the
    header says so and nothing is decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000,
                                                                       8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(bytes(1_000_000))) + chunk(b"IEND", b""))
    with pytest.raises(SourceError, match=r"bomb.png: declares 30000x30000 \(900 MP\)"):
        load_image(bomb)


def test_a_huge_jpeg_is_decoded_at_a_smaller_scale(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_DECODE_PIXELS", 20_000)  # chelsea is 451x300
    image, warnings = load_image(DEMO / "chelsea.jpg")
    assert image.shape[:2] == (75, 113)  # 1/4: the first scale under the limit
    assert warnings == [f"image {DEMO / 'chelsea.jpg'}: 451x300 (0 MP) decoded at 1/4 scale"]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_a_png_is_applied_as_photo_viewers_do(tmp_path, orientation):
    from PIL import Image, ImageOps

    rgb = cv2.cvtColor(cv2.imread(str(DEMO / "chelsea.jpg")), cv2.COLOR_BGR2RGB)[:120, :200]
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "turned.png"
    Image.fromarray(rgb).save(path, exif=exif)
    image, warnings = load_image(path)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    np.testing.assert_array_equal(image, cv2.cvtColor(upright, cv2.COLOR_RGB2BGR))
    assert warnings == []


def test_a_multi_page_tiff_says_that_only_its_first_page_is_used(tmp_path):
    from PIL import Image

    pages = [Image.new("RGB", (32, 24), colour) for colour in ("red", "green", "blue")]
    path = tmp_path / "scan.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    image, warnings = load_image(path)
    assert tuple(image[0, 0]) == (0, 0, 255)  # page 1, red, in BGR
    assert warnings == [f"image {path}: has 3 pages; only the first is used"]


def test_a_header_that_lies_about_the_frame_count_does_not_repeat_past_the_file(tmp_path):
    """The same file with its AVI headers' frame counts raised to 100 000 (a fault probe's
    copy of tree.avi rendered forever): repeats end where the file's packets end."""
    import struct

    from helpers import write_repeating_video

    from camview.sources import open_source

    video = write_repeating_video(tmp_path / "still.avi", chelsea_pan(5), hold=8, fps=24)
    data = bytearray(video.read_bytes())
    avih, strh = data.find(b"avih"), data.find(b"strh")
    struct.pack_into("<I", data, avih + 8 + 16, 100_000)  # dwTotalFrames
    struct.pack_into("<I", data, strh + 8 + 32, 100_000)  # dwLength
    liar = tmp_path / "liar.avi"
    liar.write_bytes(bytes(data))
    with open_source(str(liar)) as source:
        frames = list(source)
    assert source.frame_count == 100_000
    assert len(frames) == 4 * 8 + 1
    assert len(source.warnings) == 1 and "claims 100000 frames" in source.warnings[0]
