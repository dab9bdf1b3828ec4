"""The speech family of TinyMyo (EMG -> text by CTC, EMG -> speech features): the authors' `EMGTransformer`.

Matched file: github MatteoFasulo/silent_speech, architecture.py at commit 2962d190052c3b57c6853988ea1afcec3c4ea592
(2026-01-16; the same classes were in adapted_emg_transformer.py until that commit). Module and parameter names are
the authors' so that a state dict saved by their recognition_model.py / transduction_model.py
(`torch.save(model.state_dict(), ...)`) maps one to one:

    conv_blocks.{0,1,2}: ResBlock(8 -> 192, stride 2), ResBlock(192 -> 192, 2), ResBlock(192 -> 192, 2)  (x8 down)
        conv1 Conv1d k3 stride 2 pad 1, norm1 BatchNorm1d, act GELU, conv2 Conv1d k3 pad 1, norm2 BatchNorm1d;
        skip: residual_path Conv1d k1 stride 2 + res_norm BatchNorm1d; out = GELU(skip(x) + block(x))
        (`block` and `skip` are nn.Sequential views of the same modules: their keys appear twice, as upstream)
    w_raw_in: Linear(192, 192)
    blocks.{0..7}: CustomAttentionBlock, POST-norm: x = norm1(x + attn(x)); x = norm2(x + mlp(x)), where attn is
        multi-head attention whose logits get q . E[h, j - i] added (learned relative positions up to +-99;
        pairs further apart are masked out when the sequence is longer than 100 tokens)
    w_out: Linear(192, 38) (37 characters a-z 0-9 '|' + the CTC blank, index 37) or (192, speech features)
    w_aux (transduction only): Linear(192, phonemes), a training-time output this toolchain does not export.

The "TinyMyo encoder" of the speech task is these 8 blocks: recognition_model.py loads a pretrained TinyMyo
state dict into them (strict=False; the block parameter names norm1/attn.qkv/attn.proj/norm2/mlp.fc1/fc2 coincide),
while the block structure (post-norm, relative positions) is the one above.

Differences from upstream, all at inference only: the input is (B, C, T) like every tinymyo-edge model (upstream
takes (B, T, C) and transposes first); training-time time-shift augmentation and dropout are left out.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import TinyMyoError

SPEECH_HEADS = ("ctc", "speech-features")
CTC_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789|"  # data_utils.TextTransform.chars; '|' is the word separator
CTC_BLANK = len(CTC_CHARS)  # recognition_model.py: F.ctc_loss(..., blank=n_chars)
DOWNSAMPLE = 8  # three stride-2 ResBlocks
CONV_BLOCKS = 3


@dataclass(frozen=True)
class SpeechConfig:
    """Sizes of a speech model. Defaults: config/recognition_model.json (8 ch at 1 kHz, 192 dim, 8 layers, 3 heads)."""

    channels: int = 8
    samples: int = 1600  # full_seq_len; any multiple of 8 (tokens = samples / 8)
    dim: int = 192
    depth: int = 8
    heads: int = 3
    mlp_ratio: int = 4
    outputs: int = len(CTC_CHARS) + 1
    head: str = "ctc"
    aux_outputs: int = 0  # w_aux (transduction's phoneme output); 0 = none
    max_relative_pos: int = 100

    def __post_init__(self) -> None:
        problems = []
        for name in ("channels", "samples", "dim", "depth", "heads", "mlp_ratio", "outputs", "max_relative_pos"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.samples % DOWNSAMPLE:
            problems.append(f"samples ({self.samples}) must be a multiple of {DOWNSAMPLE} (three stride-2 blocks)")
        if self.dim % self.heads:
            problems.append(f"dim ({self.dim}) must be a multiple of heads ({self.heads})")
        if self.head not in SPEECH_HEADS:
            problems.append(f"head must be one of {SPEECH_HEADS} (got {self.head!r})")
        if self.head == "ctc" and self.outputs != len(CTC_CHARS) + 1:
            problems.append(f"a ctc head has {len(CTC_CHARS) + 1} outputs ({len(CTC_CHARS)} characters + the blank), "
                            f"got {self.outputs}")
        if self.aux_outputs < 0:
            problems.append(f"aux_outputs must be >= 0 (got {self.aux_outputs})")
        if problems:
            raise TinyMyoError("invalid speech model configuration: " + "; ".join(problems))

    @property
    def tokens(self) -> int:
        return self.samples // DOWNSAMPLE

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def hidden(self) -> int:
        return self.dim * self.mlp_ratio

    def replace(self, **changes) -> "SpeechConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {"family": "speech", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, values: dict) -> "SpeechConfig":
        values = {k: v for k, v in values.items() if k != "family"}
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TinyMyoError(f"unknown speech configuration keys: {', '.join(unknown)}")
        return cls(**values)


class ResBlock(nn.Module):
    """Upstream ResBlock(num_ins, num_outs, stride), pre_activation=False, beta=1. `fold_batchnorm` (export form)
    folds each BatchNorm into the conv before it; forward then skips the (identity) norms."""

    def __init__(self, num_ins: int, num_outs: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv1d(num_ins, num_outs, 3, padding=1, stride=stride)
        self.norm1 = nn.BatchNorm1d(num_outs)
        self.conv2 = nn.Conv1d(num_outs, num_outs, 3, padding=1)
        self.norm2 = nn.BatchNorm1d(num_outs)
        self.act = nn.GELU()
        self.residual_path = nn.Conv1d(num_ins, num_outs, 1, stride=stride)
        self.res_norm = nn.BatchNorm1d(num_outs)
        self.skip = nn.Sequential(self.residual_path, self.res_norm)
        self.block = nn.Sequential(self.conv1, self.norm1, self.act, self.conv2, self.norm2)
        self.folded = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, T) -> (B, Cout, T / stride)
        if self.folded:
            res = self.conv2(self.act(self.conv1(x)))
            return self.act(self.residual_path(x) + res)
        return self.act(self.skip(x) + self.block(x))

    @torch.no_grad()
    def fold_batchnorm(self) -> None:
        """conv' = BN(conv) in eval mode: w' = w g / sqrt(var + eps), b' = (b - mean) g / sqrt(var + eps) + beta."""
        if self.folded:
            return
        for conv, norm in ((self.conv1, self.norm1), (self.conv2, self.norm2), (self.residual_path, self.res_norm)):
            inv = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            conv.weight.mul_(inv[:, None, None])
            conv.bias.copy_((conv.bias - norm.running_mean) * inv + norm.bias)
        self.folded = True


