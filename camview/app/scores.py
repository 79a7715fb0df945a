"""Faithfulness on demand: "Score maps" measures whether the network's own output supports the
map shown on the frozen frame (deletion and insertion, camview.checks.faithfulness), in the
background, and shows the numbers beside a random map's in a small table."""

from __future__ import annotations

from PyQt6.QtWidgets import QDialog, QWidget

from camview.app.dialogs import table_dialog
from camview.app.session import Session
from camview.checks.faithfulness import RANDOM, STEPS, Faithfulness
from camview.live.ondemand import ScoreRequest

HEADERS = ["map", "deletion AUC (lower is better)", "insertion AUC (higher is better)"]
BASELINE = "random map (baseline)"


def explanation(label: str, frame_index: int) -> str:
    """The lines above the table: what was measured and how to read it."""
    return (f"Frame {frame_index}, class “{label}”. Deletion greys out the map's hottest "
            f"pixels first, insertion puts them back into a blurred frame first, in {STEPS} "
            "steps; each number is the area under the class's probability curve (0–1). A map "
            "the network's own output supports has a lower deletion and a higher insertion "
            "than the random map.")


def verdict(name: str, score: Faithfulness, baseline: Faithfulness) -> str:
    """One line: does the map beat the random map on both, one or neither score?"""
    better = [what for what, ok in (("deletion", score.deletion_auc < baseline.deletion_auc),
                                    ("insertion", score.insertion_auc > baseline.insertion_auc))
              if ok]
    if len(better) == 2:
        return f"{name} beats the random map on both scores."
    if better:
        return f"{name} beats the random map on {better[0]} only."
    return f"{name} does no better than the random map here: do not trust it on this frame."


def rows(scores: dict[str, Faithfulness]) -> list[tuple[str, str, str]]:
    """Table rows: each map, then the random baseline."""
    order = [n for n in scores if n != RANDOM] + [RANDOM]
    return [(BASELINE if n == RANDOM else n, f"{scores[n].deletion_auc:.3f}",
             f"{scores[n].insertion_auc:.3f}") for n in order if n in scores]


class Scores:
    """The Score maps action and its table."""

    def __init__(self, session: Session, dialog_parent: QWidget) -> None:
        self.s = session
        self.parent = dialog_parent
        self.dialog: QDialog | None = None  # the last table shown
        self.action = session.make_action(
            "score_maps", "Score maps", ["Ctrl+G"], self.score,
            tip="Score the map of the frozen frame: deletion and insertion against a random "
                "map (in the background)")

    def score(self) -> None:
        s = self.s
        result = s.shown_map_for("score")
        if result is None:
            return
        model = s.model
        if result.map.problem:
            s.show_status(f"this map cannot be scored: {result.map.problem}", error=True)
            return
        s.freeze_for("scoring the map of this frame")
        maps = {result.method_name: result.map.cam}
        label = model.short_label(result.map.target)
        request = ScoreRequest(model, result.frame, maps, result.map.target)
        s.jobs.submit(f"scoring {', '.join(maps)} of {label}:", request.run,
                      lambda scores: self.show(scores, label, result.frame.index))

    def show(self, scores: dict[str, Faithfulness], label: str, frame_index: int) -> QDialog:
        names = [n for n in scores if n != RANDOM]
        note = "\n".join([explanation(label, frame_index),
                          *(verdict(n, scores[n], scores[RANDOM]) for n in names)])
        self.dialog = table_dialog(self.parent, "Faithfulness of the map", HEADERS,
                                   rows(scores), note)
        self.s.show_status(f"scored {', '.join(names)} of {label}", now=True)
        return self.dialog
