"""A labelled set as a whole: reading it (dataset), classifying it in batches (batches,
classify, per_image, results), folding the results (counts, tally) into the set-level views
(views/: one module each, over views/base.py's lifecycle; view_registry.SET_VIEWS lists them)
and the HTML report (report, markup).

May import: everything below it (errors, labels, sources, models, maps, drawing, network,
checks). No Qt.
"""
