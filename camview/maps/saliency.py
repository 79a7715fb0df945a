"""Input-gradient maps: vanilla saliency, SmoothGrad, and Guided Grad-CAM's guided backprop.

These differentiate the class score all the way back to the input pixels, so their maps have
the network input's resolution (h, w of the prepared input, not of the read layer) and cost a
full backward pass: a few forward passes each (SmoothGrad: one batched call of n samples).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from camview.maps.base import MapResult, Method
from camview.maps.gradient import GradCAM, weighted_sum
from camview.maps.options import MethodOption
from camview.maps.read_pass import forward_backward, pick_class

#: Activations whose backward pass guided backpropagation changes (Keras names).
RELU_FAMILY = ("relu", "relu6")


def input_gradient(feature_model, x, target):
    """TF ops: (dS_c/dx (h, w, 3), scores, class) for one input, through the whole net."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        _, logits = feature_model(x, training=False)
        c = pick_class(logits[0], target)
        score = tf.gather(logits[0], c)
    return tape.gradient(score, x)[0], logits[0], c


def gradient_magnitude(grads):
    """TF ops: the largest |gradient| over the colour channels, (h, w) (Simonyan et al.)."""
    import tensorflow as tf

    return tf.reduce_max(tf.abs(grads), axis=-1)


class Saliency(Method):
    """Vanilla saliency (Simonyan et al. 2014): how much each pixel moves the class score.

    Raw map: max over colour channels of |dS_c/dx|, with S_c the pre-softmax score, at the
    network input's resolution.
    """

    name = "saliency"
    title = "Saliency"
    summary = "gradient of the class score at each input pixel; sharp but noisy"
    paper = "Simonyan et al. 2014"
    clip_percentile = 99.0

    def _map(self, feature_model, x, target):
        grads, logits, c = input_gradient(feature_model, x, target)
        return gradient_magnitude(grads), logits, c


class SmoothGrad(Method):
    """SmoothGrad (Smilkov et al. 2017): the input gradient averaged over noisy copies.

    ``samples`` copies of the input plus Gaussian noise of standard deviation ``sigma`` times
    the input's value range go through the network in batches of CHUNK; the clean input's
    scores pick the class and are the ones reported. The
    noise is drawn with a fixed seed, so a still frame gives a still map. Raw map: max over
    colour channels of |mean over samples of dS_c/dx|, at the network input's resolution.
    """

    name = "smoothgrad"
    title = "SmoothGrad"
    summary = "saliency averaged over noisy copies of the frame: less speckle, n times the cost"
    paper = "Smilkov et al. 2017"
    live = False
    clip_percentile = 99.0
    options = (
        MethodOption("samples", int, 16, low=1, high=1024,
                     help="noisy copies of the frame averaged (batched backward passes)"),
        MethodOption("sigma", float, 0.15, low=0.0, high=1.0, label="Noise",
                     help="the noise's standard deviation, a fraction of the input's value "
                          "range"))
    samples: int
    sigma: float
    CHUNK = 4  # noisy copies per backward pass: 4 measured fastest of 1, 2, 4, 8, 16

    def _cache_key(self) -> tuple:
        return (*super()._cache_key(), self.samples, self.sigma)

    def noise(self, x):
        """TF ops: the (samples, h, w, 3) noise added to input x (1, h, w, 3)."""
        import tensorflow as tf

        spread = self.sigma * (tf.reduce_max(x) - tf.reduce_min(x))
        shape = tf.concat([[self.samples], tf.shape(x)[1:]], axis=0)
        return spread * tf.random.stateless_normal(shape, seed=[1, 2])

    def _map(self, feature_model, x, target):
        import tensorflow as tf

        # The clean row's scores from a plain forward pass (it needs no gradient), and the
        # noisy copies' gradients in chunks: both measured cheaper than one batch (README).
        _, clean = feature_model(x, training=False)
        c = pick_class(clean[0], target)
        noisy = x + self.noise(x)
        total = tf.zeros_like(x[0])
        for start in range(0, self.samples, self.CHUNK):
            chunk = noisy[start:start + self.CHUNK]
            with tf.GradientTape() as tape:
                tape.watch(chunk)
                _, logits = feature_model(chunk, training=False)
                # Rows are independent, so the gradient of the sum is each row's own gradient.
                score = tf.reduce_sum(tf.gather(logits, c, axis=1))
            total += tf.reduce_sum(tape.gradient(score, chunk), axis=0)
        return gradient_magnitude(total / self.samples), clean[0], c


