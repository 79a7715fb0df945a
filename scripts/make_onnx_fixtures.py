"""Write tests/data/onnx_exports/: tiny torchvision and timm classifiers, random weights,
exported by torch.onnx.export, both its exporters, as a user's model reaches camview.

Runs ONLY in a Python environment with torch, torchvision, timm, onnx and onnxscript (not
camview's: the tests cannot install torch, so they read the files this writes, which are
committed). The versions that made the committed files are in that folder's README.md;
this script rewrites it. Usage:

    python scripts/make_onnx_fixtures.py [FOLDER]     # default tests/data/onnx_exports

Each network is built by its library's public constructor at a tiny width and depth (the
architecture's graph is what matters, not its size: each file well under 300 KB), its
weights drawn from a fixed seed (Linear layers re-drawn as torch's default draws them, since
torchvision's ViT starts its head at zero, which gives every image the same scores; the
BatchNorm statistics and the LayerNorm scales and shifts drawn too, so they are not an
identity; the BatchNorm shifts mostly positive, as a trained network's last activations
mostly are, which Score-CAM's final ReLU needs to leave a map), and exported:

- ``legacy``: the TorchScript exporter (``dynamo=False``), the default until torch 2.8;
- ``dynamo``: the torch.export exporter (``dynamo=True``), the default since torch 2.9,
  written as one file (``external_data=False``; by default it puts the weights in a
  ``.onnx.data`` file beside it).

Both from an example batch of 2 with ``dynamic_axes`` (batch, and height and width for the
CNNs): the dynamo exporter keeps a size-1 example dimension fixed (torch.export specialises
it), so a batch of 1 bakes the batch into a ViT's graph. One file is exported so on purpose
(``vit_torchvision_dynamo_batch1``): camview must notice it and take one image at a time.

``expected.npz`` holds, per file, torch's logits (float32) for the inputs in it: ``cnn``
(2, 3, 32, 40) and ``vit`` (2, 3, 32, 32), stored as float16 (and fed to torch as those
values in float32, so the test feeds the very same numbers).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = REPO / "tests" / "data" / "onnx_exports"
CLASSES = 10
CNN_INPUT = (2, 3, 32, 40)  # height != width: the dynamic height and width are read right
VIT_INPUT = (2, 3, 32, 32)


def randomise(model, seed: int):
    """Fixed-seed weights that make every layer matter (module docstring)."""
    import torch

    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.reset_parameters()
        elif isinstance(module, torch.nn.LayerNorm) and module.elementwise_affine:
            with torch.no_grad():  # so the head's LayerNorm read from the file is checked
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
        elif isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                # mostly positive after SiLU and HardSwish (module docstring)
                module.bias.normal_(0.5, 0.1)
    return model.eval()


def share_head_norm(convnext) -> None:
    """Give the ConvNeXt head's LayerNorm the (random) values of the last block's: the
    TorchScript exporter keeps one copy of equal weights and names the other by an Identity
    node, as it does with any equal weights (freshly initialised LayerNorms are all ones),
    so the head's gamma and beta must be read through it."""
    import torch

    block_norm = convnext.features[-1][-1].block[2]
    with torch.no_grad():
        convnext.classifier[0].weight.copy_(block_norm.weight)
        convnext.classifier[0].bias.copy_(block_norm.bias)


def networks():
    """(name, module, 'cnn' or 'vit') for each architecture."""
    import timm
    import torch
    from timm.models.resnet import BasicBlock
    from torchvision.models import ConvNeXt, EfficientNet, MobileNetV3, VisionTransformer
    from torchvision.models.convnext import CNBlockConfig
    from torchvision.models.efficientnet import MBConvConfig
    from torchvision.models.mobilenetv3 import InvertedResidualConfig

    torch.manual_seed(0)
    # timm's ResNet: torchvision's hard-codes its widths (64..512, 11M weights)
    yield "resnet_timm", timm.models.resnet.ResNet(
        BasicBlock, [1, 1, 1, 1], num_classes=CLASSES, stem_width=8,
        channels=(8, 8, 16, 16), zero_init_last=False), "cnn"
    ir = InvertedResidualConfig
    yield "mobilenetv3_torchvision", MobileNetV3(
        [ir(8, 3, 8, 8, True, "RE", 2, 1, 1.0), ir(8, 3, 24, 16, False, "RE", 2, 1, 1.0),
         ir(16, 5, 32, 16, True, "HS", 1, 1, 1.0)],
        last_channel=32, num_classes=CLASSES), "cnn"
    yield "convnext_torchvision", ConvNeXt(
        [CNBlockConfig(8, 16, 1), CNBlockConfig(16, None, 1)], layer_scale=1.0,
        num_classes=CLASSES), "cnn"
    yield "efficientnet_torchvision", EfficientNet(
        [MBConvConfig(1, 3, 1, 8, 8, 1), MBConvConfig(4, 3, 2, 8, 16, 1)], dropout=0.2,
        num_classes=CLASSES, last_channel=32), "cnn"
    yield "vit_torchvision", VisionTransformer(
        image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32,
        num_classes=CLASSES), "vit"
    yield "vit_timm", timm.models.VisionTransformer(
        img_size=32, patch_size=8, embed_dim=16, depth=2, num_heads=2, mlp_ratio=2,
        num_classes=CLASSES), "vit"
    # register tokens and averaged patch tokens: three front tokens dropped, mean pooling
    yield "vit_timm_reg_avg", timm.models.VisionTransformer(
        img_size=32, patch_size=8, embed_dim=16, depth=2, num_heads=2, mlp_ratio=2,
        reg_tokens=2, global_pool="avg", num_classes=CLASSES), "vit"
    # a ViT that takes any size (its position embeddings interpolated): camview refuses it
    yield "vit_timm_any_size", timm.models.VisionTransformer(
        img_size=32, patch_size=8, embed_dim=16, depth=1, num_heads=2, mlp_ratio=2,
        dynamic_img_size=True, num_classes=CLASSES), "vit any size"


