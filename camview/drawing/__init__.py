"""Drawing what camview shows and writing it: the overlay (overlay: its options and the one
call that draws a frame, from upsample: the map enlarged, colour: the map coloured over the
frame, text: labels and banners, layout: side by side and grids), the map scale, one
explained frame drawn one way, and the files it writes (videos, images, outputs that never
cost a file).

May import: camview.errors, camview.labels, camview.sources, camview.models, camview.maps.
"""
