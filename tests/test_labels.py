"""Suggestions for an unknown class name, on the real ImageNet labels."""

import pytest

from camview.errors import ModelError
from camview.labels import imagenet_labels, suggest


@pytest.mark.parametrize(("query", "expected"), [
    ("bicycle", "tandem bicycle"),        # a synonym with the query as a word
    ("bike", "mountain bike"),
    ("tabbby", "tabby"),                  # a typo
    ("ESPRESO", "espresso"),              # case and a typo
    ("Siamese_cats", "Siamese cat"),      # '_' as space, close match
    ("off-road", "off-roader"),           # a synonym that starts with the query
])
def test_the_class_meant_comes_first(query, expected):
    assert suggest(query, imagenet_labels())[0] == expected


def test_at_most_three_distinct_names_each_a_real_synonym():
    labels = imagenet_labels()
    synonyms = {name.strip().lower() for label in labels for name in label.split(",")}
    for query in ("cat", "dog", "car", "bicycle", "mountain"):
        names = suggest(query, labels)
        assert 1 <= len(names) <= 3
        assert len({n.lower() for n in names}) == len(names)  # 'catamount' is two classes
        assert all(n.lower() in synonyms for n in names)


def test_bicycle_offers_the_bicycles():
    names = suggest("bicycle", imagenet_labels())
    assert {"tandem bicycle", "tricycle", "unicycle"} == set(names)


def test_nothing_close_gives_nothing():
    assert suggest("xyzzy", imagenet_labels()) == []
    assert suggest("  ", imagenet_labels()) == []


def test_find_class_error_offers_suggestions_that_it_accepts(lite0):
    with pytest.raises(ModelError) as caught:
        lite0.find_class("bicycle")
    message = str(caught.value)
    assert "no class named 'bicycle'" in message
    assert "did you mean: tandem bicycle, tricycle, unicycle?" in message
    assert "\n" not in message
    assert lite0.find_class("tandem bicycle") == 444  # each suggestion is accepted back


def test_find_class_error_without_suggestions(lite0):
    with pytest.raises(ModelError) as caught:
        lite0.find_class("xyzzy")
    assert "did you mean" not in str(caught.value)


def test_target_and_dataset_names_are_found_by_one_rule(lite0):
    """--target takes every name a labelled set's folder may have, and suggests only names it
    takes."""
    assert lite0.find_class("siamese_cat") == lite0.find_class("Siamese cat") == 284
    assert lite0.find_class("n02123045") == 281
    for name in lite0.class_names.closest("tabbby"):
        assert lite0.find_class(name) >= 0
