"""Inside the network: its layers (summary), its kernels (filters) and what excites a class
(dream). Tools that look at the network itself rather than map one frame; Qt-free.

May import: everything below it (errors, labels, sources, models, maps, drawing).
"""
