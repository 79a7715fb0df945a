"""Small vision transformers built from Keras layers, and the marked-images task one is
trained on: what the ViT tests (and scripts/vit_figure.py) share."""

from __future__ import annotations

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="camview_tests")
class ClassTokenAndPosition(keras.layers.Layer):
    """A class token and learned position embeddings: the one small custom layer a Keras
    ViT usually has (registered when this file is imported: `--import tests/vit_models.py`
    loads a saved model using it)."""

    def __init__(self, class_token: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.class_token = class_token

    def build(self, shape):
        n = shape[1] + (1 if self.class_token else 0)
        if self.class_token:
            self.cls = self.add_weight(shape=(1, 1, shape[2]), initializer="zeros", name="cls")
        self.position = self.add_weight(
            shape=(1, n, shape[2]), name="position",
            initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        if self.class_token:
            cls = keras.ops.broadcast_to(self.cls, (keras.ops.shape(x)[0], 1, x.shape[2]))
            x = keras.ops.concatenate([cls, x], axis=1)
        return x + self.position

    def get_config(self):
        return {**super().get_config(), "class_token": self.class_token}


def tiny_vit(size: int = 48, patch: int = 8, dim: int = 32, blocks: int = 2, heads: int = 2,
             classes: int = 2, class_token: bool = True, position: bool = True,
             seed: int = 0, softmax: bool = True):
    """A pre-norm ViT: Conv2D patch embedding, tokens (class token and position embedding
    through one small layer), blocks of LayerNormalization + MultiHeadAttention + MLP,
    pooling by the class token or by averaging, a dense head."""
    keras.utils.set_random_seed(seed)
    L = keras.layers
    inputs = keras.Input((size, size, 3), name="image")
    x = L.Conv2D(dim, patch, strides=patch, name="patch_embed")(inputs)
    x = L.Reshape(((size // patch) ** 2, dim), name="patches")(x)
    if class_token or position:
        x = ClassTokenAndPosition(class_token=class_token, name="tokens")(x)
    for b in range(1, blocks + 1):
        h = L.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm1")(x)
        h = L.MultiHeadAttention(heads, dim // heads, name=f"block{b}_attention")(h, h)
        x = L.Add(name=f"block{b}_add1")([x, h])
        h = L.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm2")(x)
        h = L.Dense(2 * dim, activation="gelu", name=f"block{b}_mlp1")(h)
        h = L.Dense(dim, name=f"block{b}_mlp2")(h)
        x = L.Add(name=f"block{b}_add2")([x, h])
    x = L.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = _first_token(x) if class_token else L.GlobalAveragePooling1D(name="average")(x)
    out = L.Dense(classes, activation="softmax" if softmax else None, name="predictions")(x)
    return keras.Model(inputs, out, name="tiny_vit")


def _first_token(x):
    """The class token's output, by slicing (a Keras op in the graph, as Keras Hub does)."""
    return x[:, 0]


def marked_images(n: int, size: int = 48, mark: int = 6, seed: int = 0, width: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n BGR uint8 noisy pictures (size x size, or size x `width`), half with a small bright
    square anywhere: (images, labels (1 = marked), the mark's top-left (y, x) or (-1, -1))."""
    rng = np.random.default_rng(seed)
    width = width or size
    images = rng.integers(40, 140, (n, size, width, 3)).astype(np.uint8)
    labels = np.arange(n) % 2
    where = np.full((n, 2), -1)
    for i in np.flatnonzero(labels):
        y, x = rng.integers(0, size - mark), rng.integers(0, width - mark)
        images[i, y:y + mark, x:x + mark] = (40, 230, 250)
        where[i] = (y, x)
    return images, labels, where


#: The marked-images task: SIZE x SIZE pictures, a MARK x MARK square in half of them.
SIZE, MARK, PATCH = 48, 6, 8


def unit_rgb(bgr: np.ndarray) -> np.ndarray:
    """The trained ViT's preprocessing: RGB scaled to 0..1."""
    return bgr[..., ::-1].astype(np.float32) / 255.0


def trained_marked_vit(seed: int = 0, images: int = 600, epochs: int = 20):
    """A 2-block ViT (8x8 patches of 48x48 pictures, dim 32, tokens averaged, no position
    embedding) trained, seeded, to tell pictures with the mark from those without: a
    CamModel with classes plain, marked. Some 15 s on one core."""
    from camview.models import CamModel, ResizeMode

    model = tiny_vit(SIZE, PATCH, dim=32, heads=2, class_token=False, position=False,
                     seed=seed, softmax=False)
    pictures, labels, _ = marked_images(images, SIZE, MARK, seed=seed + 1)
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(unit_rgb(pictures), labels, epochs=epochs, batch_size=32, verbose=0)
    return CamModel("marked-vit", model, labels=["plain", "marked"], input_size=(SIZE, SIZE),
                    resize=ResizeMode.SQUASH, preprocess=unit_rgb, fixed_input=True)


def on_the_mark(cam: np.ndarray, top_left: np.ndarray) -> bool:
    """Whether the map's highest token is a patch the mark covers (part of)."""
    gh, gw = cam.shape
    row, col = divmod(int(np.argmax(cam)), gw)
    ph, pw = SIZE // gh, SIZE // gw
    y, x = top_left
    return (row * ph < y + MARK and y < (row + 1) * ph
            and col * pw < x + MARK and x < (col + 1) * pw)


def mark_hits(model, method: str, layer: str | None, pictures, where) -> int:
    """How many of the marked `pictures` get the map of class "marked" peaking on the mark."""
    from camview.maps import make_method

    mapper = make_method(method, model, layer)
    return sum(on_the_mark(mapper.explain(model.prepare(p), 1).cam, yx)
               for p, yx in zip(pictures, where, strict=True))


#: The methods and layers the findings table measures (docs/vit-findings.md).
FINDINGS_METHODS = ("gradcam", "gradcam++", "layercam", "hirescam", "xgradcam", "eigencam")
FINDINGS_LAYERS = ("block1_norm1", "block2_norm1", "block2_add2", "final_norm")


def trained_marked_cnn(seed: int = 0, images: int = 400, epochs: int = 12,
                       width: int = 80) -> keras.Model:
    """A small GAP + Dense CNN (CAM-able, any input size) trained, seeded, on the ViT's task
    in SIZE x `width` pictures: the shape `--resize shorter` feeds it of a 5:3 frame, so the
    two models can be compared on one set of wide pictures (`evaluate --versus`). Raw
    logits, classes plain, marked; fed RGB 0..1 (unit_rgb). Some 10 s on one core."""
    keras.utils.set_random_seed(seed)
    L = keras.layers
    inputs = keras.Input((None, None, 3), name="image")
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = L.MaxPooling2D(name="pool1")(x)
    x = L.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = L.MaxPooling2D(name="pool2")(x)
    x = L.Conv2D(32, 3, padding="same", activation="relu", name="conv3")(x)
    x = L.GlobalAveragePooling2D(name="average")(x)
    model = keras.Model(inputs, L.Dense(2, name="predictions")(x), name="marked_cnn")
    pictures, labels, _ = marked_images(images, SIZE, MARK, seed=seed + 1, width=width)
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(unit_rgb(pictures), labels, epochs=epochs, batch_size=32, verbose=0)
    return model
