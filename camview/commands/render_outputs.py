"""What `camview render` writes: each frame's record (the --json entry and the --map map),
the rendered frames' sink (one image, a folder or a video) and the closing of every output,
each even if another failed, so nothing computed is lost."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from camview.commands.render_request import RenderRequest
from camview.drawing.output_files import atomic_file, check_writable, sweep_partials
from camview.drawing.writers import (
    VIDEO_SUFFIXES,
    TimedVideo,
    VideoWriter,
    finish_each,
    video_rate,
    write_image,
)
from camview.errors import OutputError
from camview.maps import TOP_N, MapResult, Method
from camview.models import CamModel
from camview.sources import Frame, Pacing, Source
from camview.sources.images import IMAGE_SUFFIXES

log = logging.getLogger(__name__)


@dataclass
class FrameRecord:
    """What one rendered frame contributes to --json and --map."""

    frame: int
    top: list[dict]
    target: dict
    peak: dict
    cam: np.ndarray = field(repr=False)
    problem: str | None = None
    metrics: dict | None = None  # --metrics: {method: {"deletion_auc", "insertion_auc"}}
    path: str | None = None  # the input file, when each frame is one (stills, folders)
    time: float | None = None  # the frame's media time in seconds (videos)
    details: dict | None = None  # what the method reports beside its map (MapResult.details)

    def as_json(self) -> dict:
        entry = {"frame": self.frame, "top": self.top, "target": self.target, "peak": self.peak}
        if self.path is not None:
            entry["path"] = self.path
        if self.time is not None:
            entry["time"] = round(self.time, 6)
        if self.problem:
            entry["problem"] = self.problem
        if self.metrics is not None:
            entry["metrics"] = self.metrics
        if self.details:
            entry.update(self.details)
        return entry


def peak_in_frame(cam: np.ndarray, frame_hw: tuple[int, int],
                  box: tuple[int, int, int, int] | None = None) -> dict:
    """Arg-max of the map resized to the source frame (or to `box`, the region a centre
    crop's map covers: CamModel.map_box), in source-frame pixels."""
    top, left, bottom, right = box or (0, 0, *frame_hw)
    safe = np.nan_to_num(cam.astype(np.float32), nan=-np.inf, posinf=np.finfo(np.float32).max)
    big = cv2.resize(safe, (right - left, bottom - top), interpolation=cv2.INTER_LINEAR)
    y, x = np.unravel_index(int(np.argmax(big)), big.shape)
    return {"x": int(x) + left, "y": int(y) + top}


def record_of(model: CamModel, frame: Frame, result: MapResult,
              metrics: dict | None = None) -> FrameRecord:
    # JSON has no NaN: a probability that is not a number is null (and "problem" says why).
    top = [{"index": i, "label": model.short_label(i),
            "prob": round(p, 6) if np.isfinite(p) else None} for i, p in result.top(TOP_N)]
    return FrameRecord(
        frame=frame.index, top=top,
        target={"index": result.target, "label": model.short_label(result.target)},
        peak=peak_in_frame(result.cam, frame.image.shape[:2],
                           model.map_box(frame.image.shape[:2])), cam=result.cam,
        problem=result.problem, metrics=metrics, path=frame.path,
        time=None if frame.path is not None else frame.timestamp, details=result.details)


class FrameSink:
    """Where rendered views go: one image, a folder of images, or a video.

    In a folder, a frame read from a file keeps that file's stem (``cat.jpg`` ->
    ``cat_cam.png``), so a folder render's outputs can be told apart; video frames are
    numbered (``frame_000000.png``).

    A video of a timed source (a video file, the demo) shows each frame at its media time
    (:class:`TimedVideo`, at :func:`video_rate`) and, when the source was read to its end,
    lasts as long as the source; other sources give one output frame each.
    """

    def __init__(self, output: str | None, source: Source, inputs: tuple[str, ...],
                 frames: int | None = None) -> None:
        """`frames`: the most frames the render will write (--frames), None: the source's."""
        self.path = Path(output) if output else None
        self.kind = None
        self.video: VideoWriter | None = None
        self.timed: TimedVideo | None = None
        self.count = 0
        self.source = source
        self.fps: float | None = None  # a video's rate (video_rate)
        self._names: set[str] = set()
        if self.path is None:
            return
        suffix = self.path.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            self.kind = "video"
        elif suffix in IMAGE_SUFFIXES:
            # A file whose header gives no count is found out at its second frame (write).
            if frames != 1 and (source.is_live or (source.frame_count or 1) != 1):
                many = ("runs until stopped" if source.is_live
                        else f"has {source.frame_count} frames")
                raise OutputError(f"output {self.path} is one image but {source.name} {many}: "
                                  "give a folder or a .mp4")
            self.kind = "image"
        elif suffix == "" or self.path.is_dir():
            self.kind = "folder"
        else:
            raise OutputError(f"output {self.path}: unknown kind {suffix!r} (use .png/.jpg, a "
                              f"folder or {', '.join(VIDEO_SUFFIXES)})")
        check_writable(self.path, inputs=inputs, folder=self.kind == "folder")
        if self.kind == "video":
            self.fps = video_rate(source.fps, source.timing())

    def write(self, view: np.ndarray, frame: Frame) -> None:
        if self.kind == "video":
            if self.video is None:
                self.video = VideoWriter(self.path, self.fps, (view.shape[1], view.shape[0]))
                if self.source.pacing is Pacing.TIMED:
                    self.timed = TimedVideo(self.video, frame.timestamp)
            if self.timed is not None:
                self.timed.write(view, frame.timestamp)
            else:
                self.video.write(view)
        elif self.kind == "image":
            if self.count:
                raise OutputError(f"output {self.path} is one image but the source has more "
                                  "than one frame: give a folder or a .mp4")
            write_image(self.path, view)
        elif self.kind == "folder":
            if not self.count:  # a dead run's partial frames, once, not a listing per frame
                sweep_partials(self.path, suffix=".png")
            write_image(self.path / self.file_name(frame), view, sweep=False)
        self.count += 1

    def file_name(self, frame: Frame) -> str:
        """A folder output's name for `frame`: its input's stem, made unique when two inputs
        share one (``cat.jpg`` and ``cat.png``: ``cat_cam.png``, ``cat_png_cam.png``)."""
        if frame.path is None:
            return f"frame_{frame.index:06d}.png"
        source = Path(frame.path)
        name = f"{source.stem}_cam.png"
        if name in self._names:
            name = f"{source.stem}_{source.suffix.lstrip('.').lower()}_cam.png"
        while name in self._names:
            name = f"{source.stem}_{frame.index:06d}_cam.png"
        self._names.add(name)
        return name

    def close(self) -> None:
        """Finish the video; OutputError if the encoder failed (the file is closed anyway)."""
        if self.video is None:
            return
        try:
            if self.timed is not None:
                self.timed.finish(self.source.timing() if self.source.ended else None)
        finally:
            self.video.finish()


def _write_json(path: str, model: CamModel, methods: list[Method],
                records: list[FrameRecord]) -> None:
    doc = {"model": model.name, "preprocess": model.preprocess_name, "method": methods[0].name}
    if len(methods) > 1:  # --compare: top, target, peak and the maps are the first one's
        doc["compare"] = [m.name for m in methods]
    doc["frames"] = [r.as_json() for r in records]
    text = json.dumps(doc, indent=1, allow_nan=False)
    try:
        with atomic_file(path) as f:
            f.write(text)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write_maps(path: str, records: list[FrameRecord]) -> None:
    maps = [r.cam for r in records]
    shapes = {m.shape for m in maps}
    if len(shapes) > 1:
        # Images of different shapes in one folder: one array needs one map size.
        log.warning("maps of %d sizes resized to %s for %s", len(shapes), maps[0].shape, path)
        h, w = maps[0].shape
        maps = [cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for m in maps]
    stack = np.stack(maps).astype(np.float32) if maps else np.zeros((0, 0, 0), np.float32)
    try:
        # An open file, not the name: np.save would append ".npy" to a name without it.
        with atomic_file(path, "wb") as f:
            np.save(f, stack)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def close_outputs(request: RenderRequest, model: CamModel, methods: list[Method],
                  records: list[FrameRecord], sink: FrameSink) -> list[OutputError]:
    """Finish every output, each even if another failed, so nothing computed is lost."""
    steps = [sink.close]
    if request.json:
        steps.append(lambda: _write_json(request.json, model, methods, records))
    if request.map:
        steps.append(lambda: _write_maps(request.map, records))
    return finish_each(steps)
