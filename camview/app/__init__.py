"""The PyQt6 window: a session (the model of the window, no widgets) and the parts that
observe it, each taking the session and its own widgets.

May import: any room of camview but camview.cli; the only room that imports Qt.
"""
