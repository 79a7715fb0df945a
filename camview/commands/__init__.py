"""The headless commands: each module parses nothing itself (camview.cli does), checks a
request, runs the core and writes files. `render`, `evaluate`, `models`, the network
commands (`inspect`, `filters`, `dream`), the argument translation, the checks made before
TensorFlow is imported and the quieting of the libraries' own start-up messages.

May import: everything below it (errors, labels, sources, models, maps, drawing, network,
checks, sets). No Qt.
"""
