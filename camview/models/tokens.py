"""A vision transformer's token sequence as an image grid, whatever framework it came from.

A ViT cuts its (H, W) input into patches of (ph, pw) pixels, one token each, and may put
tokens that are not patches in front of them: a class token, a distillation token (DeiT),
register tokens (DINOv2 with registers). Its blocks then carry a sequence (batch, N, dim).
Maps need the patch tokens back as an (H / ph, W / pw, dim) grid, the front tokens dropped:
the `reshape_transform` every other CAM tool asks its user to write, found here from the
token count, the input size and, where known, the patch size.

Nothing here imports Keras: the Keras graph reading (camview.models.transformer) and any
other runtime's (an ONNX graph) give the counts and get the same grid and the same refusals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camview.errors import ModelError

#: At most this many tokens in front of the patches (class, distillation, registers): a
#: count past it means the tokens are not patches of this input at all.
MAX_PREFIX = 16


@dataclass(frozen=True)
class TokenGrid:
    """N tokens = `prefix` non-patch tokens, then the patch tokens row by row on `grid`.

    `patch`: pixels per token (ph, pw); `how`: where the patch size came from, said by
    `camview inspect`.
    """

    tokens: int
    grid: tuple[int, int]
    prefix: int
    patch: tuple[int, int]
    how: str

    def describe(self) -> str:
        gh, gw = self.grid
        ph, pw = self.patch
        front = {0: "no other tokens",
                 1: "1 token before them (a class token), dropped"}.get(
            self.prefix, f"{self.prefix} tokens before them (class, distillation or register "
                         "tokens), dropped")
        return (f"{self.tokens} tokens: {gw}x{gh} patch tokens of {pw}x{ph} px ({self.how}), "
                f"{front}")

    def fold(self, tokens: np.ndarray) -> np.ndarray:
        """(..., N, dim) -> (..., gh, gw, dim): the patch tokens on their grid."""
        patches = tokens[..., self.prefix:, :]
        return patches.reshape(*patches.shape[:-2], *self.grid, patches.shape[-1])


def token_grid(tokens: int, input_hw: tuple[int | None, int | None],
               patch: tuple[int, int] | None, title: str, how: str = "") -> TokenGrid:
    """How `tokens` tokens of a model fed (h, w) images fold into a grid; ModelError saying
    why when they do not.

    `patch`: the patch size read from the graph (the patch embedding's stride), or None:
    then the square patch size whose grid leaves the fewest front tokens (0..MAX_PREFIX) is
    taken, and said to be a guess from the count.
    """
    h, w = input_hw
    if h is None or w is None:
        raise ModelError(f"{title} is a transformer ({tokens} tokens) that takes any input "
                         "size, so its tokens' grid is not known: save it with a fixed input "
                         "size (keras.Input(shape=(224, 224, 3)))")
    if patch is not None:
        ph, pw = patch
        gh, gw = h // ph, w // pw
        prefix = tokens - gh * gw
        if not 0 <= prefix <= MAX_PREFIX:
            raise ModelError(
                f"{title}'s {tokens} tokens do not fold into a grid: a {w}x{h} input cut into "
                f"{pw}x{ph} patches ({how or 'its patch embedding'}) gives {gw}x{gh} = "
                f"{gh * gw} patch tokens, and {tokens} - {gh * gw} is not a count of class or "
                f"register tokens (0 to {MAX_PREFIX})")
        return TokenGrid(tokens, (gh, gw), prefix, (ph, pw), how or "patch embedding")
    fits = []
    for p in range(1, min(h, w) + 1):
        if h % p or w % p:
            continue
        prefix = tokens - (h // p) * (w // p)
        if 0 <= prefix <= MAX_PREFIX:
            fits.append((prefix, p))
    if not fits:
        raise ModelError(f"{title}'s {tokens} tokens do not fold into a grid: no square patch "
                         f"size cuts its {w}x{h} input into {tokens} - k patches (k = 0 to "
                         f"{MAX_PREFIX} class or register tokens), and no patch embedding "
                         "(a convolution with stride = kernel) says the patch size")
    prefix, p = min(fits)
    return TokenGrid(tokens, (h // p, w // p), prefix, (p, p),
                     "guessed from the token count: no patch embedding found")
