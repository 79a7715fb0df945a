"""The live pipeline: capture thread -> one-slot mailbox -> inference thread, Qt-free.

Capture reads the source at its own pace and always overwrites the mailbox, so inference works
on the newest frame and a slow model drops frames instead of falling behind. Each result carries
its own frame and an overlay composed on that frame, so a map is never drawn over a later frame.
Model and method changes are built and warmed on a loader thread while the old ones keep
serving. Everything reaches the caller through callbacks, called from these threads; the Qt
window turns them into signals (camview.app.bridge), a benchmark can use them directly.

    pipe = Pipeline(on_result=show)
    pipe.set_source("clip.mp4")
    pipe.set_model("efficientnet_lite0")
    pipe.start()
    ...
    pipe.stop()

The modules: mailbox (Delivery, Mailbox), metrics (RateMeter, Percentiles, Stats), capture
(the capture thread and its pacing), inference (the inference thread, Smoother, Config,
Result), loader (the loader thread and its jobs), compare (several panels of one frame:
methods side by side, a second class or a second model), error_kind (ErrorKind: which kind
of fault an on_error message reports, so a caller can react), callbacks (a worker's
callback that fails is logged, not the end of its thread), ondemand (slow work beside the
live loop, one job at a time), layer_outputs_worker (a layer's channels, live) and pipeline
(the controller). Each worker sees the Pipeline only through a small Protocol of what it
calls (CaptureHost, InferenceHost, LoaderHost), so a worker can be run, and tested, without
the rest.

May import: everything below it but the commands (errors, labels, sources, models,
maps, drawing, network, checks, sets). No Qt.
"""

from camview.live.capture import FOLDER_SECONDS, HOLD_RATE, Capture, CaptureHost
from camview.live.compare import FOLLOW, PRESETS, RIVAL, CompareSpec, PanelSpec
from camview.live.error_kind import ErrorKind
from camview.live.inference import Config, Inference, InferenceHost, Result, Smoother
from camview.live.loader import LoadCompare, Loader, LoaderHost, LoadMethod, LoadModel
from camview.live.mailbox import Delivery, Mailbox
from camview.live.metrics import Percentiles, RateMeter, Stats
from camview.live.pipeline import Pipeline

__all__ = [
    "FOLDER_SECONDS", "FOLLOW", "HOLD_RATE", "PRESETS", "RIVAL", "Capture", "CaptureHost",
    "CompareSpec", "Config", "Delivery", "ErrorKind", "Inference", "InferenceHost",
    "LoadCompare", "LoadMethod", "LoadModel", "Loader", "LoaderHost", "Mailbox", "PanelSpec",
    "Percentiles", "Pipeline", "RateMeter", "Result", "Smoother", "Stats",
]
