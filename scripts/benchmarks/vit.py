"""What maps cost on a vision transformer: a ViT-Tiny-sized model (patch 16, 224x224, dim
192, 12 blocks, 3 heads, MLP 768, class token; random weights: the cost does not depend on
them), Grad-CAM, HiResCAM, rollout and gradient rollout interleaved with its own compiled
classification; then the live pipeline on it with the method camview recommends for a ViT,
fed its centre crop as the window shows it, against the camera's rate."""

from __future__ import annotations

import numpy as np

from benchmarks.measure import interleaved_median_ms, method_key


def vit_tiny(size: int = 224, patch: int = 16, dim: int = 192, blocks: int = 12,
             heads: int = 3, classes: int = 1000):
    """ViT-Tiny's shape from Keras layers (timm's vit_tiny_patch16_224), random weights."""
    import keras

    class ClassToken(keras.layers.Layer):
        """A learned class token in front of the patch tokens, and position embeddings."""

        def build(self, shape):
            self.cls = self.add_weight(shape=(1, 1, shape[2]), initializer="zeros")
            self.position = self.add_weight(shape=(1, shape[1] + 1, shape[2]),
                                            initializer="random_normal")

        def call(self, x):
            cls = keras.ops.broadcast_to(self.cls, (keras.ops.shape(x)[0], 1, x.shape[2]))
            return keras.ops.concatenate([cls, x], axis=1) + self.position

    keras.utils.set_random_seed(0)
    L = keras.layers
    inputs = keras.Input((size, size, 3))
    x = L.Conv2D(dim, patch, strides=patch, name="patch_embed")(inputs)
    x = ClassToken(name="tokens")(L.Reshape(((size // patch) ** 2, dim))(x))
    for b in range(blocks):
        h = L.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm1")(x)
        x = L.Add()([x, L.MultiHeadAttention(heads, dim // heads, name=f"block{b}_attn")(h, h)])
        h = L.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm2")(x)
        h = L.Dense(dim, name=f"block{b}_mlp2")(L.Dense(4 * dim, activation="gelu")(h))
        x = L.Add()([x, h])
    x = L.LayerNormalization(epsilon=1e-6, name="norm")(x)[:, 0]
    return keras.Model(inputs, L.Dense(classes, name="head")(x), name="vit_tiny")


def bench_vit(repeats: int, quick: bool = False, pipeline_seconds: float = 10.0) -> dict:
    """Grad-CAM, HiResCAM, rollout and gradient rollout against the ViT's classification,
    then the live pipeline (vit_live) for `pipeline_seconds` (--quick: a 64x64 ViT of 2
    blocks, to check the part runs, not to measure it)."""
    import tensorflow as tf

    from camview.maps import make_method
    from camview.models import CamModel, ResizeMode

    size, blocks = (64, 2) if quick else (224, 12)
    keras_model = vit_tiny(size=size, blocks=blocks)
    model = CamModel("vit_tiny", keras_model, labels=[str(i) for i in range(1000)],
                     input_size=(size, size), resize=ResizeMode.SQUASH,
                     preprocess=lambda bgr: bgr.astype(np.float32) / 127.5 - 1.0,
                     fixed_input=True)
    batch = model.prepare(np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8))
    logits_only = tf.function(lambda x: keras_model(x, training=False),
                              input_signature=[model.input_spec])
    calls = {"classify_ms": lambda: logits_only(batch).numpy()}
    for name in ("gradcam", "hirescam", "rollout", "gradient-rollout"):
        explainer = make_method(name, model)
        calls[f"{method_key(name)}_ms"] = lambda e=explainer: e.explain(batch)
    row = {"model": f"vit_tiny ({size}x{size}, {blocks} blocks)", "read_layer": model.read_layer,
           **interleaved_median_ms(calls, repeats, warmup=1 if quick else 3)}
    for key in [k for k in row if k.endswith("_ms") and k != "classify_ms"]:
        row[key.replace("_ms", "_ratio")] = row[key] / row["classify_ms"]
    row.update(vit_live(keras_model, size, pipeline_seconds))
    return row


def vit_live(keras_model, size: int, seconds: float) -> dict:
    """The window's threads without the window (benchmarks.pipeline, as the runtime part
    measures a CNN) on the ViT with the method camview recommends for it (fallback_method:
    HiResCAM), fed each frame's centre crop (`--resize crop`, how the window shows a timm
    ViT): maps made per second flat out and frames displayed per second against the
    camera's (the 30 fps demo video's) rate."""
    from benchmarks.pipeline import bench_pipeline
    from camview.maps import fallback_method
    from camview.models import CamModel, ResizeMode
    from camview.sources.base import DEFAULT_FPS

    model = CamModel("vit_tiny", keras_model, labels=[str(i) for i in range(1000)],
                     input_size=(size, size), resize=ResizeMode.CROP,
                     preprocess=lambda bgr: bgr.astype(np.float32) / 127.5 - 1.0,
                     fixed_input=True)
    method = fallback_method(model)
    stats = bench_pipeline(model, None, seconds, method)
    return {"live_method": method, "camera_fps": DEFAULT_FPS,
            "live_display_fps": stats["display_fps"],
            "live_inference_fps": stats["inference_fps"],
            "live_latency_ms_p50": stats["latency_ms_p50"],
            "live_latency_ms_p95": stats["latency_ms_p95"]}
