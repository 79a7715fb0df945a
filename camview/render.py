"""`camview render`: every frame of a source through the model, the method and the overlay.

Unlike the live window, nothing is dropped: each frame of a video gives one rendered frame,
one JSON entry and one map. Outputs are opened before the first frame is computed, so a bad
output path fails in a second rather than after minutes of work, and they are always closed
(Ctrl+C included), so a partial video stays playable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from camview.errors import OutputError, SourceError
from camview.maps import MapResult, Method, make_method
from camview.models import DEFAULT_MODEL, CamModel, load_model
from camview.overlay import OverlayStyle, render_view
from camview.sources import Frame, Source, open_source
from camview.writers import IMAGE_SUFFIXES, VIDEO_SUFFIXES, VideoWriter, check_writable, write_image

log = logging.getLogger(__name__)

DEMO_FRAMES = 150
TOP_N = 5  # the JSON always lists five classes, whatever --topk draws


@dataclass
class FrameRecord:
    """What one rendered frame contributes to --json and --map."""

    frame: int
    top: list[dict]
    target: dict
    peak: dict
    cam: np.ndarray = field(repr=False)
    problem: str | None = None

    def as_json(self) -> dict:
        entry = {"frame": self.frame, "top": self.top, "target": self.target, "peak": self.peak}
        if self.problem:
            entry["problem"] = self.problem
        return entry


def peak_in_frame(cam: np.ndarray, frame_hw: tuple[int, int]) -> dict:
    """Arg-max of the map resized to the source frame, in source-frame pixels."""
    h, w = frame_hw
    safe = np.nan_to_num(cam.astype(np.float32), nan=-np.inf, posinf=np.finfo(np.float32).max)
    big = cv2.resize(safe, (w, h), interpolation=cv2.INTER_LINEAR)
    y, x = np.unravel_index(int(np.argmax(big)), big.shape)
    return {"x": int(x), "y": int(y)}


def explain_frame(model: CamModel, method: Method, frame: Frame, target: int | None,
                  style: OverlayStyle) -> tuple[MapResult, np.ndarray]:
    """One frame: the map result and the composed view, the same way the window draws it."""
    result = method.explain(model.prepare(frame.image), target)
    top = [(model.short_label(i), p) for i, p in result.top(style.topk)]
    # An undrawable map (NaN, flat) becomes a banner saying why, not coloured garbage.
    view = render_view(frame.image, result.cam, top, style)
    return result, view


def record_of(model: CamModel, frame: Frame, result: MapResult) -> FrameRecord:
    top = [{"index": i, "label": model.short_label(i), "prob": round(p, 6)}
           for i, p in result.top(TOP_N)]
    return FrameRecord(
        frame=frame.index, top=top,
        target={"index": result.target, "label": model.short_label(result.target)},
        peak=peak_in_frame(result.cam, frame.image.shape[:2]), cam=result.cam,
        problem=result.problem)


class FrameSink:
    """Where rendered views go: one image, a folder of numbered images, or a video."""

    def __init__(self, output: str | None, source: Source, inputs: tuple[str, ...]) -> None:
        self.path = Path(output) if output else None
        self.kind = None
        self.video: VideoWriter | None = None
        self.count = 0
        if self.path is None:
            return
        check_writable(self.path, inputs=inputs)
        suffix = self.path.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            self.kind = "video"
        elif suffix in IMAGE_SUFFIXES:
            if source.frame_count != 1:
                raise OutputError(f"output {self.path} is one image but {source.name} has "
                                  "several frames: give a folder or a .mp4")
            self.kind = "image"
        elif suffix == "":
            self.kind = "folder"
        else:
            raise OutputError(f"output {self.path}: unknown kind {suffix!r} (use .png/.jpg, a "
                              f"folder or {', '.join(VIDEO_SUFFIXES)})")
        self.fps = source.fps or 30.0

    def write(self, view: np.ndarray, frame_index: int) -> None:
        if self.kind == "video":
            if self.video is None:
                self.video = VideoWriter(self.path, self.fps, (view.shape[1], view.shape[0]))
            self.video.write(view)
        elif self.kind == "image":
            write_image(self.path, view)
        elif self.kind == "folder":
            write_image(self.path / f"frame_{frame_index:06d}.png", view)
        self.count += 1

    def close(self) -> None:
        if self.video is not None:
            self.video.close()


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.start = self.last = time.monotonic()

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and not force):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6)
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "#" * int(30 * frac)
            text = f"\r[{bar:<30}] {done}/{self.total} frames  {rate:5.1f} fps"
        else:
            text = f"\r{done} frames  {rate:5.1f} fps"
        sys.stderr.write(text)
        sys.stderr.flush()

    def finish(self, done: int) -> None:
        if self.enabled:
            self.update(done, force=True)
            sys.stderr.write("\n")


def _write_outputs(args: argparse.Namespace, model: CamModel, method: Method,
                   records: list[FrameRecord]) -> None:
    if args.json:
        doc = {"model": model.name, "method": method.name,
               "frames": [r.as_json() for r in records]}
        try:
            Path(args.json).write_text(json.dumps(doc, indent=1), encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write {args.json}: {exc.strerror}") from None
    if args.map:
        maps = [r.cam for r in records]
        shapes = {m.shape for m in maps}
        if len(shapes) > 1:
            # Images of different shapes in one folder: one array needs one map size.
            log.warning("maps of %d sizes resized to %s for %s", len(shapes), maps[0].shape,
                        args.map)
            h, w = maps[0].shape
            maps = [cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for m in maps]
        stack = np.stack(maps).astype(np.float32) if maps else np.zeros((0, 0, 0), np.float32)
        try:
            np.save(args.map, stack)
        except OSError as exc:
            raise OutputError(f"cannot write {args.map}: {exc.strerror}") from None


def style_from_args(args: argparse.Namespace) -> OverlayStyle:
    return OverlayStyle(style=args.style, threshold=args.threshold, alpha=args.alpha,
                        colormap=args.colormap, layout=args.layout, topk=args.topk)


def run_render(args: argparse.Namespace) -> int:
    style = style_from_args(args)
    source = open_source(args.source)
    inputs = (args.source,)
    for out in (args.json, args.map):
        if out:
            check_writable(out, inputs=inputs)
    with source:
        limit = args.frames
        if limit is None and args.source == "demo":
            limit = DEMO_FRAMES
        model = load_model(args.model or DEFAULT_MODEL, weights=args.weights,
                           read_layer=args.layer, resize=args.resize, labels=args.labels)
        method = make_method(args.method, model, args.layer)
        target = None if args.target is None else model.find_class(args.target)
        sink = FrameSink(args.output, source, inputs)
        total = min(x for x in (limit, source.frame_count) if x) if (
            limit or source.frame_count) else None
        progress = Progress(total, enabled=not args.no_progress and (total or 0) > 1)
        records: list[FrameRecord] = []
        interrupted = False
        try:
            while limit is None or len(records) < limit:
                frame = source.read()
                if frame is None:
                    break
                result, view = explain_frame(model, method, frame, target, style)
                records.append(record_of(model, frame, result))
                sink.write(view, frame.index)
                progress.update(len(records))
        except KeyboardInterrupt:
            interrupted = True
        except SourceError as exc:
            if not records:
                raise
            log.warning("%s; kept the %d frames read before", exc, len(records))
        finally:
            sink.close()
            progress.finish(len(records))
            _write_outputs(args, model, method, records)
    for warning in getattr(source, "warnings", []):
        print(f"camview: warning: {warning}", file=sys.stderr)
    if not records:
        raise SourceError(f"{source.name} gave no frames")
    if interrupted and not source.is_live:
        print(f"camview: stopped after {len(records)} frames", file=sys.stderr)
        return 130
    return 0
