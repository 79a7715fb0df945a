"""Record (R) and Snapshot (S): the view as shown, to mp4 or PNG, with the elapsed time in the
status bar. A recording is closed cleanly on stop, on closing the window, and when the source
fails; `--record PATH` starts one as soon as the first source is open. The files themselves
are camview.app.view_output's."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QLabel

from camview.app.recorder import Recorder
from camview.app.session import Session
from camview.errors import CamviewError
from camview.live import Result
from camview.sources import Frame


class RecordingControls:
    """The recording in progress and snapshots of the session's view; `label` shows
    '● REC m:ss' while recording."""

    def __init__(self, session: Session, label: QLabel) -> None:
        self.s = session
        self.label = label
        self._pending = session.options.record  # --record: once the first source is open
        session.frameShown.connect(self._on_frame)
        session.resultShown.connect(self._on_result)
        session.sourceChanged.connect(self._on_source)
        session.sourceFailed.connect(lambda _: self.stop("the source failed")
                                     if self.recorder is not None else None)
        session.bridge.recordFailed.connect(self.stop)

    def make_actions(self) -> list[QAction]:
        a = self.s.make_action
        return [a("record", "Record", ["R"], self.toggle, checkable=True,
                  tip="Record the view to mp4"),
                a("snapshot", "Snapshot", ["S"], self.snapshot, tip="Save the view as PNG")]

    @property
    def recorder(self) -> Recorder | None:
        """The recording in progress."""
        return self.s.output.recorder

    def toggle(self, on: bool) -> None:
        if on and self.recorder is None:
            self.start(None)
        elif not on and self.recorder is not None:
            self.stop()

    def start(self, path: str | Path | None, asked_now: bool = True) -> None:
        s = self.s
        if self.recorder is not None:
            return
        raw = s.raw.image if s.raw is not None else None
        overlay = s.result.overlay if s.result is not None else None
        try:
            rec = s.output.start_recording(path, s.pipeline.source_fps, s.style.layout, raw,
                                           overlay)
        except CamviewError as exc:
            s.show_error(exc)
            s.set_checked("record", False)
            return
        s.set_checked("record", True)
        s.show_status(f"recording ({rec.layout}) to {rec.path}", now=asked_now)
        self.tick()

    def stop(self, why: str | None = None) -> None:
        rec = self.s.output.stop_recording()
        self.s.set_checked("record", False)
        self.label.setText("")
        if rec is not None:
            saved = f"saved {rec.path} ({rec.frames} frames)"
            self.s.show_status(f"recording stopped ({why}); {saved}" if why else saved,
                               error=bool(why), folder=rec.path.parent, now=True)

    def tick(self) -> None:
        if self.recorder is not None:
            t = int(self.recorder.elapsed)
            self.label.setText(f"● REC {t // 60}:{t % 60:02d}")

    def snapshot(self) -> Path | None:
        """Save the view as shown (raw | overlay, or the overlay alone) as a PNG."""
        s, result = self.s, self.s.result
        raw = s.raw if s.raw is not None else (result.frame if result is not None else None)
        if raw is None:
            s.show_status("nothing to save yet", error=True)
            return None
        overlay = result.overlay if result is not None else None
        try:
            path = s.output.snapshot(raw.image, overlay, s.style.layout)
        except CamviewError as exc:
            s.show_error(exc)
            return None
        s.show_status(f"saved {path}", folder=path.parent, now=True)
        return path

    # -- the session's events
    def _on_frame(self, frame: Frame) -> None:
        if self.recorder is not None:
            self.recorder.add_frame(frame.image)

    def _on_result(self, result: Result) -> None:
        if self.recorder is not None:
            self.recorder.set_overlay(result.overlay)

    def _on_source(self, _source) -> None:
        if self._pending:
            path, self._pending = self._pending, None
            self.start(path, asked_now=False)  # --record: not over a notice
