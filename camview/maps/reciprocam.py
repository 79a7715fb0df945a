"""Recipro-CAM (Byun & Lee 2022): the head alone, shown the read layer one place at a time."""

from __future__ import annotations

import threading

import numpy as np

from camview.errors import ModelError
from camview.maps.base import MapResult, Method, Progress, served_methods
from camview.maps.closed_form import CLOSED_FORM_HEADS
from camview.maps.read_pass import pick_class
from camview.models.base import CamModel

#: The paper's 3x3 Gaussian, [1 2 1; 2 4 2; 1 2 1] / 16, the weight each mask gives a cell
#: and its eight neighbours: [1 2 1] / 4 down the rows times the same along them.
ROW = np.array([1, 2, 1], np.float32) / 4.0
KERNEL = np.outer(ROW, ROW)
#: Masked copies per call of the head, in bytes: SqueezeNet's 169 full-size copies of its
#: 13x13x1000 activations would be 114 MB at once (a 'shorter' 16:9 input more).
CHUNK_BYTES = 16 * 2**20


class ReciproCAM(Method):
    """Recipro-CAM (Byun & Lee 2022): the class's probability when the head sees the read
    layer's activations only around one position.

    For each position (i, j) of the activations A (h, w, k) the mask M_ij is the kernel G =
    [1 2 1; 2 4 2; 1 2 1] / 16 centred on (i, j), cut at the map's edges, zero elsewhere; the
    head alone (the layers after the read layer: CamModel.head_scores) scores the h*w masked
    copies A * M_ij in batched calls, the network before the read layer having run once.
    Raw map: p_c(head(A * M_ij)) at (i, j), the class's softmax probability, at the read
    layer's resolution (the overlay min-max normalises it, as the paper does). No gradient,
    so it serves every head and a forward-only runtime.

    Behind a head that starts with global average pooling (direct, fc) a copy pools to
    sum_ab M_ij[a, b] A[a, b] / (h w) = (G * A)[i, j] / (h w), the activations blurred by G:
    the copies are given to the head as those 1x1 maps, exactly the same scores for h*w
    vectors' work (OpenVINO-XAI calls this its GAP optimisation).

    The mask keeps each neighbour's own activations, weighted (the masking of OpenVINO-XAI's
    Gaussian Recipro-CAM); the authors' first CNN code spread the centre's activation vector
    over the 3x3 cells instead, and their later code keeps the centre cell alone.

    Over a vision transformer's tokens (an ONNX ViT, whose head is not a closed form) it is
    ViT-Recipro-CAM (Byun & Lee 2023): the patch tokens entering the last block, on their
    grid, masked by M_ij as above (the class, distillation and register tokens kept whole),
    each masked sequence run through the last block, the final norm and the head (cut out
    of the graph: OnnxCamModel.token_head_scores). Raw map: p_c at (i, j) on the token grid.
    """

    name = "reciprocam"
    title = "Recipro-CAM"
    summary = ("the class's probability when the head sees the activations around one place "
               "at a time; no gradient, any head")
    paper = "Byun & Lee 2022"

    def __init__(self, model: CamModel, layer: str | None = None) -> None:
        if getattr(model, "transformer", None) is not None and (why := self.applies_to(model)):
            raise ModelError(f"Recipro-CAM cannot map {model.name}: {why}; use "
                             f"{', '.join(served_methods(model))}",
                             window_hint=f"Recipro-CAM cannot map {model.name} ({why})")
        chosen = layer or model.read_layer
        # The layer found before the head; a model without one maps only the layer named.
        default = getattr(model, "default_layer", None) or model.read_layer
        if chosen != default:
            raise ModelError(f"Recipro-CAM reads only the layer before the head ({default!r}), "
                             f"not {chosen!r}: at an earlier layer the rest of the network "
                             "would run once per position; use --method gradcam or layercam "
                             "for that layer")
        super().__init__(model, layer)

    @classmethod
    def applies_to(cls, model: CamModel) -> str | None:
        """A vision transformer's masked tokens need the blocks after the read layer run per
        position (ViT-Recipro-CAM), not done here; at the tokens an averaging head pools
        (an fc head, --layer that layer) it is the CNN method."""
        if (getattr(model, "transformer", None) is not None
                and model.head not in CLOSED_FORM_HEADS
                and not hasattr(model, "token_head_scores")):
            return ("over a Keras vision transformer's tokens it is ViT-Recipro-CAM (the last "
                    "block run per masked position), not available yet (it is for ONNX ViTs)")
        return super().applies_to(model)

    def over_tokens(self) -> bool:
        """ViT-Recipro-CAM: a vision transformer whose head is not a closed form, its last
        block and head run on masked tokens (an ONNX ViT: token_head_scores)."""
        return (getattr(self.model, "transformer", None) is not None
                and self.model.head not in CLOSED_FORM_HEADS)

    def _map(self, feature_model, x, target):  # unused: explain reads model.forward
        features, logits = feature_model(x, training=False)
        return features[0], logits[0], pick_class(logits[0], target)

    def runs_on_forward_runtime(self) -> bool:
        """The forward pass runs on the model's runtime; so does all the work when the head
        is computed in numpy (direct, fc), not TensorFlow, or by OpenVINO (an ONNX model's
        head_scores, any head)."""
        return self.model.head in CLOSED_FORM_HEADS or not self.model.can_backward

    @classmethod
    def forward_only(cls, head) -> bool:
        return True  # the head alone, forward: any head of a model without a backward pass

    def explain(self, batch: np.ndarray, target: int | None = None, *,
                progress: Progress | None = None,
                cancel: threading.Event | None = None) -> MapResult:
        if self.over_tokens():
            return self._explain_tokens(batch, target)
        features, scores = self.model.forward(batch, borrow=True)  # read before returning
        features, logits = features[0], scores[0].copy()
        c = int(np.argmax(logits)) if target is None or target < 0 else int(target)
        cam = self.cell_probabilities(features)[:, c].reshape(features.shape[:2])
        return MapResult(cam.astype(np.float32), logits, c)

    def _explain_tokens(self, batch: np.ndarray, target: int | None) -> MapResult:
        """ViT-Recipro-CAM (Byun & Lee 2023): the patch tokens entering the last block
        masked per grid cell with KERNEL as the CNN method masks a map (the class, distillation
        and register tokens kept whole), each masked sequence run through the last block and
        the head; the class's probability at each cell. The masked tokens are the block's
        input (its residual stream, normalised inside the block), so the cut-out graph reads
        them alone."""
        model = self.model
        found = model.transformer
        scores, tokens = model.token_pass(batch)
        logits = scores[0].astype(np.float32)
        c = int(np.argmax(logits)) if target is None or target < 0 else int(target)
        front, patches = tokens[0, :found.grid.prefix], found.grid.fold(tokens[0])
        h, w, k = patches.shape
        per_call = max(1, CHUNK_BYTES // (found.grid.tokens * k * 4))
        out = []
        for start in range(0, h * w, per_call):
            masked = masked_copies(patches, start, min(start + per_call, h * w))
            sequences = np.concatenate([np.broadcast_to(front, (len(masked), *front.shape)),
                                        masked.reshape(len(masked), h * w, k)], axis=1)
            out.append(model.token_head_scores(sequences))
        cam = row_softmax(np.concatenate(out))[:, c].reshape(h, w)
        return MapResult(cam.astype(np.float32), logits, c)

    def cell_probabilities(self, features: np.ndarray) -> np.ndarray:
        """(h*w, classes): every class's softmax probability for each position's masked copy
        of one input's activations (h, w, k), positions in row-major order."""
        h, w, k = features.shape
        if self.model.head in CLOSED_FORM_HEADS:  # pooled copies, 1x1 maps (class docstring)
            pooled = blurred(features) / (h * w)
            scores = self.model.head_scores(pooled.reshape(h * w, 1, 1, k))
        else:
            per_call = max(1, CHUNK_BYTES // (h * w * k * 4))
            scores = np.concatenate([
                self.model.head_scores(masked_copies(features, start, min(start + per_call,
                                                                          h * w)))
                for start in range(0, h * w, per_call)])
        return row_softmax(scores)


def blurred(features: np.ndarray) -> np.ndarray:
    """The activations (h, w, k) correlated with KERNEL, zero outside the map: ROW down the
    rows, then along them, each three shifted sums (cv2.filter2D would take at most 512
    channels; SqueezeNet has 1000)."""
    a = np.asarray(features, np.float32)
    rows = ROW[1] * a
    rows[1:] += ROW[0] * a[:-1]
    rows[:-1] += ROW[2] * a[1:]
    out = ROW[1] * rows
    out[:, 1:] += ROW[0] * rows[:, :-1]
    out[:, :-1] += ROW[2] * rows[:, 1:]
    return out


def masked_copies(features: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Positions start..stop-1 (row-major) of the activations (h, w, k), each a copy masked
    by KERNEL centred there: (stop - start, h, w, k), zero outside each 3x3 window."""
    h, w, k = features.shape
    out = np.zeros((stop - start, h, w, k), np.float32)
    for row, cell in enumerate(range(start, stop)):
        i, j = divmod(cell, w)
        y0, y1, x0, x1 = max(i - 1, 0), min(i + 2, h), max(j - 1, 0), min(j + 2, w)
        weights = KERNEL[y0 - i + 1:y1 - i + 1, x0 - j + 1:x1 - j + 1, None]
        out[row, y0:y1, x0:x1] = features[y0:y1, x0:x1] * weights
    return out


def row_softmax(scores: np.ndarray) -> np.ndarray:
    """Each row's softmax."""
    z = np.array(scores, np.float32)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z
