"""Drawing what camview shows and writing it: the overlay (colour, labels, layouts),
the map scale, one explained frame drawn one way, and the files it writes (videos, images,
outputs that never cost a file).

May import: camview.errors, camview.labels, camview.sources, camview.models, camview.maps.
"""
