"""The head alone: class scores of read-layer activations, without the network before them.

Recipro-CAM (camview.maps.reciprocam) asks the head about many altered copies of one input's
activations; the network before the read layer has run once already, so only the head runs
on the copies. A `direct` or `fc` head (camview.models.head) is a spatial mean and at most
one dense product: computed here in numpy, exact and in a few milliseconds at most
(EfficientNet-Lite0's 98 positions x 1280 channels x 1000 classes), from the weights the
model has now (a sanity check randomises them after loading). Any other head (a
Flatten then dense layers, ConvNeXt's LayerNorm head, MobileNetV3's 1x1 convolutions) is the
Keras graph from the read layer to the scores, cut out once as a model of its own on the same
layers and weights, and run as one compiled call of any batch (traced once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from camview.errors import ModelError
from camview.models.blas_threads import one_blas_thread
from camview.models.head import ConstantWeights, DenseWeights, HeadKind

if TYPE_CHECKING:
    import keras

#: The heads computed here in numpy: a spatial mean, then (fc) one dense product.
POOLED_HEADS = (HeadKind.DIRECT, HeadKind.FC)


def pooled_head_scores(kind: HeadKind, dense: DenseWeights | ConstantWeights | None,
                       features: np.ndarray) -> np.ndarray:
    """(n, classes) scores of a direct or fc head for activations (n, h, w, k) of any h, w
    (a 1x1 map is a copy already pooled): the spatial mean, then for fc the dense weights
    and bias as they are now."""
    pooled = np.asarray(features, np.float32).mean(axis=(1, 2))
    if kind is HeadKind.DIRECT:
        return pooled
    if kind is not HeadKind.FC or dense is None:
        raise ValueError(f"a {kind.value} head is not a spatial mean and one dense layer")
    with one_blas_thread():
        return pooled @ dense.numpy() + dense.bias()


def compile_head(feature_model: keras.Model, title: str, layer: str):
    """One compiled call (n, h, w, k) -> (n, classes) of the layers between the feature
    model's two outputs (the activations of `layer` and the scores), on the same layers and
    weights; ModelError when the scores need more than that layer (a branch from an earlier
    layer joins the head)."""
    import keras
    import tensorflow as tf

    features, scores = feature_model.outputs
    try:
        head = keras.Model(features, scores, name=f"{feature_model.name}_head")
    except ValueError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise ModelError(f"{title}: the head after {layer!r} cannot run on its own: its "
                         f"scores need more than that layer's activations ({reason})") from None
    spec = tf.TensorSpec([None, *features.shape[1:]], tf.float32)

    @tf.function(input_signature=[spec])
    def run(x):
        return head(x, training=False)

    return run
