"""Attention rollout and gradient-weighted rollout: maps of a vision transformer read from its
attention, not from a layer's activations.

Both multiply the blocks' attention through the network, so a patch token's share of what
the output token sees is counted through every block. The output token's row is read over
the patch tokens: the class token's row when the head reads the class token; the mean over
all rows when the head averages the tokens (no class token: every token is the output's in
equal part). The grid is the model's token grid (camview.models.tokens). `--layer` does not
apply: every block is used.
"""

from __future__ import annotations

import threading

import numpy as np

from camview.errors import ModelError
from camview.maps.base import NO_BACKWARD, MapResult, Method, Progress
from camview.maps.read_pass import pick_class
from camview.models.base import CamModel
from camview.models.tokens import TokenGrid


def rolled_out_row(attention: list[np.ndarray], pooling: str) -> np.ndarray:
    """The output token's row of R = Â_L ... Â_1, Â_b = norm_rows(mean_h A_b + I)
    (Rollout's docstring), in float64, from each block's attention probabilities (heads, N,
    N) of one input: row 0 when the head reads the class token, else the mean of the rows.
    The one roll-out every runtime's rollout uses (a Keras model's attention_pass, an ONNX
    model's attention outputs).

    Only that row is read, so it is carried through the blocks from the last to the first,
    a row times a matrix each (N^2 a block; the whole product is N^3: 6.8 ms of a
    ViT-Tiny's 59 at 197 tokens and 12 blocks, where the row takes 2 ms)."""
    n = attention[0].shape[-1]
    if pooling == "class token":
        row = np.zeros(n)
        row[0] = 1.0
    else:
        row = np.full(n, 1.0 / n)
    for probabilities in reversed(attention):
        a = np.asarray(probabilities).mean(axis=0, dtype=np.float64)
        a[np.diag_indices(n)] += 1.0  # + I, the residual
        row = (row / a.sum(axis=-1)) @ a  # row @ norm_rows(a)
    return row


def on_grid(row: np.ndarray, grid: TokenGrid) -> np.ndarray:
    """A row over the tokens as its patch tokens' (gh, gw) map."""
    return row[grid.prefix:].reshape(grid.grid).astype(np.float32)


class _AttentionMethod(Method):
    """A map made from every block's attention probabilities (model.attention_pass)."""

    needs_attention = True  # see Method.needs_attention

    def __init__(self, model: CamModel, layer: str | None = None, **options: object) -> None:
        found = model.transformer
        if found is None:
            raise ModelError(f"{self.title} maps vision transformers (attention over patch "
                             f"tokens); {model.name} has no attention layers: use Grad-CAM or "
                             "another map method",
                             window_hint=f"{self.title} needs a vision transformer")
        if not found.attention:
            raise ModelError(f"{self.title} needs attention over all the tokens; "
                             f"{model.name} attends in windows (Swin-style)")
        super().__init__(model, layer, **options)

    @classmethod
    def applies_to(cls, model: CamModel) -> str | None:
        if model.transformer is None:
            return "not a vision transformer"
        if not model.transformer.attention:
            return "attention in windows"
        return None

    def _cache_key(self) -> tuple:
        return (type(self).__name__,)  # every block, whatever the read layer

    def _compile(self):
        import tensorflow as tf

        body = self._map

        @tf.function(input_signature=[self.model.input_spec, tf.TensorSpec([], tf.int32)])
        def run(x, target):
            return body(None, x, target)

        return run

    def _output_row(self, relevance):
        """TF ops: the output token's row of `relevance` (N, N) over the patch tokens, as
        the (gh, gw) grid (module docstring)."""
        import tensorflow as tf

        grid = self.model.transformer.grid
        if self.model.transformer.pooling == "class token":
            row = relevance[0]
        else:
            row = tf.reduce_mean(relevance, axis=0)
        return tf.reshape(row[grid.prefix:], grid.grid)


