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


def call_size(model: CamModel, shape: tuple[int, ...], batch_size: int) -> int:
    """The size of every network call over inputs of `shape`: a full batch
    (:func:`batch_capacity`), a partial one (a set's last images of a shape, a Ray worker's
    share of one) padded to it.

    One size per shape makes an image's result independent of the images that shared its
    call: measured for both runtimes, an image gives bitwise the same scores, features and
    map at any position among any neighbours in calls of one size, but calls of another size
    may take another kernel (TensorFlow's batch of one differs by ~2e-6, and other sizes by
    ~1e-7 at some shapes). A 1-ulp change in a pooled feature moves the whole t-SNE layout,
    so a resumed run, a run over Ray (each worker batching its own share) and a local run
    give the same JSON only so. One size per shape is also the fewest buffers the runtimes
    keep (they keep some per input shape and batch size). The cost: a partial batch computes
    its padding, once per shape at a set's end, once per shape per Ray task.

    On a runtime where batching does not pay (OpenVINO on a CPU: Forward.batching_pays) every
    call is of one input: the same independence with no padding at all. Padding there was
    pure waste: the demo set's 64 images fall in ten shapes, and full calls computed 119
    inputs for them. A batch there is still `batch_capacity` images, run as that many calls
    at once on the runtime's throughput streams (OpenVinoForward.start).
    """
    if not model.runtime.batching_pays:
        return 1
    return batch_capacity(model, shape, batch_size)


def batch_logits(model: CamModel) -> Callable[[np.ndarray], np.ndarray]:
    """The model's scores for a batch of same-shape inputs, one compiled call (built once per
    model and kept with its other compiled functions), or one call of the model's faster
    runtime (OpenVINO), which takes any batch."""
    if model.runtime.name != TENSORFLOW:
        return lambda x: _started_on_runtime(model, x, None, views=False)()[0]

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
        return lambda x, targets: _started_on_runtime(model, x, targets, views=True)()

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


def start_batch(model: CamModel, views: bool
                ) -> Callable[[np.ndarray, np.ndarray], Callable[[], tuple]]:
    """A batch's pass, started: (inputs, their true classes) -> a call giving the batch's
    outputs, :func:`batch_views`' with `views`, else its scores alone (a 1-tuple). TensorFlow
    computes them at once; OpenVINO on its throughput streams while the caller goes on
    (Forward.start), so classify_set explains one batch while the next computes."""
    if model.runtime.name == TENSORFLOW:
        run = batch_views(model) if views else batch_logits(model)

        def computed(x: np.ndarray, targets: np.ndarray) -> Callable[[], tuple]:
            outputs = run(x, targets) if views else (run(x),)
            return lambda: outputs

        return computed

    return lambda x, targets: _started_on_runtime(model, x, targets, views=views)


def _started_on_runtime(model: CamModel, x: np.ndarray, targets: np.ndarray | None, *,
                        views: bool) -> Callable[[], tuple]:
    """The pass on a runtime other than TensorFlow, started (Forward.start); called, its
    outputs as start_batch gives them, the views' sums made in numpy (:func:`views_of`)."""
    result = model.runtime.start(x)
    if views:
        return lambda: views_of(model, *result(), targets)
    return lambda: (result()[1],)


def views_of(model: CamModel, features: np.ndarray, logits: np.ndarray,
             targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """batch_views' sums on a forward pass's numpy outputs (another runtime's)."""
    pooled = features.mean(axis=(1, 2))
    if model.head is HeadKind.DIRECT:
        maps = np.take_along_axis(features, targets[:, None, None, None], axis=3)[..., 0]
    elif model.fc_weights is not None:
        # Each image's activations (h*w, k) times its class's weights (k, 1): one BLAS call
        # per image (np.einsum's own loop took three times as long).
        n, h, w, k = features.shape
        weights = np.ascontiguousarray(model.fc_weights[:, targets].T)[:, :, None]
        maps = np.matmul(features.reshape(n, h * w, k), weights).reshape(n, h, w)
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
