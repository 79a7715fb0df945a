"""Hosts for the live workers: exactly the members of CaptureHost, InferenceHost and
LoaderHost and nothing else, so a worker reaching for more fails (and reports it)."""

from __future__ import annotations

import threading
import time

from camview.live import Config, Delivery, ErrorKind, Inference, Mailbox
from camview.sources import Frame


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


class Recorder:
    """What every host shares: it remembers what the worker told it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: list[str] = []
        self.errors: list[tuple[str, ErrorKind]] = []

    def status(self, message: str, error: bool = False) -> None:
        with self.lock:
            (self.errors.append((message, ErrorKind.SOURCE)) if error
             else self.statuses.append(message))

    def error(self, message: str, kind: ErrorKind) -> None:
        with self.lock:
            self.errors.append((message, kind))


class CaptureOnly(Recorder):
    """A CaptureHost: a real mailbox and lists."""

    def __init__(self) -> None:
        super().__init__()
        self.mailbox = Mailbox()
        self.puts: list[Delivery] = []
        self.delivered: list[Frame] = []
        self.sources: list = []
        self.notices: list[str] = []

    def put(self, item: Delivery) -> None:
        with self.lock:
            self.puts.append(item)
        self.mailbox.put(item)

    def frame_delivered(self, frame: Frame, now: float) -> None:
        with self.lock:
            self.delivered.append(frame)

    def source_changed(self, source) -> None:
        self.sources.append(source)

    def notice(self, message: str) -> None:
        self.notices.append(message)



class InferenceOnly(Recorder):
    """An InferenceHost: a fixed config, results collected."""

    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.results: list = []

    def config(self) -> Config:
        return self.cfg

    def result_ready(self, result, cfg: Config) -> None:
        with self.lock:
            self.results.append((result, cfg))



class LoaderOnly(Recorder):
    """A LoaderHost: the installed model and method kept as plain attributes."""

    def __init__(self, method_name: str, last_frame: Frame | None) -> None:
        super().__init__()
        self.current_model = None
        self.method_name = method_name
        self.last_frame = last_frame
        self.method = None
        self.compare = None
        self.compare_methods: dict = {}
        self.versus_methods: dict = {}
        self.config_changes = 0

    @property
    def layer(self) -> str | None:
        return self.method.layer if self.method is not None else None

    def install(self, *, model=None, method=None, method_name=None) -> None:
        if model is not None:
            self.current_model = model
        if method is not None:
            self.method, self.method_name = method, method.name
        elif method_name is not None:
            self.method_name = method_name

    def install_compare(self, spec, methods, versus) -> None:
        self.compare, self.compare_methods, self.versus_methods = spec, methods, versus

    def config_changed(self) -> None:
        self.config_changes += 1


def run_inference(cfg: Config, frame: Frame) -> tuple:
    """One frame through an Inference thread on its own host: (first result, the worker)."""
    host = InferenceOnly(cfg)
    mailbox = Mailbox()
    inference = Inference(host, mailbox, panel_only=True)
    mailbox.put(Delivery(frame, time.monotonic()))
    inference.thread.start()
    try:
        wait_for(lambda: bool(host.results))
    finally:
        inference.stop()
        mailbox.close()
        inference.thread.join(2.0)
    assert not host.errors
    return host.results[0][0], inference
