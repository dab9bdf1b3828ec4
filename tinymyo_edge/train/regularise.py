"""Training-only dropout and drop-path, attached as forward hooks so the model (and its checkpoint keys, and what is
exported) stays the inference graph. Hooks act only when the module is in training mode and are removed afterwards.

Placement follows timm's ViT block, which upstream uses: dropout after the attention projection, after the MLP
activation and after fc2; drop-path on each residual branch (the output of attn and of mlp). Dropout on the attention
probabilities is not reproduced (it sits inside scaled_dot_product_attention).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F

from ..model import TinyMyo


def _dropout_hook(p: float):
    def hook(module, inputs, output):
        return F.dropout(output, p, training=module.training)

    return hook


def _drop_path_hook(p: float):
    def hook(module, inputs, output):
        if not module.training or p == 0.0:
            return output
        keep = torch.empty(output.shape[0], *([1] * (output.dim() - 1)), device=output.device)
        return output * keep.bernoulli_(1.0 - p) / (1.0 - p)

    return hook


@contextlib.contextmanager
def training_regularisation(model: TinyMyo, dropout: float, drop_path: float) -> Iterator[None]:
    handles = []
    for block in model.blocks:
        if dropout > 0:
            for module in (block.attn.proj, block.mlp.act, block.mlp.fc2):
                handles.append(module.register_forward_hook(_dropout_hook(dropout)))
        if drop_path > 0:
            for module in (block.attn, block.mlp):
                handles.append(module.register_forward_hook(_drop_path_hook(drop_path)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
