"""numpy's BLAS held to one thread for the small products made right after a forward pass.

numpy's OpenBLAS splits even small products over every core, and its waiting threads then
spin against the runtime's own (TensorFlow's or OpenVINO's) on a small machine: Lite0's
(98 x 1280) x (1280 x 1000) head product right after a forward pass took 9.5 ms more with
two threads and 3-4 ms with one, and Eigen-CAM's 80 x 80 Gram matrix 20x the CPU time,
measured on 2 loaded cores.
"""

from __future__ import annotations

from functools import cache


def one_blas_thread():
    """A context in which numpy's BLAS uses one thread (13 us to enter and leave)."""
    return _controller().limit(limits=1, user_api="blas")


@cache
def _controller():
    from threadpoolctl import ThreadpoolController  # scikit-learn's own thread control

    return ThreadpoolController()
