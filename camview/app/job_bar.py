"""The status line's bar for the one on-demand job: what runs, how far it is, and Cancel.

It only shows camview.app.jobs.Jobs' signals; the window wires Cancel to the session.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from camview.app.jobs import Jobs


class JobBar(QWidget):
    """What runs on demand, how far it is, and a Cancel button (in the status bar)."""

    def __init__(self, jobs: Jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(True)
        self.cancel = QPushButton("Cancel")
        self.cancel.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel)
        self.hide()
        jobs.started.connect(self.start)
        jobs.progressed.connect(self.progress)
        jobs.ended.connect(self.hide)

    def start(self, what: str) -> None:
        self.label.setText(what)
        self.bar.setRange(0, 0)  # busy until the first progress report
        self.show()

    def progress(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(done)
        self.bar.setFormat(f"{done}/{total}")
