"""Sanity checks for maps (Adebayo et al. 2018): does a map change when the network does?

Cascading model-parameter randomisation: on a COPY of the model (Keras clone_model, then
the trained weights copied in; the user's model is never touched), the layers with weights
are re-initialised top-down in STEPS groups (the head after the read layer first, then the
last blocks, ..., the stem last), and after each group every method maps the same class on
the same input again. A map that explains the network should drift away from the original
as more of the network turns random; a map that stays the same shows the image (edges,
contrast), not what the network learnt. Similarity to the original map is measured twice:
Spearman rank correlation of the absolute maps (the paper's main measure) and SSIM of the
two maps min-max normalised at one common size.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from camview.drawing.colour import compose_blend
from camview.drawing.layout import compose_grid
from camview.drawing.text import draw_banner
from camview.maps import Cancelled, make_method, method_class
from camview.models.base import CamModel

STEPS = 5
SEED = 2018
#: Spearman after the last step above this: the map "barely changes". The paper's
#: Guided Backprop stays near 0.8-0.9 while Grad-CAM falls below 0.2.
BARELY = 0.5
#: Maps are compared by SSIM at this size (width, height): coarse maps are enlarged to it,
#: pixel-level ones shrunk, so all methods are judged at one scale.
SSIM_SIZE = (64, 64)

#: progress(done, total): after each map (STEPS x methods of them).
Progress = Callable[[int, int], None]


@dataclass
class SanityResult:
    """Per randomisation step: the layers randomised so far, and per method the maps and
    their similarity to the original (index 0 of `maps` is the original)."""

    target: int
    steps: list[list[str]]  # cumulative layer names per step
    step_names: list[str]  # a short name per step: "head", "blocks 13-16", ...
    maps: dict[str, list[np.ndarray]]  # method -> [original, after step 1, ...]
    spearman: dict[str, list[float]]
    ssim: dict[str, list[float]]

    def verdict(self, method: str) -> str:
        """One line: does the method's map depend on the network's weights?"""
        last = self.spearman[method][-1]
        if last > BARELY:
            return (f"{method}: barely changes: it shows the image more than the network "
                    f"(Spearman {last:.2f} after randomising every layer)")
        return (f"{method}: changes with the network (Spearman {last:.2f} after randomising "
                "every layer)")

    def as_json(self) -> dict:
        return {"target": self.target, "steps": self.steps, "step_names": self.step_names,
                "methods": {m: {"spearman": [round(v, 4) for v in self.spearman[m]],
                                "ssim": [round(v, 4) for v in self.ssim[m]]}
                            for m in self.maps}}


def weighted_layers(keras_model) -> list:
    """Layers holding a kernel (convolutions, depthwise convolutions, dense), in graph order,
    nested models walked: the layers whose learnt weights the test replaces."""
    out = []
    for layer in keras_model.layers:
        if hasattr(layer, "layers"):  # a nested model
            out.extend(weighted_layers(layer))
        elif any(w.ndim >= 2 for w in layer.get_weights()):
            out.append(layer)
    return out


def cascade(layers: list, head: set[str], steps: int = STEPS) -> list[list]:
    """Groups of layers to randomise, top-down: the head (the layers after the read layer)
    first, then the rest from the top in steps - 1 groups of about equal size."""
    top = [layer for layer in layers if layer.name in head][::-1]
    rest = [layer for layer in layers if layer.name not in head][::-1]
    parts = max(1, steps - (1 if top else 0))
    groups = [list(g) for g in np.array_split(np.array(rest, dtype=object), parts) if len(g)]
    return ([top] if top else []) + groups


def copy_model(model: CamModel) -> CamModel:
    """A CamModel over a clone of model's network with the same weights (new variables: the
    original's stay as they are; an ONNX model's graph copied)."""
    import keras

    if model.keras_model is None:  # an ONNX graph (camview.models.onnx_model)
        return model.copy()
    clone = keras.models.clone_model(model.keras_model, clone_function=_fresh_layer)
    clone.set_weights(model.keras_model.get_weights())
    return CamModel(f"{model.name} (copy)", clone, labels=model.labels,
                    input_size=model.input_size, resize=model.resize,
                    preprocess=model.preprocess, read_layer=model.read_layer,
                    fixed_input=model.fixed_input)


def _fresh_layer(layer):
    """A new layer from `layer`'s config (what clone_model does by default), retried with
    only the keys its __init__ takes when the config holds others: Keras Hub's
    ViTPatchingAndEmbedding writes num_patches and num_positions, which it computes and does
    not take (its own loading rebuilds it from the backbone's arguments, never from its
    config)."""
    import inspect

    config = layer.get_config()
    try:
        return layer.__class__.from_config(config)
    except (TypeError, ValueError):
        taken = inspect.signature(layer.__class__.__init__).parameters
        base = {"name", "trainable", "dtype"}
        return layer.__class__.from_config({k: v for k, v in config.items()
                                            if k in taken or k in base})


def randomise(layer, rng: np.random.Generator) -> None:
    """New weights for one layer: each array a fixed-seed normal of its own spread (its
    standard deviation; the array's mean kept), the same scale as the trained weights so
    activations neither vanish nor explode."""
    layer.set_weights([
        (w.mean() + w.std() * rng.standard_normal(w.shape)).astype(w.dtype) if w.size > 1
        else w for w in layer.get_weights()])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of |a| and |b| (same shape), ties ranked by their mean;
    0 when either is constant (nothing to rank)."""
    from scipy.stats import rankdata

    ra = rankdata(np.abs(a).ravel())
    rb = rankdata(np.abs(b).ravel())
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def ssim(a: np.ndarray, b: np.ndarray, size: tuple[int, int] = SSIM_SIZE) -> float:
    """Mean SSIM (Wang et al. 2004) of two maps, each min-max normalised to [0, 1] and
    resized to `size`: a Gaussian window of sigma 1.5 (11 x 11), K1 0.01, K2 0.03, the
    borders the window does not cover dropped, as scikit-image's structural_similarity
    with gaussian_weights=True computes it. Written here with OpenCV because scikit-image
    is only a test dependency (tests compare the two)."""

    def prepared(m: np.ndarray) -> np.ndarray:
        m = np.nan_to_num(np.asarray(m, np.float64))
        m = cv2.resize(m, size, interpolation=cv2.INTER_AREA if m.shape[1] > size[0]
                       else cv2.INTER_LINEAR)
        span = np.ptp(m)
        return (m - m.min()) / span if span > 0 else np.zeros_like(m)

    x, y = prepared(a), prepared(b)
    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def blur(m: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(m, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s[5:-5, 5:-5].mean())


def step_name(group: list, layers: list, head: set[str]) -> str:
    """A short name for a step: "head" or the span of layer positions it covers."""
    if group and all(layer.name in head for layer in group):
        return "head"
    index = {id(layer): i for i, layer in enumerate(layers)}
    positions = sorted(index[id(layer)] for layer in group)
    if positions[0] == 0:
        return f"stem: layers 1-{positions[-1] + 1}"
    return f"layers {positions[0] + 1}-{positions[-1] + 1}"


def sanity_check(model: CamModel, batch: np.ndarray, methods: list[str],
                 target: int | None = None, *, steps: int = STEPS, seed: int = SEED,
                 options: dict | None = None, progress: Progress | None = None,
                 cancel: threading.Event | None = None) -> SanityResult:
    """Cascading randomisation of a copy of `model`; each method's map of `target` (None:
    the model's top-1 on `batch`) after each step, compared with the original's.

    Raises camview.maps.Cancelled when `cancel` is set (checked between maps)."""
    options = options or {}
    copy = copy_model(model)
    explainers = {name: make_method(name, copy, None, **options) for name in methods}
    names = {name: method_class(name).name for name in methods}
    originals = {}
    for name, explainer in explainers.items():
        result = explainer.explain(batch, target)
        target = result.target if target is None else target
        originals[names[name]] = result.cam
    graph = getattr(copy, "graph", None) if copy.keras_model is None else None
    if graph is not None:  # an ONNX graph: its weighted nodes, randomised in the copy
        layers, head = graph.weighted_layers(), graph.head_layers(copy.read_layer)
    else:
        layers, head = weighted_layers(copy.keras_model), _head_names(copy)
    groups = cascade(layers, head, steps)
    rng = np.random.default_rng(seed)
    maps = {names[n]: [originals[names[n]]] for n in methods}
    done_layers: list[str] = []
    history: list[list[str]] = []
    total, done = len(groups) * len(methods), 0
    for group in groups:
        for layer in group:
            if graph is not None:
                graph.randomise(layer, rng)
            else:
                randomise(layer, rng)
            done_layers.append(layer.name)
        history.append(list(done_layers))
        if graph is not None:  # OpenVINO compiled the weights in: compile the copy anew
            copy = copy.copy(graph)
            explainers = {name: make_method(name, copy, None, **options) for name in methods}
        for name, explainer in explainers.items():
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"stopped after {done} of {total} maps")
            maps[names[name]].append(explainer.explain(batch, target).cam)
            done += 1
            if progress is not None:
                progress(done, total)
    return SanityResult(
        target=int(target), steps=history,
        step_names=[step_name(g, layers, head) for g in groups], maps=maps,
        spearman={m: [spearman(v[0], x) for x in v[1:]] for m, v in maps.items()},
        ssim={m: [ssim(v[0], x) for x in v[1:]] for m, v in maps.items()})


def figure(frame_bgr: np.ndarray, result: SanityResult, *, height: int = 160,
           box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The paper's Figure 2 for one input: a row per method, a column per step (the
    original first), each |map| scaled by its own maximum (the pixel-level maps by their
    99th percentile, as they are drawn) and blended over the frame, titled
    with the step and its Spearman correlation to the original. `box` (top, left, bottom,
    right; CamModel.map_box): the maps cover only that region, a centre crop the model was
    fed, and are drawn over it alone, in its own shape."""
    if box is not None:
        top, left, bottom, right = box
        frame_bgr = frame_bgr[top:bottom, left:right]
    h, w = frame_bgr.shape[:2]
    small = cv2.resize(frame_bgr, (max(1, round(w * height / h)), height),
                       interpolation=cv2.INTER_AREA)
    panels = []
    for method, maps in result.maps.items():
        clip = method_class(method).clip_percentile  # pixel-level maps: capped, as drawn
        for i, cam in enumerate(maps):
            magnitude = np.abs(np.nan_to_num(np.asarray(cam, np.float32)))
            top = float(magnitude.max() if clip is None else np.percentile(magnitude, clip))
            magnitude = np.minimum(magnitude, top)
            title = (f"{method}: original" if i == 0 else
                     f"{result.step_names[i - 1]}: {result.spearman[method][i - 1]:.2f}")
            try:
                view = compose_blend(small, magnitude / top if top > 0 else magnitude,
                                     alpha=0.5, absolute=True)
            except ValueError as exc:  # NaN in a map of a randomised network
                view = draw_banner(small.copy(), str(exc))
            panels.append((title, view))
    return compose_grid(panels, columns=len(result.step_names) + 1)


def _head_names(model: CamModel) -> set[str]:
    """Names of the weighted layers after the read layer in graph order (the head: the
    dense layer of a pooled classifier); nested models are walked in order too."""
    order: list = []

    def walk(net) -> None:
        for layer in net.layers:
            if hasattr(layer, "layers"):
                walk(layer)
            else:
                order.append(layer)

    walk(model.keras_model)
    read = model.read_layer.split("/")[-1]
    names = [layer.name for layer in order]
    if read not in names:  # a nested base read as a whole: the head is what follows it
        top = [layer.name for layer in model.keras_model.layers]
        if read not in top:
            return set()
        after = model.keras_model.layers[top.index(read) + 1:]
        return {layer.name for layer in after if any(w.ndim >= 2 for w in layer.get_weights())}
    after = order[names.index(read) + 1:]
    return {layer.name for layer in after if any(w.ndim >= 2 for w in layer.get_weights())}
