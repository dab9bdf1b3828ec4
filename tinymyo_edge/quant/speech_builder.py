"""The integer Program of the speech model, calibrated op by op like TinyMyo's (builder.ProgramBuilder).

Op sequence (names follow the authors' modules):
    input_q (C, T) -> input_t (T, C) time-major
    conv_blocks.{b}: conv1 (k3, stride 2) -> act1 (GELU table) -> conv2 (k3) ; residual_path (k1, stride 2) ;
                     add (residual) -> conv_blocks.{b} (GELU table)                                 BatchNorm folded
    w_raw_in (Linear)
    blocks.{i}: attn.q/k/v -> attn (relative attention) -> attn.proj -> residual1 -> norm1 -> mlp.fc1 -> mlp.act ->
                mlp.fc2 -> residual2 -> blocks.{i} (norm2)                                            post-norm
    w_out (Linear, dequantised): (N, outputs) float32 logits / speech features
"""

from __future__ import annotations

import json
import math

import numpy as np
from tqdm import tqdm

from .. import numerics as nx
from ..ir.program import Conv1d, DType, Program, QuantizeInput, RelativeAttention, TensorInfo, Transpose
from ..model.speech import SpeechModel
from .builder import DEFAULT_PROB_BITS, F32, INPUT, ProgramBuilder, _f32, _softmax
from .calibrate import DEFAULT_PERCENTILE, SPEECH_METHOD, bias_codes, weight_scales

_SCORE_SEARCH = np.geomspace(1.0, 0.04, 16)
_SCORE_WINDOWS = 2


