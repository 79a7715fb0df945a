"""camview: live class activation maps of image classifiers over a camera, video or image feed.

The package is cut by capability into rooms whose imports run one way, from the bottom up
(tests/test_import_rules.py holds the order):

    errors, labels     the error types every room raises; class names
    sources/           frames from cameras, videos, images, folders, the demo; decoding
    models/            loading a model behind one interface; formats, runtimes, preprocessing
    maps/              the map methods over one base, their options
    drawing/           overlay, map scale, one explained frame drawn one way, the files written
    network/           inside the network: layers, filters, dream
    checks/            faithfulness scores and the sanity check of a map
    sets/              a labelled set as a whole: classifying, set-level views, the report
    commands/          the headless commands: render, evaluate, inspect, filters, dream
    live/              the live pipeline: capture, inference, loader threads (no Qt)
    app/               the PyQt6 window, the only room that imports Qt
    cli                the entry point: parses arguments and hands over to a command or the app
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("camview")  # one source: pyproject.toml, through the package metadata
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "unknown"
