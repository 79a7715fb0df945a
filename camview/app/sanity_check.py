"""The sanity check on demand (camview.checks.sanity): on the frozen frame, a copy of the network is
randomised top-down in five steps and the maps are drawn again after each; the result is the
paper's figure in a dialog, with one verdict line per method."""

from __future__ import annotations

from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from camview.app.image_view import ImageView
from camview.app.session import Session
from camview.checks.sanity import SanityResult, figure, sanity_check
from camview.maps import METHODS

#: Compared with the method shown, as in the paper: a class map and a pixel-gradient map.
ALSO = ("gradcam", "saliency")


def methods_for(shown: str) -> list[str]:
    """The method shown (a live one) and the two references, once each."""
    first = [shown] if shown in METHODS and METHODS[shown].live else []
    return list(dict.fromkeys([*first, *ALSO]))


class SanityCheck:
    """The Sanity check action, its background job and its dialog."""

    def __init__(self, session: Session, dialog_parent: QWidget) -> None:
        self.s = session
        self.parent = dialog_parent
        self.dialog: QDialog | None = None  # the last figure shown
        self.action = session.make_action(
            "sanity_check", "Sanity check", ["Ctrl+Shift+R"], self.run,
            tip="Randomise a copy of the network top-down in 5 steps and redraw the maps of "
                "the frozen frame after each: a map that does not change shows the image, "
                "not the network (in the background)")

    def run(self) -> None:
        s = self.s
        result = s.shown_map_for("check")
        if result is None:
            return
        model = s.model
        s.freeze_for("the sanity check of this frame")
        names = methods_for(s.method_shown)
        frame, target = result.frame, result.map.target
        label = model.short_label(target)

        def work(progress, cancel) -> SanityResult:
            return sanity_check(model, model.prepare(frame.image), names, target,
                                progress=progress, cancel=cancel)

        s.jobs.submit(f"sanity check of {', '.join(names)} ({label}):", work,
                      lambda done: self.show(done, frame.image, label,
                                             model.map_box(frame.image.shape[:2])))

    def show(self, result: SanityResult, image, label: str,
             crop: tuple[int, int, int, int] | None = None) -> QDialog:
        dialog = QDialog(self.parent)
        dialog.setWindowTitle("Sanity check: do the maps depend on the network?")
        box = QVBoxLayout(dialog)
        note = QLabel(f"Class “{label}”. Left: each method's map; then the same map after "
                      "randomising the head, the top blocks, … and the stem of a copy of the "
                      "network (titles: Spearman rank correlation with the original).\n"
                      + "\n".join(result.verdict(m) for m in result.maps))
        note.setWordWrap(True)
        box.addWidget(note)
        view = ImageView("")
        picture = figure(image, result, box=crop)  # a centre crop's maps: over the crop
        view.set_image(picture)
        view.setMinimumSize(min(picture.shape[1], 1200),
                            round(min(picture.shape[1], 1200) * picture.shape[0]
                                  / picture.shape[1]))
        box.addWidget(view, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.close)
        box.addWidget(buttons)
        dialog.note, dialog.view = note, view
        dialog.show()
        self.dialog = dialog
        self.s.show_status(f"sanity check of {', '.join(result.maps)} done", now=True)
        return dialog