def export(model, kind: str, path: Path, dynamo: bool, batch: int = 2,
           opset: int | None = None) -> None:
    import torch

    shape = (batch, *(CNN_INPUT if kind == "cnn" else VIT_INPUT)[1:])
    axes = {0: "batch", 2: "height", 3: "width"} if kind != "vit" else {0: "batch"}
    options = {"external_data": False} if dynamo else {}
    if opset is not None:
        options["opset_version"] = opset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dynamic_axes under dynamo, TorchScript's end
        torch.onnx.export(model, (torch.zeros(shape),), str(path), input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": axes},
                          dynamo=dynamo, **options)
    if dynamo:  # its per-node stack traces were three quarters of a file: kept small in git
        import onnx

        proto = onnx.load(str(path))
        for node in proto.graph.node:
            del node.metadata_props[:]
        onnx.save(proto, str(path))


def main(argv: list[str] | None = None) -> int:
    import onnx
    import timm
    import torch
    import torchvision

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    folder = parser.parse_args(argv).folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    inputs = {kind: rng.standard_normal(shape).astype(np.float16)
              for kind, shape in (("cnn", CNN_INPUT), ("vit", VIT_INPUT))}
    expected: dict[str, np.ndarray] = dict(inputs)
    made = []
    for seed, (name, model, kind) in enumerate(networks()):
        model = randomise(model, seed)
        if name == "convnext_torchvision":
            share_head_norm(model)
        with torch.no_grad():
            x = inputs["cnn" if kind == "cnn" else "vit"]
            logits = model(torch.from_numpy(x.astype(np.float32))).numpy()
        runs = [(f"{name}_dynamo", True, 2, None)]
        if name != "vit_timm_reg_avg":  # the TorchScript exporter's graph is vit_timm's
            runs.insert(0, (f"{name}_legacy", False, 2, None))
        if name == "convnext_torchvision":  # LayerNorm as nine elementary ops below 17
            runs.append((f"{name}_legacy_opset14", False, 2, 14))
        if name == "vit_torchvision":  # the batch baked in (module docstring)
            runs.append((f"{name}_dynamo_batch1", True, 1, None))
        for file, dynamo, batch, opset in runs:
            path = folder / f"{file}.onnx"
            export(model, kind, path, dynamo, batch, opset)
            onnx.checker.check_model(str(path))
            expected[file] = logits.astype(np.float32)
            made.append((file, kind, path.stat().st_size))
            print(f"{path.name}: {path.stat().st_size // 1024} KB", file=sys.stderr)
    np.savez_compressed(folder / "expected.npz", **expected)
    versions = (f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
                f"timm {timm.__version__}, onnx {onnx.__version__}, onnxscript "
                f"{__import__('onnxscript').__version__}, Python "
                f"{sys.version.split()[0]}")
    (folder / "README.md").write_text(readme(made, versions))
    return 0


def readme(made: list[tuple[str, str, int]], versions: str) -> str:
    rows = "\n".join(f"| `{name}.onnx` | {kind} | {size // 1024} KB |"
                     for name, kind, size in made)
    return f"""# ONNX files written by real exporters (test fixtures)

Tiny torchvision and timm classifiers with random weights, exported by `torch.onnx.export`
with its TorchScript exporter (`_legacy`, `dynamo=False`) and its torch.export exporter
(`_dynamo`, `dynamo=True`), read by tests/test_onnx_exports.py. CI cannot install torch, so
the files are committed.

Made by `scripts/make_onnx_fixtures.py` (its docstring says how and why) with
{versions}.
Do not edit them by hand: rerun the script in an environment with those packages.

`expected.npz`: the inputs (`cnn`, `vit`, float16) and torch's logits for them per file.

| file | input | size |
|---|---|---|
{rows}
"""


if __name__ == "__main__":
    sys.exit(main())
