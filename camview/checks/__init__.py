"""Checks of a map against the model: faithfulness (deletion/insertion) and the
sanity check (cascading randomisation).

May import: everything below it (errors, labels, sources, models, maps, drawing).
"""
