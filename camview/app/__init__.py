"""The PyQt6 window: a session (the model of the window, no widgets) and the parts that
observe it, each taking the session and its own widgets.

The widgets are a module each (image_view, view_area, control_panel, class_pickers,
status_line, job_bar, layer_picker); what the session shares with them without being a
widget sits below both (signal_blocking, status_hold, file_patterns), so the session never
imports a view. A part imports the session and widgets, never another part.

May import: any room of camview but camview.cli; the only room that imports Qt.
"""
