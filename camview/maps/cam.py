"""CAM (Zhou et al. 2016): the network's own head weighs the read layer's channels."""

from __future__ import annotations

from camview.errors import ModelError
from camview.maps.base import Method, served_methods
from camview.models.base import CamModel
from camview.models.head import HeadKind


class CAM(Method):
    """Class activation mapping (Zhou et al. 2016): the head itself weighs the channels.

    Raw map: sum_k A_k * W_fc[c, k] at the read layer's resolution, no ReLU (SqueezeNet: the
    class's own channel of relu_conv10).
    """

    name = "cam"
    title = "CAM"
    summary = "the network's own dense head weighs the last activations (GAP + dense nets only)"
    paper = "Zhou et al. 2016"

    def __init__(self, model: CamModel, layer: str | None = None) -> None:
        found = getattr(model, "transformer", None)
        if found is not None and found.cam_layer is None:
            why = self.applies_to(model)
            use = ("hirescam, gradcam or rollout" if model.can_backward  # an ONNX ViT: fewer
                   else ", ".join(served_methods(model)))
            raise ModelError(f"CAM is not defined for {model.name}: {why}; use --method {use}",
                             window_hint=f"CAM is not defined for {model.name} ({why}): "
                                         + ("choose HiResCAM, Grad-CAM or rollout"
                                            if model.can_backward else f"choose {use}"))
        chosen = layer or model.read_layer
        default = getattr(model, "default_layer", model.read_layer)
        if chosen != default:  # the chosen layer is the problem, not the model's head
            raise ModelError(f"CAM reads only the layer before global pooling ({default!r}), "
                             f"not the chosen layer {chosen!r}: use --method gradcam or "
                             "gradcam++ for that layer")
        if not model.can_backward and not self.serves(model.head):
            raise ModelError(f"CAM needs global average pooling then one dense layer after "
                             f"the map layer; {model.name} has another head "
                             f"({model.head.value}): use {', '.join(served_methods(model))}")
        self.check_head(model.name, model.head)
        super().__init__(model, layer)

    @classmethod
    def applies_to(cls, model: CamModel) -> str | None:
        found = getattr(model, "transformer", None)
        if found is not None and found.cam_layer is None:
            return ("a vision transformer has no convolution before pooling and its head "
                    + ("reads the class token" if found.pooling == "class token"
                       else "is not the patch tokens averaged into one dense layer"))
        if found is not None and model.read_layer != found.cam_layer:
            return (f"defined per token only at {found.cam_layer!r}, the tokens the head "
                    f"averages (--layer {found.cam_layer})")
        return super().applies_to(model)

    @classmethod
    def serves(cls, head: HeadKind) -> bool:
        return head in (HeadKind.FC, HeadKind.DIRECT)

    @classmethod
    def forward_only_at_any_layer(cls) -> bool:
        return False  # the layer before pooling only

    @classmethod
    def check_head(cls, name: str, head: HeadKind | None) -> None:
        """Refuse a model whose head CAM cannot read (None: not known yet, allowed)."""
        if head is not None and not cls.serves(head):
            raise ModelError(f"CAM needs global average pooling then one dense layer after the "
                             f"map layer; {name} has another head ({head.value}): use "
                             "--method gradcam or gradcam++",
                             window_hint=f"CAM cannot read {name}'s head ({head.value}: "
                                         "not global pooling then one dense layer): choose "
                                         "Grad-CAM or another gradient method")

    shares_pass = True  # from the activations alone: no gradient
    reads_class_channel_only = True

    def from_arrays(self, features, grads, score, c):
        if self.model.head is HeadKind.DIRECT:
            return features[..., c]  # the class's own channel
        return features @ self.model.runtime_head[0].column(c)