def _conv_float(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Float reference of the time-major conv on a batch (B, T, Cin), w (M, k, Cin) -> (B, T', M)."""
    xp = np.pad(x, ((0, 0), (padding, padding), (0, 0)))
    m, k, cin = w.shape
    t_out = (xp.shape[1] - k) // stride + 1
    cols = np.stack([xp[:, j : j + stride * (t_out - 1) + 1 : stride] for j in range(k)], axis=2)
    return cols.reshape(len(x), t_out, k * cin) @ w.reshape(m, k * cin).T + b


class SpeechProgramBuilder(ProgramBuilder):
    def __init__(self, model: SpeechModel, calib_x: np.ndarray, **kwargs):
        model = model.eval()
        if not all(block.folded for block in model.conv_blocks):
            from ..export_speech import export_form

            model = export_form(model)
        super().__init__(model, calib_x, **kwargs)

    def conv1d(self, name: str, x: str, prefix: str, stride: int, padding: int) -> str:
        w = np.transpose(self.p(prefix + ".weight"), (0, 2, 1)).copy()  # torch (M, Cin, k) -> tap-major (M, k, Cin)
        b = self.p(prefix + ".bias")
        s_x = self.tensors[x].scale
        wq, sw = weight_scales(w.reshape(w.shape[0], -1))
        bq = bias_codes(b, (F32(s_x) * sw).astype(F32), name)
        target = _conv_float(self.deq(x), w, b, stride, padding)
        s_out = self.scale_for(target)
        mult, shift = nx.fixed_multiplier(float(s_x) * sw.astype(np.float64) / float(s_out))
        op = Conv1d(name, (x,), name, weight=wq.reshape(w.shape), bias=bq, mult=mult.astype(np.int32),
                    shift=shift.astype(np.int32), stride=stride, padding=padding)
        self.calibration[name] = {"scale": _f32(s_out), "weight_scale_max": float(sw.max())}
        return self.push(op, self.act(name, target.shape[1:], s_out))

    def rel_attention(self, name: str, q: str, k: str, v: str, embeddings: np.ndarray) -> str:
        """embeddings: float (H, 2W - 1, hd). Position keys are coded in units of s_k / sqrt(hd) (int16)."""
        heads, (n, d) = self.cfg.heads, self.tensors[q].shape
        hd, window = d // heads, (embeddings.shape[1] + 1) // 2
        sq, sk, sv = (self.tensors[t].scale for t in (q, k, v))
        unit = sk / math.sqrt(hd)
        rel = np.clip(np.rint(embeddings / unit), -nx.REL_KEY_MAX, nx.REL_KEY_MAX).astype(np.int16)
        mask = nx.relative_window_mask(n, window)
        idx = nx.relative_index(n, window)
        qf, kf, vf = self.deq(q), self.deq(k), self.deq(v)
        bits = nx.exp_lut_bits(int(mask.sum(axis=1).max()), self.prob_max)
        target = np.empty_like(qf)
        score_mult, luts, chosen = [], [], []
        for h in range(heads):
            cols = slice(h * hd, (h + 1) * hd)
            pos = np.take_along_axis(qf[:, :, cols] @ embeddings[h].T, np.broadcast_to(idx, (len(qf), n, n)), axis=2)
            scores = qf[:, :, cols] @ kf[:, :, cols].transpose(0, 2, 1) / math.sqrt(hd) + pos
            scores = np.where(mask == 1, scores, -np.inf)
            target[:, :, cols] = _softmax(scores) @ vf[:, :, cols]
            s_sc = self._rel_score_scale(scores, vf[:, :, cols], mask, bits)
            chosen.append(s_sc)
            score_mult.append(_f32(sq * unit / s_sc))
            luts.append(nx.exp_lut(s_sc, bits))
        s_out = self.scale_for(target)
        op = RelativeAttention(name, (q, k, v), name, heads=heads, window=window, score_mult=np.array(score_mult, F32),
                               exp_lut=np.stack(luts).astype(np.int32),
                               out_mult=np.full(heads, _f32(sv / (self.prob_max * s_out)), F32), rel_key=rel,
                               prob_bits=self.prob_bits)
        self.calibration[name] = {"scale": _f32(s_out), "score_scales": [float(s) for s in chosen], "exp_bits": bits}
        return self.push(op, self.act(name, (n, d), s_out))

    def _rel_score_scale(self, scores, v, mask, bits) -> float:
        """As ProgramBuilder._score_scale, with the softmax restricted to the window."""
        picked = np.linspace(0, len(scores) - 1, min(len(scores), _SCORE_WINDOWS)).round().astype(int)
        s, vv = scores[picked], v[picked]
        want = _softmax(s) @ vv
        top = float(np.max(np.abs(np.where(mask == 1, scores, 0.0))))
        if top <= 0:
            return 1.0
        best, best_err = 1.0, np.inf
        for f in _SCORE_SEARCH:
            sc = _f32(top * f / 127.0)
            codes = nx.saturate_u8(np.rint(np.where(mask == 1, s, 0.0) / sc) + nx.ACT_ZERO_POINT)
            p = nx.softmax_int_masked(codes, nx.exp_lut(sc, bits), mask, self.prob_max).astype(F32) / F32(self.prob_max)
            err = float(np.mean((p @ vv - want) ** 2))
            if err < best_err:
                best, best_err = sc, err
        return best

    # -------------------------------------------------------------------------------------------- the model
    def build(self) -> Program:
        cfg = self.cfg
        self.tensors[INPUT] = TensorInfo(INPUT, (cfg.channels, cfg.samples), DType.F32)
        steps = [self._stem] + [lambda b=b: self._res_block(b) for b in range(3)] + [self._raw_in]
        steps += [lambda i=i: self._block(i) for i in range(cfg.depth)] + [self._head]
        for step in tqdm(steps, desc="calibrating", unit="layer", disable=not self.progress, leave=False):
            step()
        meta = {"calibration_method": self.method, "calibration_windows": str(len(self.values[INPUT])),
                "calibration": json.dumps(self.calibration, sort_keys=True), "family": "speech"}
        return Program(dict(self.tensors), tuple(self.ops), INPUT, self.cursor, meta)

    def _stem(self) -> None:
        cfg = self.cfg
        s_in = self.scale_for(self.values[INPUT])
        self.push(QuantizeInput("input_q", (INPUT,), "input_q", scale=_f32(s_in)),
                  self.act("input_q", (cfg.channels, cfg.samples), s_in))
        self.cursor = self.push(Transpose("input_t", ("input_q",), "input_t"),
                                self.act("input_t", (cfg.samples, cfg.channels), s_in))

    def _res_block(self, b: int) -> None:
        p, x = f"conv_blocks.{b}", self.cursor
        h = self.conv1d(f"{p}.conv1", x, f"{p}.conv1", 2, 1)
        h = self.lut(f"{p}.act1", h, "gelu")
        h = self.conv1d(f"{p}.conv2", h, f"{p}.conv2", 1, 1)
        s = self.conv1d(f"{p}.residual_path", x, f"{p}.residual_path", 2, 0)
        self.cursor = self.lut(p, self.residual(f"{p}.add", s, h), "gelu")

    def _raw_in(self) -> None:
        self.cursor = self.linear("w_raw_in", self.cursor, self.p("w_raw_in.weight"), self.p("w_raw_in.bias"))

    def _block(self, i: int) -> None:
        d, p, x = self.cfg.dim, f"blocks.{i}", self.cursor
        w, b = self.p(f"{p}.attn.qkv.weight"), self.p(f"{p}.attn.qkv.bias")
        q, k, v = (self.linear(f"{p}.attn.{part}", x, w[j * d : (j + 1) * d], b[j * d : (j + 1) * d])
                   for j, part in enumerate("qkv"))
        emb = self.p(f"{p}.attn.relative_positional.embeddings")[..., 0]
        a = self.rel_attention(f"{p}.attn", q, k, v, emb)
        o = self.linear(f"{p}.attn.proj", a, self.p(f"{p}.attn.proj.weight"), self.p(f"{p}.attn.proj.bias"))
        x = self.layernorm(f"{p}.norm1", self.residual(f"{p}.residual1", x, o), f"{p}.norm1")
        h = self.linear(f"{p}.mlp.fc1", x, self.p(f"{p}.mlp.fc1.weight"), self.p(f"{p}.mlp.fc1.bias"))
        h = self.lut(f"{p}.mlp.act", h, "gelu")
        o = self.linear(f"{p}.mlp.fc2", h, self.p(f"{p}.mlp.fc2.weight"), self.p(f"{p}.mlp.fc2.bias"))
        self.cursor = self.layernorm(p, self.residual(f"{p}.residual2", x, o), f"{p}.norm2")

    def _head(self) -> None:
        self.cursor = self.linear("w_out", self.cursor, self.p("w_out.weight"), self.p("w_out.bias"), dequant=True)


def build_speech_program(model: SpeechModel, calib_x: np.ndarray, *, method: str = SPEECH_METHOD,
                         percentile: float = DEFAULT_PERCENTILE, progress: bool = True,
                         prob_bits: int = DEFAULT_PROB_BITS) -> Program:
    builder = SpeechProgramBuilder(model, calib_x, method=method, percentile=percentile, progress=progress,
                                   prob_bits=prob_bits)
    program = builder.build()
    program.metadata["speech_config"] = json.dumps(builder.cfg.to_dict(), sort_keys=True)
    return program


