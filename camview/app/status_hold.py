"""How long the status line holds a message against the plain messages that follow it.

The session asks for a hold with each message (Session.show_status) and the status line
(camview.app.status_line) keeps to it, so the rule lives here, below both.
"""

ERROR_HOLD_S = 10.0  # a plain status does not hide an error younger than this
NOTICE_HOLD_S = 12.0  # a notice (no camera: the demo shown; saved settings in use) stays this long
