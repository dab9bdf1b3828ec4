"""The PyTorch reference of TinyMyo, faithful to the published model (arXiv 2512.15729, pulp-bio/BioFoundation).

Module and parameter names follow upstream so that a checkpoint's keys map one to one (see checkpoint.py).
Shapes: B batch, C channels, T samples, P patches per channel, N = C*P tokens (channel-major), D dim.

No positional encoding: the released code applies RoPE to a (B, H, N, hd) tensor as if it were (B, N, H, hd), so every
token of a head is rotated by the same angle, which cancels in q.k^T. The published model therefore has no positional
information, and the authors' own GAP9 graphs leave RoPE out; so does this reference (bit-for-bit the same function).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import TinyMyoConfig


class PatchEmbed(nn.Module):
    """One Conv2d(1, D, (1, patch), stride (1, patch)) shared by all channels; tokens ordered channel-major."""

    def __init__(self, cfg: TinyMyoConfig):
        super().__init__()
        self.proj = nn.Conv2d(1, cfg.dim, kernel_size=(1, cfg.patch_size), stride=(1, cfg.patch_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, N, D)
        y = self.proj(x.unsqueeze(1))  # (B, D, C, P)
        return y.flatten(2).transpose(1, 2)  # "B D C t -> B (C t) D"


class PatchingModule(nn.Module):
    """Wrapper kept for upstream key names: model.patch_embedding.patch_embed.proj.*"""

    def __init__(self, cfg: TinyMyoConfig):
        super().__init__()
        self.patch_embed = PatchEmbed(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.patch_embed(x)


class Attention(nn.Module):
    """Full (non-causal) multi-head self-attention, qkv with bias.

    `per_head_2d` makes a batch-1 forward compute each head with 2-D MatMuls: the form NNTool imports and the
    quantizer recognises (GAP9.md). Both paths compute the same function.
    """

    def __init__(self, cfg: TinyMyoConfig):
        super().__init__()
        self.heads = cfg.heads
        self.head_dim = cfg.head_dim
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=True)
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        self.per_head_2d = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D) -> (B, N, D)
        if self.per_head_2d and x.shape[0] == 1:
            return self._forward_per_head(x[0]).unsqueeze(0)
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, H, N, hd)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=False)
        return self.proj(y.transpose(1, 2).reshape(b, n, d))

    def _forward_per_head(self, x: torch.Tensor) -> torch.Tensor:  # (N, D) -> (N, D)
        d = x.shape[-1]
        qkv = self.qkv(x)  # (N, 3D): [q heads | k heads | v heads]
        scale = 1.0 / math.sqrt(self.head_dim)
        outs = []
        for h in range(self.heads):
            lo, hi = h * self.head_dim, (h + 1) * self.head_dim
            q, k, v = qkv[:, lo:hi], qkv[:, d + lo : d + hi], qkv[:, 2 * d + lo : 2 * d + hi]
            p = torch.softmax(torch.matmul(q, k.t()) * scale, dim=-1)  # (N, N)
            outs.append(torch.matmul(p, v))  # (N, hd)
        return self.proj(torch.cat(outs, dim=-1))


class Mlp(nn.Module):
    """fc1 -> GELU (exact, erf) -> fc2; names as timm's Mlp."""

    def __init__(self, cfg: TinyMyoConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.dim, cfg.hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(cfg.hidden, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(LN(x)); x + mlp(LN(x))."""

    def __init__(self, cfg: TinyMyoConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim)
        self.attn = Attention(cfg)
        self.norm2 = nn.LayerNorm(cfg.dim)
        self.mlp = Mlp(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def _patch_features(x: torch.Tensor, cfg: TinyMyoConfig) -> torch.Tensor:
    """(B, N, D) -> (B, P, F): "b (c p) d -> b p (c d)" for concat, mean over channels for mean."""
    b = x.shape[0]
    x = x.reshape(b, cfg.channels, cfg.patches, cfg.dim)
    if cfg.reduction == "mean":
        return x.mean(dim=1)
    return x.permute(0, 2, 1, 3).reshape(b, cfg.patches, cfg.channels * cfg.dim)


class ClassificationHead(nn.Module):
    """Regroup per patch, mean over patches, Linear(F, K). No nonlinearity."""

    def __init__(self, cfg: TinyMyoConfig):
        super().__init__()
        self.cfg = cfg
        self.classifier = nn.Linear(cfg.feat_dim, cfg.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D) -> (B, K)
        return self.classifier(_patch_features(x, self.cfg).mean(dim=1))


class RegressionHead(nn.Module):
    """Conv1d(F->H, k1) SiLU [Dropout] depthwise Conv1d(H, k3) SiLU Conv1d(H->K, k1), linear interpolation to L."""

    def __init__(self, cfg: TinyMyoConfig):
        super().__init__()
        self.cfg = cfg
        h = cfg.reg_hidden
        self.regressor = nn.Sequential(
            nn.Conv1d(cfg.feat_dim, h, kernel_size=1),
            nn.SiLU(),
            nn.Dropout(0.1),
            nn.Conv1d(h, h, kernel_size=3, padding=1, groups=h),
            nn.SiLU(),
            nn.Conv1d(h, cfg.classes, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D) -> (B, L, K)
        y = self.regressor(_patch_features(x, self.cfg).transpose(1, 2))  # (B, K, P)
        if y.shape[-1] != self.cfg.reg_target_len:
            y = F.interpolate(y, size=self.cfg.reg_target_len, mode="linear", align_corners=False)
        return y.transpose(1, 2)


class ReconstructionHead(nn.Module):
    """Linear(D, patch) per token: the masked-reconstruction decoder of pretraining."""

    def __init__(self, cfg: TinyMyoConfig):
        super().__init__()
        self.decoder_pred = nn.Linear(cfg.dim, cfg.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D) -> (B, N, patch)
        return self.decoder_pred(x)


HEADS = {"classification": ClassificationHead, "regression": RegressionHead, "reconstruction": ReconstructionHead}


class TinyMyo(nn.Module):
    """TinyMyo encoder + one head. forward(x: (B, C, T) float32) -> head output (tensor, not upstream's tuple)."""

    def __init__(self, cfg: TinyMyoConfig = TinyMyoConfig()):
        super().__init__()
        self.cfg = cfg
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))  # pretraining only; kept for checkpoint keys
        self.patch_embedding = PatchingModule(cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.model_head = HEADS[cfg.head](cfg)
        self.initialize_weights()

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, N, D), after the final LayerNorm
        x = self.patch_embedding(x)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model_head(self.encode(x))

    def set_export_form(self, enabled: bool = True) -> None:
        """Batch-1 attention as per-head 2-D MatMuls (NNTool-importable ONNX)."""
        for block in self.blocks:
            block.attn.per_head_2d = enabled

    def initialize_weights(self) -> None:
        """Upstream initialisation: xavier-uniform Linear/patch conv, zero biases, unit LayerNorm, depth rescale."""
        nn.init.trunc_normal_(self.mask_token, std=0.02, a=-0.02, b=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv1d):
                nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        w = self.patch_embedding.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        for layer_id, block in enumerate(self.blocks, start=1):
            block.attn.proj.weight.data.div_(math.sqrt(2.0 * layer_id))
            block.mlp.fc2.weight.data.div_(math.sqrt(2.0 * layer_id))

    def encoder_parameter_count(self) -> int:
        """Parameters of everything but the head (mask token included, as upstream counts it)."""
        head = sum(p.numel() for p in self.model_head.parameters())
        return sum(p.numel() for p in self.parameters()) - head
