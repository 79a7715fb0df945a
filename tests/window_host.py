"""The one way the tests start a real window: shown, started, and waited for."""

from __future__ import annotations

from collections.abc import Callable


def first_map(win) -> bool:
    return win.session.result is not None and win.raw_view.image is not None


def started_window(qtbot, options, ready: Callable[[object], bool] = first_map,
                   timeout: int = 20000):
    """A MainWindow for `options`, shown and started; returns once `ready(window)`."""
    from camview.app.window import MainWindow

    win = MainWindow(options)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    win.start()
    qtbot.waitUntil(lambda: ready(win), timeout=timeout)
    return win
