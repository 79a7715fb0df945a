"""A labelled set as a whole: reading it, classifying it in batches, folding the results
into set-level views (confusion, embedding, where each class looks, versus, set scores,
mistakes) and the HTML report.

May import: everything below it (errors, labels, sources, models, maps, drawing, network,
checks). No Qt.
"""
