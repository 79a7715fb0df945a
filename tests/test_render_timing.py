"""A render's video shows each source frame at its source time: variable-frame-rate files too.

The source is a real VFR H.264 mp4 built here with the bundled ffmpeg: frame k shows k in four
black-or-white stripes and starts at TIMES[k] (bursts 20 ms apart, holds of seconds). The
rendered video is decoded again by ffmpeg (showinfo gives each picture's time) and every
picture's stripes are read back, so what is checked is what a player shows.
"""

import json
import re
import subprocess

import numpy as np
import pytest

from camview.cli import main
from camview.sources import open_source
from camview.sources.ffmpeg import ffmpeg_exe

#: When each source frame starts (s): holds up to 3.4 s, bursts at 50 fps; the last is shown
#: for 1 s, so the source lasts 10.9 s (the header's rate, the average, is 1.47 fps).
TIMES = [0.0, 2.5, 2.6, 4.0, 4.02, 4.04, 4.06, 5.0, 5.02, 5.04, 5.06, 6.0, 6.1, 6.2, 6.5, 9.9]
END = 10.9
W, H = 128, 96
BITS = 4  # stripes: frame k's stripe i is white when bit i of k is set


def _picture(k: int) -> np.ndarray:
    image = np.zeros((H, W, 3), np.uint8)
    for bit in range(BITS):
        if k >> bit & 1:
            image[:, bit * W // BITS:(bit + 1) * W // BITS] = 255
    return image


def _number(picture: np.ndarray) -> int:
    """The k a picture's left W x H panel shows (sampled at the stripes' centres)."""
    row = picture[H // 2, :W].mean(axis=1)
    return sum(1 << bit for bit in range(BITS) if row[(2 * bit + 1) * W // (2 * BITS)] > 128)


def write_vfr_video(path) -> None:
    """An mp4 whose frame k starts at TIMES[k]: raw frames piped in at 1 fps, each given its
    time by setpts, written with variable frame rate; no B-frames, so every packet's decode
    and presentation times agree and the container's duration is END."""
    when = "0"
    for k in reversed(range(len(TIMES))):
        when = f"if(eq(N\\,{k})\\,{TIMES[k]}\\,{when})"
    cmd = [ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "bgr24",
           "-s", f"{W}x{H}", "-r", "1", "-i", "-", "-vf", f"settb=1/1000,setpts={when}/TB",
           "-fps_mode", "vfr", "-enc_time_base", "1/1000", "-c:v", "libx264", "-bf", "0",
           "-pix_fmt", "yuv420p", str(path)]
    pictures = b"".join(_picture(k).tobytes() for k in range(len(TIMES)))
    subprocess.run(cmd, input=pictures, check=True, timeout=60)


def decoded(path) -> tuple[list[float], list[int], float]:
    """Each picture of a video as a player shows it: its time, the k it shows, and the
    video's duration (where its last picture ends)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-vf", "showinfo",
           "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
    done = subprocess.run(cmd, capture_output=True, timeout=60, check=True)
    log = done.stderr.decode()
    times = [float(t) for t in re.findall(r"pts_time:([\d.]+)", log)]
    size = re.search(r"Stream #0:0.*Video: .*?, (\d+)x(\d+)", log)
    w, h = int(size[1]), int(size[2])
    pictures = np.frombuffer(done.stdout, np.uint8).reshape(-1, h, w, 3)
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", log)
    seconds = 3600 * int(duration[1]) + 60 * int(duration[2]) + float(duration[3])
    assert len(times) == len(pictures)
    return times, [_number(p) for p in pictures], seconds


@pytest.fixture(scope="module")
def vfr_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    write_vfr_video(path)
    times, shown, duration = decoded(path)  # the source is what the test says it is
    np.testing.assert_allclose(times, TIMES, atol=1e-3)
    assert shown == list(range(len(TIMES))) and duration == pytest.approx(END, abs=0.01)
    return path


def test_a_variable_frame_rate_video_is_read_at_its_own_times(vfr_video):
    """No slot is invented for a VFR file: its frames are its frames, at their times (three
    "repeated slots" were invented for the hold after the first, at the average rate)."""
    with open_source(str(vfr_video)) as source:
        frames = list(source)
    assert [f.repeat for f in frames] == [False] * len(TIMES)
    np.testing.assert_allclose([f.timestamp for f in frames], TIMES, atol=1e-3)
    assert [_number(f.image) for f in frames] == list(range(len(TIMES)))


def test_a_render_shows_each_frame_of_a_variable_frame_rate_video_at_its_time(
        vfr_video, tmp_path, shared_lite0):
    """The frame from 9.9 s appears at 9.9 s. Written one frame a slot at the header's rate
    (the average, 1.47 fps), with three slots invented for the first hold, it appeared at
    12.3 s, the one from 5 s at 6.8 s, and the video lasted 12.9 s."""
    out, doc = tmp_path / "out.mp4", tmp_path / "out.json"
    assert main(["render", str(vfr_video), "-o", str(out), "--json", str(doc),
                 "--no-progress"]) == 0
    entries = json.loads(doc.read_text())["frames"]
    assert [e["frame"] for e in entries] == list(range(len(TIMES)))
    np.testing.assert_allclose([e["time"] for e in entries], TIMES, atol=1e-3)

    times, shown, duration = decoded(out)
    step = float(np.median(np.diff(times)))  # one output frame
    first = {k: times[shown.index(k)] for k in range(len(TIMES))}  # KeyError: a frame lost
    for k, t in enumerate(TIMES):
        assert abs(first[k] - t) <= step, f"frame {k} of {t} s appears at {first[k]} s"
    assert step <= 0.02 + 1e-3  # fine enough for the 50 fps bursts: no frame left out
    # Every picture shows the frame of its time (give or take one output frame) ...
    starts = np.array([*TIMES, END])
    for when, k in zip(times, shown, strict=True):
        assert starts[k] - step <= when < starts[k + 1] + step, (when, k)
    # ... and the video lasts as long as the source.
    assert duration == pytest.approx(END, abs=step)
    assert times[-1] + step == pytest.approx(END, abs=step)


@pytest.mark.parametrize("fps, times, rate", [
    (25.0, np.arange(50) / 25, 25.0),  # constant rate: the header's
    (30000 / 1001, np.round(np.arange(90) * 1001 / 30000, 3), 30000 / 1001),  # ms timestamps
    (24.0, np.array([0, 8, 16, 17]) / 24, 24.0),  # repeated slots (tree.avi): still steady
    (1.47, np.array(TIMES), 50.0),  # VFR: its shortest interval, 20 ms
    (12.0, np.array([0, 0.045, 0.09, 1.5]), 23.0),  # rounded up: each picture its own slot
    (2.0, np.array([0, 0.001, 2.0]), 60.0),  # a burst beyond 60 fps: capped
    (120.0, np.array([0, 0.001, 2.0]), 120.0),  # ... unless the header's rate is finer
])
def test_the_rate_a_video_is_written_at(fps, times, rate):
    from camview.drawing.writers import video_rate
    from camview.sources import Timing

    assert video_rate(fps, Timing(times, float(times[-1]) + 0.04)) == pytest.approx(rate)
    assert video_rate(fps, None) == pytest.approx(fps)


def test_a_burst_faster_than_the_rate_is_left_out_of_the_video_and_holds_fill_gaps(tmp_path):
    from camview.drawing.writers import TimedVideo, VideoWriter
    from camview.sources import Timing

    path = tmp_path / "burst.mp4"
    with VideoWriter(path, 10, (W, H)) as video:
        timed = TimedVideo(video, start=5.0)
        for k, t in enumerate([5.0, 5.01, 5.1, 5.5, 5.54, 5.56]):
            timed.write(_picture(k), t)
        timed.finish(Timing(np.array([0, 0.01, 0.1, 0.5, 0.54, 0.56]), 0.8))
    times, shown, _ = decoded(path)
    np.testing.assert_allclose(times, np.arange(8) / 10, atol=1e-3)
    # 5.01 and 5.54 find their slot taken; 5.1 waits for slot 1, 5.5 for slot 5 (held).
    assert shown == [0, 2, 2, 2, 2, 3, 5, 5] and timed.left_out == 2
