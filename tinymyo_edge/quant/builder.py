"""Build the integer Program from a recovered float TinyMyo, calibrating op by op on the int8 pipeline itself.

Sequential calibration: each op's output scale is chosen from the float function of that op applied to the
*dequantized integer inputs* the program really produces on the calibration windows (not the float model's own
activations), then the op's integer constants are fixed and its integer reference is run to feed the next op. So
the errors of earlier layers are part of what later layers are calibrated on, and do not compound unseen.

IR names follow the float model's modules (blocks.3.attn.q, blocks.3.mlp.act, model_head.classifier, ...); the
output of a block is named after the block (blocks.3).
"""

from __future__ import annotations

import json
import math

import numpy as np
from tqdm import tqdm

from .. import numerics as nx
from ..errors import TinyMyoError
from ..ir.program import (Attention, DepthwiseConv1d, DType, Interpolate, LayerNorm, Linear, LinearDequant, Lut, Op,
                          PatchFeatures, Program, QuantizeInput, Reshape, ResidualAdd, TensorInfo, TokenMean)
from ..model import TinyMyo
from .calibrate import (DEFAULT_PERCENTILE, default_method, activation_range, activation_scale, bias_codes,
                        fold_input_zero_point, weight_scales)

# The softmax of `quantize` (Attention.softmax). DEFAULT "deferred": integer scores, u8 numerators relative to the
# row maximum (the largest is always 255), one reciprocal per output row; probabilities are never formed, so a
# diffuse row over 400 tokens keeps 8 bits per entry where normalised u8 probabilities round most entries to 0 or 1
# (93 % top-1 agreement with float on a trained 400-token TinyMyo at prob_bits 8 against 99.4 % at 12 bits,
# bench/results/quant.json), and p.v stays a u8 x s8 dot product (4-way SIMD on the cluster) where prob_bits 12
# needs a scalar 16-bit p.v. "normalized" keeps the older path, prob_bits 8..16 (DEFAULT_PROB_BITS when chosen).
DEFAULT_SOFTMAX = "deferred"
SOFTMAXES = ("deferred", "normalized")
DEFAULT_PROB_BITS = 12

F32 = np.float32
INPUT = "input"
# The MLP's GELU output is calibrated one-sided (an asymmetric zero point): its only consumer, fc2, is a Linear
# that folds the zero point into its bias. Other tables stay symmetric: a SiLU feeds the depthwise conv (padding is
# code 128 per tap), the speech GELUs feed Conv1d (the same). Measured on a trained 3DC model (16 test windows):
# the GELU outputs gain 4.2-4.9 dB of round-trip error, LN/residual/q/k/v outputs -1.0..+1.4 dB (not done).
ASYMMETRIC_GELU = True
_SCORE_SEARCH = np.geomspace(1.0, 0.04, 16)  # score clip candidates as fractions of max |score|
_SCORE_WINDOWS = 2  # windows whose q.k^T rows choose the score scale
# ops whose reference maps each row (last axis) of its inputs on its own with the same constants: the builder runs
# them on all calibration windows at once (rows of every window stacked) instead of window by window; the same
# integers (tests/test_quant_speed.py checks every kind against the per-window reference)
ROWWISE_KINDS = frozenset({"quantize_input", "linear", "linear_dequant", "lut", "layernorm", "residual_add"})
# deferred softmax: candidate real scores of one integer score unit. lut8 reaches 0 at d step > ln(510) = 6.2, so
# steps near ln(510) / 255 = 0.024 use the whole d range 0..255; smaller ones resolve scores finer but give every
# score further than 255 units below the row maximum lut8[255] > 0.
_STEP_SEARCH = np.geomspace(0.008, 0.2, 17)


def _f32(v) -> float:
    return float(np.float32(v))


