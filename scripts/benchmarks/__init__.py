"""The parts of camview's benchmark (scripts/bench.py runs them and prints their figures).

measure: how every part times (medians, interleaved medians, the matmul peak, FLOPs, a
command's seconds); maps: classification against the maps on one frame; checks: the sanity
check and evaluate --metrics; drawing: per-frame overlay drawing; pipeline: the live threads
and the compare grid; evaluate: evaluate against render and its set views; dream: activation
maximisation; runtimes: OpenVINO against TensorFlow.
"""
