"""The set-level views' registry: every registered view, run on a small real set, contributes
its JSON part and its HTML part, and `camview evaluate`'s document and report are made of
exactly the registered views' parts (nothing is assembled outside them)."""

import json
import re

import pytest

from camview.commands.evaluate import write_json, write_report_for
from camview.maps import make_method
from camview.sets.dataset import open_labelled_set, write_demo_set
from camview.sets.tally import Tally, evaluate_set
from camview.sets.view_registry import SET_VIEWS, make_views, view_tabs
from camview.sets.views.base import Page, Part, Place, SetOptions, SetPass


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    return write_demo_set(tmp_path_factory.mktemp("registry"), 10, long_side=160)


@pytest.fixture(scope="module")
def everything(small_set, lite0, squeezenet):
    """One run with every view wanted: mistakes, confusion, where, embedding, scores over the
    set (one method), a second model."""
    dataset = open_labelled_set(small_set, lite0.labels)
    options = SetOptions(max_mistakes=3, views=True, versus=squeezenet,
                         metrics=[make_method("cam", lite0)])
    tally = Tally(options=options)
    assert not evaluate_set(lite0, dataset, tally, batch_size=4, cache=None, views=True)
    assert not tally.fold(SetPass(lite0, dataset, 4))
    return dataset, tally


def test_every_view_is_registered_once_with_its_name_and_wanted_by_its_options():
    names = [view.name for view in SET_VIEWS]
    assert len(names) == len(set(names))
    assert {"mistakes", "confusion", "where", "embedding", "set_scores", "versus"} <= set(names)
    plain = [v.name for v in make_views(SetOptions(views=False))]
    assert plain == ["mistakes", "confusion"]  # no pass record, no second model, no scores
    assert view_tabs() == {"confusion": "Confusion", "embedding": "Scatter"}


def test_every_registered_view_contributes_its_json_and_html_part(everything, lite0,
                                                                  tmp_path):
    dataset, tally = everything
    assert [v.name for v in tally.views] == [v.name for v in SET_VIEWS]  # all of them ran
    summary = tally.summary(lite0, dataset.name)
    page = Page(lite0, make_method("cam", lite0), dataset, tally, summary,
                {v.name: v for v in tally.views})
    for view in tally.views:
        part = view.json_part(tally, lite0)
        assert part, f"{view.name} gave no JSON part"
        assert all(summary[key] == value for key, value in part.items()), view.name
        parts = view.html_parts(page)
        assert parts and all(isinstance(p, Part) and isinstance(p.place, Place)
                             for p in parts), view.name
        html = "".join(piece for p in parts for piece in p.pieces)
        assert "<h2>" in html or "<script>" in html, view.name

    # The files: the document's keys are the counts' and the views', in the registry's order.
    write_json(tmp_path / "e.json", lite0, str(dataset.name), tally)
    doc = json.loads((tmp_path / "e.json").read_text())
    view_keys = [k for v in tally.views for k in v.json_part(tally, lite0)]
    assert list(doc)[6:] == [*view_keys, "images"]
    assert {"embedding", "versus_top"} <= set(doc["images"][0])
    write_report_for(str(tmp_path / "e.html"), lite0, make_method("cam", lite0), dataset, tally)
    page_html = (tmp_path / "e.html").read_text()
    headings = re.findall(r"<h2>([^<(]+)", page_html)
    for heading in ("Most confused pairs", "The set as the network sees it", "Confusion matrix",
                    "Where each class looks", "Mistakes, most confident first",
                    "Which map to believe: scores over the set", "Where the two models differ"):
        assert any(h.startswith(heading) for h in headings), heading