class LearnedRelativePositionalEmbedding(nn.Module):
    """Upstream's (from fairseq PR 2225), unmasked (encoder), heads not sharing, keys only: embeddings
    [heads, 2 * max_relative_pos - 1, head_dim, 1]. forward(q (L, heads, hd)) -> logits (heads, L, L) with
    logits[h, i, j] = q[i, h] . E[h, j - i + max_relative_pos - 1] for |j - i| < max_relative_pos, else -1e8."""

    def __init__(self, max_relative_pos: int, num_heads: int, embedding_dim: int):
        super().__init__()
        self.max_relative_pos = max_relative_pos
        self.num_heads = num_heads
        self.embedding_dim = embedding_dim
        self.embeddings = nn.Parameter(torch.zeros(num_heads, 2 * max_relative_pos - 1, embedding_dim, 1))
        nn.init.normal_(self.embeddings, mean=0.0, std=embedding_dim**-0.5)

    def used_embeddings(self, length: int) -> torch.Tensor:  # (heads, 2L - 1, hd): relative positions -(L-1)..L-1
        pad = max(length - self.max_relative_pos, 0)
        start = max(self.max_relative_pos - length, 0)
        padded = F.pad(self.embeddings[..., 0], (0, 0, pad, pad))
        return padded.narrow(1, start, 2 * length - 1)

    def forward(self, q: torch.Tensor) -> torch.Tensor:  # (L, H, hd) -> (H, L, L)
        length = q.shape[0]
        rel = torch.einsum("lhd,hmd->hlm", q, self.used_embeddings(length))  # (H, L, 2L - 1)
        if length > self.max_relative_pos:  # upstream subtracts 1e8 from the padded (out of range) positions
            pad = length - self.max_relative_pos
            mask = torch.zeros(2 * length - 1, dtype=q.dtype)
            mask[:pad] = -1e8
            mask[-pad:] = -1e8
            rel = rel + mask
        # relative -> absolute: out[h, i, j] = rel[h, i, j - i + L - 1] (upstream's pad/reshape trick)
        h = rel.shape[0]
        x = F.pad(rel, (0, 1)).reshape(h, length * 2 * length)
        x = F.pad(x, (0, length - 1)).reshape(h, length + 1, 2 * length - 1)
        return x[:, :length, length - 1:]