def _fixed(m: float) -> tuple[int, int]:
    """One real multiplier -> (M, S) Python ints (numerics.fixed_multiplier)."""
    mult, shift = nx.fixed_multiplier(float(m))
    return int(mult[0]), int(shift[0])


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def interpolation_plan(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation src -> dst as torch's align_corners=False: indices and float32 weights."""
    pos = np.maximum((np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5, 0.0)
    i0 = np.minimum(np.floor(pos).astype(np.int64), src - 1)
    i1 = np.minimum(i0 + 1, src - 1)
    w1 = pos - i0
    return i0.astype(np.int32), i1.astype(np.int32), (1.0 - w1).astype(F32), w1.astype(F32)


def run_windows(op: Op, inputs: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """op.reference on a batch of windows, inputs (B, *input shape) -> (B, *shape): one call for ROWWISE_KINDS,
    else one call per window."""
    windows = len(inputs[0])
    if op.kind in ROWWISE_KINDS and all(v.shape[1:] == inputs[0].shape[1:] for v in inputs):
        rows = [v.reshape(-1, v.shape[-1]) for v in inputs]
        return op.reference(*rows).reshape(windows, *shape)
    return np.stack([op.reference(*(v[w] for v in inputs)) for w in range(windows)])


class ProgramBuilder:
    """Appends ops in execution order, calibrating each on the integer values the program computes so far."""

    def __init__(self, model: TinyMyo, calib_x: np.ndarray, *, method: str | None = None,
                 percentile: float = DEFAULT_PERCENTILE, progress: bool = True, prob_bits: int = DEFAULT_PROB_BITS,
                 softmax: str = DEFAULT_SOFTMAX):
        self.cfg = model.cfg
        self.params = {k: v.detach().cpu().numpy().astype(F32) for k, v in model.state_dict().items()}
        self.method, self.percentile = method or default_method(self.cfg.head), percentile
        self.prob_bits, self.prob_max = prob_bits, (1 << prob_bits) - 1
        if softmax not in SOFTMAXES:
            raise ValueError(f"unknown softmax {softmax!r}; choose one of {', '.join(SOFTMAXES)}")
        self.softmax = softmax
        self.tensors: dict[str, TensorInfo] = {}
        self.ops: list[Op] = []
        self.values: dict[str, np.ndarray] = {INPUT: np.asarray(calib_x, dtype=F32)}  # (B, *shape) per tensor
        self.progress = progress
        self.calibration: dict[str, dict] = {}  # per op: what was chosen, for the report

    # ------------------------------------------------------------------------------------------ infrastructure
    def deq(self, name: str) -> np.ndarray:
        info = self.tensors[name]
        v = self.values[name]
        if info.dtype is DType.F32:
            return v.astype(F32)
        return (v.astype(F32) - F32(info.zero_point)) * F32(info.scale)  # float32: calibration targets only

    def scale_for(self, target: np.ndarray) -> float:
        return activation_scale(target, self.method, self.percentile)

    def range_for(self, target: np.ndarray) -> tuple[float, int]:
        """(scale, zero point) of a one-sided tensor (calibrate.activation_range); like scale_for, the one place the
        builder turns a float target into a range (quant/ablation.py intercepts both)."""
        return activation_range(target, self.method, self.percentile)

    def push(self, op: Op, info: TensorInfo) -> str:
        self.tensors[op.output] = info
        self.ops.append(op)
        self.values[op.output] = run_windows(op, [self.values[i] for i in op.inputs], info.shape)
        return op.output

    def act(self, name: str, shape: tuple[int, ...], scale: float, zero_point: int = nx.ACT_ZERO_POINT) -> TensorInfo:
        return TensorInfo(name, tuple(shape), DType.U8, _f32(scale), int(zero_point))

    def p(self, key: str) -> np.ndarray:
        return self.params[key]

    # ------------------------------------------------------------------------------------------------- layers
    def linear(self, name: str, x: str, weight: np.ndarray, bias: np.ndarray, *, dequant: bool = False) -> str:
        s_x, z_x = self.tensors[x].scale, self.tensors[x].zero_point
        wq, sw = weight_scales(weight)
        acc_scale = (F32(s_x) * sw).astype(F32)
        bq = fold_input_zero_point(bias_codes(bias, acc_scale, name), wq, z_x, name)
        rows = self.tensors[x].shape[0]
        if dequant:
            op = LinearDequant(name, (x,), name, weight=wq, bias=bq, scale=acc_scale)
            return self.push(op, TensorInfo(name, (rows, weight.shape[0]), DType.F32))
        target = self.deq(x) @ weight.T + bias
        s_out = self.scale_for(target)
        mult, shift = nx.fixed_multiplier(float(s_x) * sw.astype(np.float64) / float(s_out))
        op = Linear(name, (x,), name, weight=wq, bias=bq, mult=mult.astype(np.int32), shift=shift.astype(np.int32),
                    zero_point=nx.ACT_ZERO_POINT)
        self.calibration[name] = {"scale": _f32(s_out), "weight_scale_max": float(sw.max())}
        return self.push(op, self.act(name, (rows, weight.shape[0]), s_out))

    def layernorm(self, name: str, x: str, prefix: str) -> str:
        gamma, beta = self.p(prefix + ".weight"), self.p(prefix + ".bias")
        s_out = self.scale_for(_layernorm(self.deq(x), gamma, beta))
        dim = self.tensors[x].shape[-1]
        info = self.act(name, self.tensors[x].shape, s_out)
        try:
            gain, bias, shift = nx.layernorm_affine(gamma / np.float64(info.scale), beta / np.float64(info.scale),
                                                    dim, nx.LN_FRAC_BITS, name)
            recip = nx.layernorm_recip_bits(dim, nx.LN_FRAC_BITS)
        except ValueError as exc:
            raise TinyMyoError(str(exc)) from exc
        op = LayerNorm(name, (x,), name, gain=gain, bias=bias, shift=shift, recip_bits=recip,
                       frac_bits=nx.LN_FRAC_BITS, zero_point=info.zero_point)
        self.calibration[name] = {"scale": _f32(s_out)}
        return self.push(op, info)

    def residual(self, name: str, a: str, b: str) -> str:
        s_out = self.scale_for(self.deq(a) + self.deq(b))
        info = self.act(name, self.tensors[a].shape, s_out)
        ta, tb = self.tensors[a], self.tensors[b]
        try:
            ma, mb, t = nx.residual_constants(ta.scale / info.scale, tb.scale / info.scale, name)
        except ValueError as exc:
            raise TinyMyoError(str(exc)) from exc
        op = ResidualAdd(name, (a, b), name, mult_a=ma, mult_b=mb, shift=t, zero_a=ta.zero_point,
                         zero_b=tb.zero_point, zero_y=info.zero_point)
        self.calibration[name] = {"scale": _f32(s_out)}
        return self.push(op, info)

    def lut(self, name: str, x: str, function: str, *, asymmetric: bool = False) -> str:
        """The table maps input codes (the input's zero point) to output codes; asymmetric: the output gets a
        one-sided range (calibrate.activation_range), for consumers that fold the zero point (a Linear)."""
        fn, make = {"gelu": (_gelu, nx.gelu_lut), "silu": (_silu, nx.silu_lut)}[function]
        s_x, z_x = self.tensors[x].scale, self.tensors[x].zero_point
        target = fn(self.deq(x))
        if asymmetric:
            s_out, z_out = self.range_for(target)
        else:
            s_out, z_out = self.scale_for(target), nx.ACT_ZERO_POINT
        op = Lut(name, (x,), name, table=make(s_x, s_out, z_x, z_out), function=function)
        self.calibration[name] = {"scale": _f32(s_out), "zero_point": int(z_out)}
        return self.push(op, self.act(name, self.tensors[x].shape, s_out, z_out))

    def attention(self, name: str, q: str, k: str, v: str) -> str:
        for t in (q, k, v):
            if self.tensors[t].zero_point != nx.ACT_ZERO_POINT:
                raise ValueError(f"{name}: attention needs zero point {nx.ACT_ZERO_POINT} on {t}")
        if self.softmax == "deferred":
            return self.attention_deferred(name, q, k, v)
        heads, (n, d) = self.cfg.heads, self.tensors[q].shape
        hd = d // heads
        sq, sk, sv = (self.tensors[t].scale for t in (q, k, v))
        qf, kf, vf = self.deq(q), self.deq(k), self.deq(v)
        bits = nx.exp_lut_bits(n, self.prob_max)
        score_mult, luts, target = [], [], np.empty_like(qf)
        chosen = []
        for h in range(heads):
            cols = slice(h * hd, (h + 1) * hd)
            scores = qf[:, :, cols] @ kf[:, :, cols].transpose(0, 2, 1) / math.sqrt(hd)  # (B, N, N)
            target[:, :, cols] = _softmax(scores) @ vf[:, :, cols]
            s_sc = self._score_scale(scores, vf[:, :, cols], bits)
            chosen.append(s_sc)
            score_mult.append(_f32(sq * sk / (math.sqrt(hd) * s_sc)))
            luts.append(nx.exp_lut(s_sc, bits))
        s_out = self.scale_for(target)
        op = Attention(name, (q, k, v), name, heads=heads, score_mult=np.array(score_mult, F32),
                       exp_lut=np.stack(luts).astype(np.int32),
                       out_mult=np.full(heads, _f32(sv / (self.prob_max * s_out)), F32), prob_bits=self.prob_bits)
        self.calibration[name] = {"scale": _f32(s_out), "score_scales": [float(s) for s in chosen], "exp_bits": bits}
        return self.push(op, self.act(name, (n, d), s_out))

    def attention_deferred(self, name: str, q: str, k: str, v: str) -> str:
        """Deferred softmax (nx.attention_deferred_head): per head the score step chosen on the integer q.k^T of a
        few windows, M/S of the scores under the int32 product and int16 score bounds (quant/ranges.py proves
        them), lut8 from the step M/S really give, Mo/So = s_v / s_out."""
        heads, (n, d) = self.cfg.heads, self.tensors[q].shape
        hd = d // heads
        sq, sk, sv = (self.tensors[t].scale for t in (q, k, v))
        qf, kf, vf = self.deq(q), self.deq(k), self.deq(v)
        qc, kc, vc = (nx.centered(self.values[t]) for t in (q, k, v))
        target = np.empty_like(qf)
        consts = {key: [] for key in ("score_fixed", "score_shift", "exp_lut8")}
        steps = []
        for h in range(heads):
            cols = slice(h * hd, (h + 1) * hd)
            scores = qf[:, :, cols] @ kf[:, :, cols].transpose(0, 2, 1) / math.sqrt(hd)  # (B, N, N)
            target[:, :, cols] = _softmax(scores) @ vf[:, :, cols]
            mult, shift = self._score_fixed(qc[:, :, cols], kc[:, :, cols], vc[:, :, cols], scores, sq, sk, sv, hd)
            step = nx.score_step(sq, sk, hd, mult, shift)
            steps.append(step)
            consts["score_fixed"].append(mult)
            consts["score_shift"].append(shift)
            consts["exp_lut8"].append(nx.exp_lut8(step))
        s_out = self.scale_for(target)
        out_fixed, out_shift = nx.fixed_multiplier(sv / s_out)
        op = Attention(name, (q, k, v), name, heads=heads, softmax="deferred",
                       score_fixed=np.array(consts["score_fixed"], np.int32),
                       score_shift=np.array(consts["score_shift"], np.int32),
                       exp_lut8=np.stack(consts["exp_lut8"]).astype(np.uint8),
                       out_fixed=np.full(heads, out_fixed[0], np.int32), out_shift=np.full(heads, out_shift[0], np.int32))
        self.calibration[name] = {"scale": _f32(s_out), "softmax": "deferred", "score_steps": steps}
        return self.push(op, self.act(name, (n, d), s_out))

    def _score_fixed(self, qc, kc, vc, scores, sq, sk, sv, hd) -> tuple[int, int]:
        """(M, S) of the integer scores of one head whose step minimises the deferred softmax's output error
        against the float softmax of the dequantised q, k, v on a few windows, among _STEP_SEARCH steps no finer
        than the int16 score bound allows (|acc| <= hd 2**14 must map to |t| <= 2**15 - 1)."""
        picked = np.linspace(0, len(scores) - 1, min(len(scores), _SCORE_WINDOWS)).round().astype(int)
        acc_max = hd * 128 * 128
        unit = sq * sk / math.sqrt(hd)  # the real score of one accumulator unit
        floor = unit * acc_max / (nx.SCORE_INT16_MAX - 1)  # finer steps could overflow the int16 scores
        want = _softmax(scores[picked]) @ (vc[picked].astype(F32) * F32(sv))
        acc = np.stack([nx.matmul_acc(qc[w], kc[w].T) for w in picked])
        best, best_err = None, np.inf
        for step in sorted({max(float(s), floor) for s in _STEP_SEARCH}):
            mult, shift = nx.score_fixed(unit / step, acc_max)
            e, total = nx.softmax_deferred(nx.round_shift(acc * np.int64(mult), shift),
                                           nx.exp_lut8(nx.score_step(sq, sk, hd, mult, shift)))
            got = np.stack([nx.matmul_acc(e[i], vc[w]) for i, w in enumerate(picked)]) * (sv / total)
            err = float(np.mean((got - want) ** 2))
            if err < best_err:
                best, best_err = (mult, shift), err
        return best

    def _score_scale(self, scores: np.ndarray, v: np.ndarray, bits: int) -> float:
        """Score scale minimising the attention output error of the integer softmax on a few windows: too coarse
        a scale merges close scores, too fine saturates the largest ones (which carry the probability mass).
        (Also fitting a per-head output gain to the mass lost by rounding probabilities was tried: it helped one
        model and hurt another at prob_bits 8, and is ~1 at 12 bits, so it is not done.)"""
        picked = np.linspace(0, len(scores) - 1, min(len(scores), _SCORE_WINDOWS)).round().astype(int)
        s, vv = scores[picked], v[picked]  # (W, N, N), (W, N, hd)
        want = _softmax(s) @ vv
        top = float(np.max(np.abs(scores)))
        if top <= 0:
            return 1.0
        best, best_err = 1.0, np.inf
        for f in _SCORE_SEARCH:
            sc = _f32(top * f / 127.0)
            codes = nx.saturate_u8(np.rint(s / sc) + nx.ACT_ZERO_POINT)
            p = nx.softmax_int(codes, nx.exp_lut(sc, bits), self.prob_max).astype(F32) / F32(self.prob_max)
            err = float(np.mean((p @ vv - want) ** 2))
            if err < best_err:
                best, best_err = sc, err
        return best

    def token_mean(self, name: str, x: str) -> str:
        cfg = self.cfg
        n, d = self.tensors[x].shape
        xf = self.deq(x).reshape(-1, cfg.channels, cfg.patches, d)
        if cfg.reduction == "concat":
            target, count = xf.mean(axis=2).reshape(len(xf), 1, -1), cfg.patches
        else:
            target, count = xf.mean(axis=(1, 2)).reshape(len(xf), 1, d), n
        s_out = self.scale_for(target)
        mult, shift = _fixed(self.tensors[x].scale / (count * s_out))
        op = TokenMean(name, (x,), name, channels=cfg.channels, reduction=cfg.reduction, mult=mult, shift=shift)
        self.calibration[name] = {"scale": _f32(s_out)}
        return self.push(op, self.act(name, (1, target.shape[-1]), s_out))

    def patch_features(self, name: str, x: str) -> str:
        cfg = self.cfg
        s_x = self.tensors[x].scale
        if cfg.reduction == "concat":
            op = PatchFeatures(name, (x,), name, channels=cfg.channels, reduction="concat")
            return self.push(op, self.act(name, (cfg.patches, cfg.feat_dim), s_x))
        target = self.deq(x).reshape(-1, cfg.channels, cfg.patches, cfg.dim).mean(axis=1)
        s_out = self.scale_for(target)
        mult, shift = _fixed(s_x / (cfg.channels * s_out))
        op = PatchFeatures(name, (x,), name, channels=cfg.channels, reduction="mean", mult=mult, shift=shift)
        self.calibration[name] = {"scale": _f32(s_out)}
        return self.push(op, self.act(name, (cfg.patches, cfg.dim), s_out))

    def depthwise(self, name: str, x: str, weight: np.ndarray, bias: np.ndarray) -> str:
        s_x = self.tensors[x].scale
        w = weight.reshape(weight.shape[0], 3)
        wq, sw = weight_scales(w)
        bq = bias_codes(bias, (F32(s_x) * sw).astype(F32), name)
        xf = np.pad(self.deq(x), ((0, 0), (1, 1), (0, 0)))
        p = self.tensors[x].shape[0]
        target = bias + sum(w[:, j] * xf[:, j : j + p] for j in range(3))
        s_out = self.scale_for(target)
        mult, shift = nx.fixed_multiplier(float(s_x) * sw.astype(np.float64) / float(s_out))
        op = DepthwiseConv1d(name, (x,), name, weight=wq, bias=bq, mult=mult.astype(np.int32),
                             shift=shift.astype(np.int32))
        self.calibration[name] = {"scale": _f32(s_out)}
        return self.push(op, self.act(name, self.tensors[x].shape, s_out))

    # -------------------------------------------------------------------------------------------- the model
    def build(self) -> Program:
        cfg = self.cfg
        self.tensors[INPUT] = TensorInfo(INPUT, (cfg.channels, cfg.samples), DType.F32)
        steps = [("input", self._stem)] + [(f"blocks.{i}", lambda i=i: self._block(i)) for i in range(cfg.depth)]
        steps += [("head", self._head)]
        self.cursor = None
        for _, step in tqdm(steps, desc="calibrating", unit="layer", disable=not self.progress, leave=False):
            step()
        meta = {"calibration_method": self.method, "calibration_windows": str(len(self.values[INPUT])),
                "calibration": json.dumps(self.calibration, sort_keys=True)}
        if self.method == "percentile":
            meta["calibration_percentile"] = repr(self.percentile)
        return Program(dict(self.tensors), tuple(self.ops), INPUT, self.cursor, meta)

    def _stem(self) -> None:
        cfg = self.cfg
        s_in = self.scale_for(self.values[INPUT])
        self.push(QuantizeInput("input_q", (INPUT,), "input_q", scale=_f32(s_in)),
                  self.act("input_q", (cfg.channels, cfg.samples), s_in))
        self.push(Reshape("patches", ("input_q",), "patches", shape=(cfg.tokens, cfg.patch_size)),
                  self.act("patches", (cfg.tokens, cfg.patch_size), s_in))
        pe = "patch_embedding.patch_embed.proj"
        self.cursor = self.linear(pe, "patches", self.p(pe + ".weight").reshape(cfg.dim, cfg.patch_size),
                                  self.p(pe + ".bias"))

    def _block(self, i: int) -> None:
        d, p, x = self.cfg.dim, f"blocks.{i}", self.cursor
        y = self.layernorm(f"{p}.norm1", x, f"{p}.norm1")
        w, b = self.p(f"{p}.attn.qkv.weight"), self.p(f"{p}.attn.qkv.bias")
        q, k, v = (self.linear(f"{p}.attn.{part}", y, w[j * d : (j + 1) * d], b[j * d : (j + 1) * d])
                   for j, part in enumerate("qkv"))
        a = self.attention(f"{p}.attn", q, k, v)
        o = self.linear(f"{p}.attn.proj", a, self.p(f"{p}.attn.proj.weight"), self.p(f"{p}.attn.proj.bias"))
        x = self.residual(f"{p}.residual1", x, o)
        y = self.layernorm(f"{p}.norm2", x, f"{p}.norm2")
        h = self.linear(f"{p}.mlp.fc1", y, self.p(f"{p}.mlp.fc1.weight"), self.p(f"{p}.mlp.fc1.bias"))
        h = self.lut(f"{p}.mlp.act", h, "gelu", asymmetric=ASYMMETRIC_GELU)
        o = self.linear(f"{p}.mlp.fc2", h, self.p(f"{p}.mlp.fc2.weight"), self.p(f"{p}.mlp.fc2.bias"))
        self.cursor = self.residual(p, x, o)

    def _head(self) -> None:
        cfg = self.cfg
        x = self.layernorm("norm", self.cursor, "norm")
        if cfg.head == "classification":
            x = self.token_mean("model_head.pool", x)
            w, b = self.p("model_head.classifier.weight"), self.p("model_head.classifier.bias")
            self.cursor = self.linear("model_head.classifier", x, w, b, dequant=True)
        elif cfg.head == "reconstruction":
            w, b = self.p("model_head.decoder_pred.weight"), self.p("model_head.decoder_pred.bias")
            self.cursor = self.linear("model_head.decoder_pred", x, w, b, dequant=True)
        else:
            r = "model_head.regressor"
            x = self.patch_features("model_head.features", x)
            x = self.linear(f"{r}.0", x, self.p(f"{r}.0.weight")[:, :, 0], self.p(f"{r}.0.bias"))
            x = self.lut(f"{r}.1", x, "silu")
            x = self.depthwise(f"{r}.3", x, self.p(f"{r}.3.weight"), self.p(f"{r}.3.bias"))
            x = self.lut(f"{r}.4", x, "silu")
            x = self.linear(f"{r}.5", x, self.p(f"{r}.5.weight")[:, :, 0], self.p(f"{r}.5.bias"), dequant=True)
            if cfg.patches != cfg.reg_target_len:
                i0, i1, w0, w1 = interpolation_plan(cfg.patches, cfg.reg_target_len)
                name = "model_head.interpolate"
                op = Interpolate(name, (x,), name, index0=i0, index1=i1, weight0=w0, weight1=w1)
                x = self.push(op, TensorInfo(name, (cfg.reg_target_len, cfg.classes), DType.F32))
            self.cursor = x


def build_program(model: TinyMyo, calib_x: np.ndarray, *, method: str | None = None,
                  percentile: float = DEFAULT_PERCENTILE, progress: bool = True, prob_bits: int = DEFAULT_PROB_BITS,
                  softmax: str = DEFAULT_SOFTMAX) -> Program:
    """Recovered float TinyMyo + calibration windows (B, C, T) -> integer Program."""
    builder = ProgramBuilder(model.eval(), calib_x, method=method, percentile=percentile, progress=progress,
                             prob_bits=prob_bits, softmax=softmax)
    program = builder.build()
    program.metadata["tinymyo_config"] = json.dumps(model.cfg.to_dict(), sort_keys=True)
    return program
