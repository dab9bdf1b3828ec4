"""Random but valid integer Programs of any TinyMyo size, with the op sequence the quantizer emits.

Used by the lowering tests and bench/bench_build.py until (and beside) `tinymyo_edge.quant.read_program`.
Constants are drawn so that activations stay mostly inside the u8 range (multipliers scaled by 1/sqrt(K)), but every
table and multiplier is random: these programs test exactness of the lowering, not accuracy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tinymyo_edge import numerics as nx
from tinymyo_edge.ir.program import (Attention, DepthwiseConv1d, DType, Interpolate, LayerNorm, Linear,
                                     LinearDequant, Lut, PatchFeatures, Program, QuantizeInput, Reshape,
                                     ResidualAdd, TensorInfo, TokenMean)
from tinymyo_edge.model.config import TinyMyoConfig
from tinymyo_edge.quant.calibrate import fold_input_zero_point

F32 = np.float32
GELU_ZERO_POINT = 19  # the GELU output is one-sided: fc2 reads it with this zero point (folded into its bias)


class _Builder:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.tensors: dict[str, TensorInfo] = {}
        self.ops: list = []

    def tensor(self, name, shape, dtype=DType.U8):
        scale = float(self.rng.uniform(0.01, 0.05)) if dtype is DType.U8 else 1.0
        zp = nx.ACT_ZERO_POINT if dtype is DType.U8 else 0
        self.tensors[name] = TensorInfo(name, tuple(int(s) for s in shape), dtype, scale, zp)
        return name

    def add(self, op_cls, name, inputs, out_shape, dtype=DType.U8, **consts):
        out = self.tensor(f"{name}/out", out_shape, dtype)
        self.ops.append(op_cls(name=name, inputs=tuple(inputs), output=out, **consts))
        return out

    # --- random constants ---------------------------------------------------------------------------------------
    def weight(self, m, k):
        return self.rng.integers(-127, 128, size=(m, k), dtype=np.int64).astype(np.int8)

    def bias(self, m, k):
        return self.rng.integers(-64 * k, 64 * k + 1, size=m).astype(np.int32)

    def mult(self, m, k, target=40.0):
        """Multiplier per output channel putting a K-term sum of ~(60 x 70) products near +-target codes."""
        base = target / (np.sqrt(k) * 60.0 * 70.0)
        return (base * self.rng.uniform(0.5, 2.0, size=m)).astype(F32)

    def linear(self, name, x, rows, k, m, dequant=False):
        w = self.weight(m, k)
        b = fold_input_zero_point(self.bias(m, k), w, self.tensors[x].zero_point, name)
        if dequant:
            return self.add(LinearDequant, name, [x], (rows, m), DType.F32, weight=w, bias=b, scale=self.mult(m, k))
        return self.add(Linear, name, [x], (rows, m), weight=w, bias=b, **self.fixed(self.mult(m, k)))

    @staticmethod
    def fixed(multipliers) -> dict:
        """Per-channel int32 mult/shift of real multipliers (numerics.fixed_multiplier)."""
        mult, shift = nx.fixed_multiplier(np.asarray(multipliers, np.float64))
        return {"mult": mult.astype(np.int32), "shift": shift.astype(np.int32)}

    @staticmethod
    def fixed_scalar(multiplier) -> dict:
        mult, shift = nx.fixed_multiplier(float(multiplier))
        return {"mult": int(mult[0]), "shift": int(shift[0])}

    def layernorm(self, name, x, rows, d):
        gain = self.rng.uniform(0.5, 1.5, size=d) / self.rng.uniform(0.02, 0.04)  # gamma / s_out
        bias = self.rng.uniform(-10, 10, size=d)  # beta / s_out
        g, b, s = nx.layernorm_affine(gain, bias, d, nx.LN_FRAC_BITS, name)
        return self.add(LayerNorm, name, [x], (rows, d), gain=g, bias=b, shift=s,
                        recip_bits=nx.layernorm_recip_bits(d), frac_bits=nx.LN_FRAC_BITS)

    def residual(self, name, a, b, shape):
        ma, mb, t = nx.residual_constants(self.rng.uniform(0.5, 1.0), self.rng.uniform(0.5, 1.0), name)
        return self.add(ResidualAdd, name, [a, b], shape, mult_a=ma, mult_b=mb, shift=t)

    def lut(self, name, x, shape, function, zero_point=nx.ACT_ZERO_POINT):
        """zero_point: of the output (an asymmetric GELU output, as the quantizer makes it for fc2)."""
        fn = nx.gelu_lut if function == "gelu" else nx.silu_lut
        s_out = float(self.rng.uniform(0.01, 0.04)) * (0.5 if zero_point != nx.ACT_ZERO_POINT else 1.0)
        table = fn(float(self.rng.uniform(0.02, 0.06)), s_out, nx.ACT_ZERO_POINT, zero_point)
        out = self.add(Lut, name, [x], shape, table=table, function=function)
        self.tensors[out] = dataclasses.replace(self.tensors[out], scale=s_out, zero_point=zero_point)
        return out


def make_random_program(cfg: TinyMyoConfig, seed: int = 0, prob_bits: int | None = None) -> Program:
    """A Program with the quantizer's op sequence for `cfg`: input (C, T) float32, output float32. Attention with the
    quantizer's default softmax (deferred) unless `prob_bits` is given: then the normalized softmax with prob_bits
    probabilities (exp tables as precise as the int32 softmax sums allow, like the quantizer)."""
    b = _Builder(seed)
    c, t, n, d, p = cfg.channels, cfg.samples, cfg.tokens, cfg.dim, cfg.patches
    x_in = b.tensor("input", (c, t), DType.F32)
    q_scale = float(b.rng.uniform(0.005, 0.05))
    x = b.add(QuantizeInput, "quantize_input", [x_in], (c, t), scale=q_scale)
    x = b.add(Reshape, "patchify", [x], (n, cfg.patch_size), shape=(n, cfg.patch_size))
    x = b.linear("patch_embedding.patch_embed.proj", x, n, cfg.patch_size, d)
    hd = cfg.head_dim
    for i in range(cfg.depth):
        blk = f"blocks.{i}"
        h = b.layernorm(f"{blk}.norm1", x, n, d)
        q = b.linear(f"{blk}.attn.q", h, n, d, d)
        k = b.linear(f"{blk}.attn.k", h, n, d, d)
        v = b.linear(f"{blk}.attn.v", h, n, d, d)
        if prob_bits is None:
            a = b.add(Attention, f"{blk}.attn", [q, k, v], (n, d), **_deferred_constants(b.rng, cfg.heads, hd))
        else:
            score_mult = (40.0 / (np.sqrt(hd) * 60.0 * 60.0) * b.rng.uniform(0.5, 2.0, cfg.heads)).astype(F32)
            prob_max = (1 << prob_bits) - 1
            lut_bits = min(nx.EXP_LUT_BITS, nx.exp_lut_bits(n, prob_max))
            luts = np.stack([nx.exp_lut(float(b.rng.uniform(0.02, 0.2)), lut_bits) for _ in range(cfg.heads)])
            out_mult = (b.rng.uniform(0.5, 2.0, cfg.heads) / prob_max).astype(F32)
            a = b.add(Attention, f"{blk}.attn", [q, k, v], (n, d), heads=cfg.heads, score_mult=score_mult,
                      exp_lut=luts, out_mult=out_mult, prob_bits=prob_bits, softmax="normalized")
        a = b.linear(f"{blk}.attn.proj", a, n, d, d)
        x = b.residual(f"{blk}.add1", x, a, (n, d))
        h = b.layernorm(f"{blk}.norm2", x, n, d)
        h = b.linear(f"{blk}.mlp.fc1", h, n, d, cfg.hidden)
        h = b.lut(f"{blk}.mlp.act", h, (n, cfg.hidden), "gelu", zero_point=GELU_ZERO_POINT)
        h = b.linear(f"{blk}.mlp.fc2", h, n, cfg.hidden, d)
        x = b.residual(f"{blk}.add2", x, h, (n, d))
    x = b.layernorm("norm", x, n, d)
    _add_head(b, cfg, x)
    return Program(tensors=b.tensors, ops=tuple(b.ops), input=x_in, output=b.ops[-1].output,
                   metadata={"source": f"tests.program_factory seed={seed}", "config": repr(cfg.to_dict())})


def _deferred_constants(rng, heads: int, hd: int) -> dict:
    """Deferred-softmax constants as the quantizer bounds them (nx.score_fixed: int32 product, int16 scores)."""
    fixed = [nx.score_fixed(float(rng.uniform(0.0005, 0.02)), hd * 128 * 128) for _ in range(heads)]
    out_m, out_s = nx.fixed_multiplier(rng.uniform(0.5, 2.0, heads))
    return dict(heads=heads, softmax="deferred", score_fixed=np.array([m for m, _ in fixed], np.int32),
                score_shift=np.array([s for _, s in fixed], np.int32),
                exp_lut8=np.stack([nx.exp_lut8(float(rng.uniform(0.01, 0.1))) for _ in range(heads)]),
                out_fixed=out_m.astype(np.int32), out_shift=out_s.astype(np.int32))


def _add_head(b: _Builder, cfg: TinyMyoConfig, x: str) -> None:
    n, d, p, c, f = cfg.tokens, cfg.dim, cfg.patches, cfg.channels, cfg.feat_dim
    if cfg.head == "reconstruction":
        b.linear("model_head.decoder_pred", x, n, d, cfg.patch_size, dequant=True)
    elif cfg.head == "classification":
        count = p if cfg.reduction == "concat" else n
        x = b.add(TokenMean, "model_head.mean", [x], (1, f), channels=c, reduction=cfg.reduction,
                  **b.fixed_scalar(b.rng.uniform(0.5, 2.0) / count))
        b.linear("model_head.classifier", x, 1, f, cfg.classes, dequant=True)
    else:
        hid = cfg.reg_hidden
        x = b.add(PatchFeatures, "model_head.features", [x], (p, f), channels=c, reduction=cfg.reduction,
                  **b.fixed_scalar(b.rng.uniform(0.5, 2.0) / c))
        x = b.linear("model_head.regressor.0", x, p, f, hid)
        x = b.lut("model_head.regressor.1", x, (p, hid), "silu")
        x = b.add(DepthwiseConv1d, "model_head.regressor.3", [x], (p, hid), weight=b.weight(hid, 3),
                  bias=b.bias(hid, 3), **b.fixed(b.mult(hid, 3)))
        x = b.lut("model_head.regressor.4", x, (p, hid), "silu")
        x = b.linear("model_head.regressor.5", x, p, hid, cfg.classes, dequant=True)
        i0, i1, w0, w1 = interpolation_table(p, cfg.reg_target_len)
        b.add(Interpolate, "model_head.interpolate", [x], (cfg.reg_target_len, cfg.classes), DType.F32,
              index0=i0, index1=i1, weight0=w0, weight1=w1)


def interpolation_table(src: int, dst: int):
    """Linear interpolation indices/weights as torch's align_corners=False computes them."""
    pos = np.maximum((np.arange(dst) + 0.5) * (src / dst) - 0.5, 0.0)
    i0 = np.minimum(np.floor(pos).astype(np.int64), src - 1)
    i1 = np.minimum(i0 + 1, src - 1)
    w1 = (pos - i0).astype(F32)
    w0 = (1.0 - w1).astype(F32)
    return i0.astype(np.int32), i1.astype(np.int32), w0, w1


def small_config(**changes) -> TinyMyoConfig:
    """A small TinyMyo for fast tests (overridable sizes)."""
    base = dict(channels=2, samples=40, patch_size=10, dim=16, depth=1, heads=2, classes=3, reg_hidden=8,
                reg_target_len=10)
    base.update(changes)
    return TinyMyoConfig(**base)