class LRPEAttention(nn.Module):
    """Multi-head self-attention with the relative position logits added before the softmax (upstream LRPEAttention;
    the position logits are not scaled by 1/sqrt(hd))."""

    def __init__(self, dim: int, num_heads: int, max_relative_pos: int):
        super().__init__()
        self.num_heads, self.dim, self.hd = num_heads, dim, dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)
        self.relative_positional = LearnedRelativePositionalEmbedding(max_relative_pos, num_heads, self.hd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D) -> (B, N, D)
        return torch.stack([self._one(xb) for xb in x])

    def _one(self, x: torch.Tensor) -> torch.Tensor:  # (N, D): 2-D MatMuls per head (the quantizer's form)
        n, d = x.shape
        qkv = self.qkv(x)
        q, k, v = qkv[:, :d], qkv[:, d : 2 * d], qkv[:, 2 * d :]
        pos = self.relative_positional(q.reshape(n, self.num_heads, self.hd))  # (H, N, N)
        scale = 1.0 / math.sqrt(self.hd)
        outs = []
        for h in range(self.num_heads):
            cols = slice(h * self.hd, (h + 1) * self.hd)
            logits = torch.matmul(q[:, cols], k[:, cols].t()) * scale + pos[h]
            outs.append(torch.matmul(torch.softmax(logits, dim=-1), v[:, cols]))
        return self.proj(torch.cat(outs, dim=-1))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class CustomAttentionBlock(nn.Module):
    """Post-norm block: x = norm1(x + attn(x)); x = norm2(x + mlp(x))."""

    def __init__(self, cfg: SpeechConfig):
        super().__init__()
        self.attn = LRPEAttention(cfg.dim, cfg.heads, cfg.max_relative_pos)
        self.norm1 = nn.LayerNorm(cfg.dim)
        self.mlp = Mlp(cfg.dim, cfg.hidden)
        self.norm2 = nn.LayerNorm(cfg.dim)
        self.activation = nn.GELU()  # upstream creates it (unused; no parameters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attn(x))
        return self.norm2(x + self.mlp(x))


class SpeechModel(nn.Module):
    """EMGTransformer: forward(emg (B, C, T) float32) -> (B, T / 8, outputs): CTC logits or speech features."""

    def __init__(self, cfg: SpeechConfig = SpeechConfig()):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.conv_blocks = nn.Sequential(ResBlock(cfg.channels, d, 2), ResBlock(d, d, 2), ResBlock(d, d, 2))
        self.w_raw_in = nn.Linear(d, d)
        self.blocks = nn.ModuleList(CustomAttentionBlock(cfg) for _ in range(cfg.depth))
        self.w_out = nn.Linear(d, cfg.outputs)
        if cfg.aux_outputs:
            self.w_aux = nn.Linear(d, cfg.aux_outputs)
        for m in self.modules():  # upstream _init_weights: trunc_normal(0.02) Linear weights, zero biases
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02, a=-2.0, b=2.0)
                nn.init.zeros_(m.bias)

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, N, D)
        x = self.w_raw_in(self.conv_blocks(x).transpose(1, 2))
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_out(self.encode(x))

    def fold_batchnorm(self) -> "SpeechModel":
        """Fold every BatchNorm into its conv (eval-mode statistics), in place; returns self."""
        for block in self.conv_blocks:
            block.fold_batchnorm()
        return self
