"""What the network is given and how a batch of it is called, for classifying a labelled set:
the input exactly as `camview render` prepares it, how many inputs of a shape make a batch,
and the one compiled call that gives a batch's scores (with the set views, its pooled
features and each image's true-class map from the same forward pass).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from camview.models import CamModel, HeadKind
from camview.models.runtimes import TENSORFLOW


def resized_for_network(model: CamModel, image_bgr: np.ndarray) -> np.ndarray:
    """One BGR uint8 image resized exactly as `camview render` resizes it (CamModel.resized
    at the model's network size), still uint8. Batches take only inputs of one size, so
    evaluate's scores are render's (no rounding to share a batch)."""
    return model.resized(image_bgr)


def network_input(model: CamModel, image_bgr: np.ndarray) -> np.ndarray:
    """One BGR uint8 image -> the (h, w, channels) float32 input evaluate classifies and
    explains: render's input (CamModel.prepare) without its batch axis.

    Per-image checks (tests, the window re-explaining one image) use this too, so their
    results are the batch's results.
    """
    resized = resized_for_network(model, image_bgr)
    return np.ascontiguousarray(model.preprocess(resized), dtype=np.float32)


def batch_capacity(model: CamModel, shape: tuple[int, ...], batch_size: int) -> int:
    """How many inputs of `shape` make one batch: `batch_size` inputs of the model's square
    size, or as many of a larger input as fit in the same pixels (at least one). A network's
    working memory grows with the pixels in a batch (EfficientNet's widest layer is about
    100 MB for 16 inputs of 224x224), so a set of long panoramas must not multiply it."""
    side = min(model.input_size)
    return max(1, batch_size * side * side // (shape[0] * shape[1]))


def padded_size(n: int, batch_size: int) -> int:
    """The batch a partial batch of n is padded to: the next power of two, at most
    batch_size. The compiled call takes any size, but TensorFlow and oneDNN keep buffers
    and kernels per input shape, so every distinct batch size of every bucket costs
    resident memory; with powers of two a set of any size sees a handful of sizes, for at
    most a doubling of a partial batch's work. OpenVINO's dynamic batch keeps them too
    (measured: every size 1..16 at five shapes, +164 MB over the powers of two alone)."""
    return min(batch_size, 1 << max(0, n - 1).bit_length())


def call_sizes(n: int, capacity: int) -> list[tuple[int, int]]:
    """The network calls a bucket of n same-shape inputs makes: (inputs, batch size) each.

    A full bucket is one call. A partial one (a set's last images of a shape, a Ray worker's
    share of one) is padded to the next power of two only when that wastes at most a fifth of
    the call; otherwise it is split into power-of-two calls (11 = 8 + 2 + 1), so no compute
    goes to padding: padding 9 images to 16 made a small set of mixed shapes pay for 40 %
    more images than it had. Every size stays a power of two (or the capacity), so the
    per-size buffers the runtimes keep stay few (see :func:`padded_size`)."""
    calls = []
    while n > 0:
        padded = padded_size(n, capacity)
        if padded >= n and 5 * (padded - n) <= padded:
            calls.append((n, padded))
            break
        take = min(capacity, 1 << (n.bit_length() - 1))
        calls.append((take, take))
        n -= take
    return calls


def batch_logits(model: CamModel) -> Callable[[np.ndarray], np.ndarray]:
    """The model's scores for a batch of same-shape inputs, one compiled call (built once per
    model and kept with its other compiled functions), or one call of the model's faster
    runtime (OpenVINO), which takes any batch."""
    if model.runtime.name != TENSORFLOW:
        return lambda x: model.forward(x, borrow=True)[1].copy()  # not the activations

    def build():
        import tensorflow as tf

        # The scores the maps use (before a final softmax; a binary output as two classes),
        # as the other runtimes give them.
        feature_model = model.feature_model
        # The model's own input spec (fixed size, channels) with any batch size.
        spec = tf.TensorSpec([None, *model.input_spec.shape[1:]], tf.float32)

        @tf.function(input_signature=[spec], reduce_retracing=True)
        def run(x):
            return feature_model(x, training=False)[1]

        return lambda x: run(x).numpy()

    return model.compiled_once(("evaluate", "batch-logits"), build)


def batch_views(model: CamModel) -> Callable[[np.ndarray, np.ndarray], tuple]:
    """The batch's scores, its read-layer activations globally pooled, and for a CAM head
    the map of each image's true class, from one forward pass: CAM is the read activations
    weighted by the head (SqueezeNet: the class's own channel), so the set views cost no
    second pass. A gradient-only head gets no map here (see :func:`true_class_maps`). One
    compiled call, or the model's other runtime (OpenVINO) and the same sums in numpy."""
    if model.runtime.name != TENSORFLOW:
        return lambda x, targets: views_of(model, *model.forward(x), targets)

    def build():
        import tensorflow as tf

        feature_model, head = model.feature_model, model.head
        spec = tf.TensorSpec([None, *model.input_spec.shape[1:]], tf.float32)
        fc = None if model.fc_weights is None else tf.constant(model.fc_weights, tf.float32)

        @tf.function(input_signature=[spec, tf.TensorSpec([None], tf.int32)],
                     reduce_retracing=True)
        def run(x, targets):
            features, logits = feature_model(x, training=False)
            pooled = tf.reduce_mean(features, axis=[1, 2])
            if head is HeadKind.DIRECT:
                maps = tf.gather(features, targets, axis=3, batch_dims=1)
            elif fc is not None:
                weights = tf.transpose(tf.gather(fc, targets, axis=1))  # (n, k)
                maps = tf.einsum("nhwk,nk->nhw", features, weights)
            else:
                maps = tf.zeros([tf.shape(x)[0], 1, 1])
            return logits, pooled, maps

        return lambda x, targets: tuple(t.numpy() for t in run(x, targets))

    return model.compiled_once(("evaluate", "batch-views"), build)


def views_of(model: CamModel, features: np.ndarray, logits: np.ndarray,
             targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """batch_views' sums on a forward pass's numpy outputs (another runtime's)."""
    pooled = features.mean(axis=(1, 2))
    if model.head is HeadKind.DIRECT:
        maps = np.take_along_axis(features, targets[:, None, None, None], axis=3)[..., 0]
    elif model.fc_weights is not None:
        maps = np.einsum("nhwk,kn->nhw", features, model.fc_weights[:, targets])
    else:
        maps = np.zeros((len(features), 1, 1), np.float32)
    return logits, pooled, maps


def true_class_maps(model: CamModel, inputs: np.ndarray, targets: Sequence[int],
                    cam_maps: np.ndarray) -> list[np.ndarray]:
    """Each image's map of its true class: the batch's CAM for a CAM head, else one Grad-CAM
    (one forward and one backward) per image."""
    from camview.maps import GradCAM, make_method

    if model.head in (HeadKind.DIRECT, HeadKind.FC) or not GradCAM.serves_model(model):
        # CAM's; a model without a backward pass under a non-linear head has no class map
        # to give here (flat maps), only its scores
        return list(cam_maps)

    method = model.compiled_once(("evaluate", "where-gradcam"),
                                 lambda: make_method("gradcam", model))
    return [method.explain(x[None], int(t)).cam for x, t in zip(inputs, targets, strict=True)]