@cache
def _positive_gradient_layer():
    """A Keras layer that passes its input on and lets only positive gradients back."""
    import keras
    import tensorflow as tf

    @tf.custom_gradient
    def positive_gradient(x):
        return tf.identity(x), lambda dy: tf.nn.relu(dy)

    class PositiveGradient(keras.layers.Layer):
        def call(self, x):
            return positive_gradient(x)

        def compute_output_shape(self, input_shape):
            return input_shape

    return PositiveGradient


def ends_in_relu(layer) -> bool:
    """Whether `layer`'s output is a ReLU's (a ReLU/ReLU6 layer, or relu as its activation)."""
    import keras

    if isinstance(layer, keras.layers.ReLU):
        return float(getattr(layer, "negative_slope", 0.0) or 0.0) == 0.0
    return getattr(getattr(layer, "activation", None), "__name__", "") in RELU_FAMILY


def guided_model(feature_model):
    """The same network with guided-backpropagation ReLUs, the user's model left as it is.

    Guided backprop lets a gradient through a ReLU only where the ReLU's input AND the
    gradient are positive. The ReLU's own backward pass already masks by its input (ReLU6:
    0 < z < 6), so it is enough to clip the gradient arriving at each ReLU output to its
    positive part: a pass-through layer with that gradient goes after every layer that ends
    in a ReLU (ReLU layers, and Conv/Dense layers with activation="relu", as in VGG16). The
    clone shares the original layers and weights (Keras `clone_model` with the identity
    clone function); nested models are walked too. Other activations (swish) keep their
    plain gradient.
    """
    import keras

    positive = _positive_gradient_layer()

    def call(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        return positive()(out) if ends_in_relu(layer) else out

    return keras.models.clone_model(feature_model, clone_function=lambda layer: layer,
                                    call_function=call, recursive=True)


class GuidedGradCAM(Method):
    """Guided Grad-CAM (Selvaraju et al. 2017): guided backprop times Grad-CAM.

    Guided backpropagation (Springenberg et al. 2015) sharpens the input gradient to the
    edges that raise the class score; Grad-CAM (at the read layer, upsampled bilinearly to
    the input) keeps it to the class's region. Raw map: max over colour channels of |guided
    dS_c/dx| times that upsampled Grad-CAM, at the network input's resolution. The guided
    network is a clone sharing the model's layers (see guided_model), built once per model.
    """

    name = "guided-gradcam"
    title = "Guided Grad-CAM"
    summary = "guided-backprop edges inside the Grad-CAM region: fine detail of the class"
    paper = "Selvaraju et al. 2017"
    clip_percentile = 99.0

    def _compile(self):
        self._guided = self.model.compiled_once(
            ("guided model",), lambda: guided_model(self.model.feature_model))
        return super()._compile()

    def _map(self, feature_model, x, target):
        features, grads, logits, _score, c = forward_backward(feature_model, x, target)
        guided, _, _ = input_gradient(self._guided, x, c)
        return (gradient_magnitude(guided), features, grads), logits, c

    def explain(self, batch: np.ndarray, target: int | None = None, **_on_demand) -> MapResult:
        import tensorflow as tf

        (guided, features, grads), logits, c = self._run(
            batch, np.int32(-1 if target is None else target))
        features, grads = features.numpy(), grads.numpy()
        cam = weighted_sum(features, GradCAM.weights(features, grads, None))  # Grad-CAM's
        up = tf.image.resize(cam[:, :, None], guided.shape[:2], method="bilinear")[:, :, 0]
        return MapResult(guided.numpy() * up.numpy(), logits.numpy(), int(c),
                         self.clip_percentile)