class Rollout(_AttentionMethod):
    """Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in
    Transformers").

    Each block b's attention probabilities averaged over heads, with the residual
    connection as the identity, rows renormalised: Â_b = norm_rows(mean_h A_b + I). They are
    multiplied through the blocks, R = Â_L ... Â_2 Â_1, and the output token's row of R is
    read over the patch tokens: row 0 (the class token) when the head reads the class token;
    for a model without one, whose head averages the tokens, the mean of R's rows. No
    gradient, so the map is the same for every class (the class is reported, not used).
    Raw map: that row on the token grid (non-negative, rows of R sum to 1).
    """

    name = "rollout"
    title = "Attention rollout"
    summary = "attention multiplied through the blocks (vision transformers); no class"
    paper = "Abnar & Zuidema 2020"
    class_agnostic = True

    def runs_on_forward_runtime(self) -> bool:
        """Forward passes only: an ONNX ViT's attention is read as extra graph outputs."""
        return True

    def _compile(self):
        """x -> [scores, each block's attention probabilities]: rolled out in numpy."""
        import tensorflow as tf

        return tf.function(self.model.attention_pass, input_signature=[self.model.input_spec])

    def _map(self, feature_model, x, target):  # unused: explain rolls out in numpy
        raise NotImplementedError

    def explain(self, batch: np.ndarray, target: int | None = None, *,
                progress: Progress | None = None,
                cancel: threading.Event | None = None) -> MapResult:
        if self.model.can_backward:
            scores, *attention = (np.asarray(t) for t in self._run(batch))
        else:  # an ONNX ViT on OpenVINO: the Softmax outputs of its graph
            scores, attention = self.model.attention_probabilities(batch)
        logits = scores[0].astype(np.float32)
        found = self.model.transformer
        cam = on_grid(rolled_out_row([a[0] for a in attention], found.pooling), found.grid)
        c = int(np.argmax(logits)) if target is None or target < 0 else int(target)
        return MapResult(cam, logits, c, self.clip_percentile)


class GradientRollout(_AttentionMethod):
    """Gradient-weighted attention rollout (Chefer, Gur & Wolf 2021, "Generic
    Attention-model Explainability for Interpreting Bi-Modal and Encoder-Decoder
    Transformers").

    Each block's attention probabilities A_b weighted by their gradient, the positive part
    kept, averaged over the heads: Ā_b = mean_h ReLU(dS_c/dA_b ⊙ A_b). They are rolled out
    with the residual as the identity, R_0 = I, R_b = R_{b-1} + Ā_b R_{b-1}, and the output
    token's row of R_L is read over the patch tokens as in rollout (the class token's row,
    or the mean of the rows for a head that averages the tokens). The gradient makes it the
    map of class c. Raw map: that row on the token grid, non-negative (it includes the
    identity's share, the same for every patch token, which the drawn map's scaling
    removes).
    """

    name = "gradient-rollout"
    title = "Gradient rollout"
    summary = "attention weighted by its gradient, rolled out (vision transformers)"
    paper = "Chefer et al. 2021"

    @classmethod
    def applies_to(cls, model: CamModel) -> str | None:
        return super().applies_to(model) or (None if model.can_backward else NO_BACKWARD)

    def _map(self, feature_model, x, target):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            scores, *attention = self.model.attention_pass(x)
            logits = scores[0]
            c = pick_class(logits, target)
            score = tf.gather(logits, c)
        grads = tape.gradient(score, attention)
        n = tf.shape(attention[0])[-1]
        relevance = tf.eye(n, dtype=tf.float32)
        for probabilities, grad in zip(attention, grads, strict=True):
            weighted = tf.nn.relu(tf.cast(grad[0] * probabilities[0], tf.float32))
            relevance = relevance + tf.matmul(tf.reduce_mean(weighted, axis=0), relevance)
        return self._output_row(relevance), logits, c
