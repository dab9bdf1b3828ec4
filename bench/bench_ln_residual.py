"""Accuracy of the integer-only LayerNorm and ResidualAdd (issue 13) against float, and against the previous
numerics (integer statistics + one float affine step; float32 residual), on a trained model.

Per op: the op's own integer inputs (as the quantized program computes them on held-out windows) go through
(a) the float function (float64 LayerNorm with the model's gamma/beta, eps 1e-5; the float sum), (b) the integer op
of this commit, (c) the previous formula with the same output scale. QSNR = 10 log10(sum t^2 / sum (t - q)^2), q the
dequantized output, t the float function. End to end: the whole program with this commit's ops vs the same program
with every LayerNorm / ResidualAdd replaced by the previous formula (all other constants equal), both against the
float model: output QSNR and top-1 agreement.

    python bench/bench_ln_residual.py --checkpoint /work/ckpt/acc100/p01/model.safetensors \
        --data /work/ckpt/acc100/p01            # train.npz (calibration) and test.npz (evaluation) there
Writes bench/results/ln_residual.json (measured: host CPU, numpy golden executor).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO_ROOT, metric, write_results  # noqa: E402

from tinymyo_edge import numerics as nx  # noqa: E402

F32 = np.float32
PREVIOUS_LN_FRAC_BITS = 14  # the previous LayerNorm: n = (c << 14) / sd truncating, y = rne(f32(n) g + b) + 128


def previous_layernorm(x, gamma, beta, s_out):
    """The previous numerics.layernorm_int (main 90d5a86), gain/bias derived as the previous builder did."""
    gain = (gamma / (2.0**PREVIOUS_LN_FRAC_BITS * s_out)).astype(F32)
    bias = (beta / s_out).astype(F32)
    xi = np.asarray(x, dtype=np.int64)
    dim = xi.shape[-1]
    c = dim * xi - xi.sum(axis=-1, keepdims=True)
    var = (c * c).sum(axis=-1, keepdims=True) // dim
    sd = np.maximum(1, nx.isqrt_floor(var))
    n = nx.trunc_div(c * (1 << PREVIOUS_LN_FRAC_BITS), sd)
    t = (n.astype(F32) * gain).astype(F32)
    t = (t + bias).astype(F32)
    return nx.saturate_u8(nx.round_half_even(t).astype(np.float64) + nx.ACT_ZERO_POINT)


def previous_residual(a, b, ra, rb):
    """The previous numerics.residual_add: three float32 operations, ra = f32(s_a / s_y)."""
    fa = ((np.asarray(a, dtype=F32) - F32(128)) * F32(ra)).astype(F32)
    fb = ((np.asarray(b, dtype=F32) - F32(128)) * F32(rb)).astype(F32)
    return nx.saturate_u8(nx.round_half_even((fa + fb).astype(F32)).astype(np.float64) + 128)


class _PreviousOp:
    """Stands in for an IR op in Program.run (which reads inputs, output and reference only)."""

    def __init__(self, op, fn):
        self.name, self.inputs, self.output, self.kind, self.fn = op.name, op.inputs, op.output, op.kind, fn

    def reference(self, *args):
        return self.fn(*args)


def qsnr(target: np.ndarray, value: np.ndarray) -> float:
    t, v = np.asarray(target, np.float64), np.asarray(value, np.float64)
    return float(10 * np.log10(np.sum(t * t) / max(np.sum((t - v) ** 2), 1e-30)))


def deq(codes, info):
    return (np.asarray(codes, np.float64) - info.zero_point) * info.scale


def float_layernorm(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="/work/ckpt/acc100/p01/model.safetensors")
    parser.add_argument("--data", default=None, help="folder with train.npz and test.npz (default: the checkpoint's)")
    parser.add_argument("--calib", type=int, default=64, help="calibration windows (evenly spaced in train.npz)")
    parser.add_argument("--windows", type=int, default=256, help="evaluation windows (evenly spaced in test.npz)")
    parser.add_argument("--name", default="ln_residual")
    args = parser.parse_args()
    import torch

    from tinymyo_edge.model.checkpoint import load_checkpoint
    from tinymyo_edge.quant.builder import build_program

    data = Path(args.data or Path(args.checkpoint).parent)
    model = load_checkpoint(args.checkpoint)
    train, test = np.load(data / "train.npz")["x"], np.load(data / "test.npz")["x"]
    pick = lambda x, n: x[np.linspace(0, len(x) - 1, min(n, len(x))).round().astype(int)].astype(F32)  # noqa: E731
    calib, evalx = pick(train, args.calib), pick(test, args.windows)
    program = build_program(model, calib, progress=False)
    params = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in model.state_dict().items()}
    t = program.tensors

    per_op, sums = {}, {k: {"new": [0.0, 0.0], "previous": [0.0, 0.0]} for k in ("layernorm", "residual_add")}
    values = [program.run(x, keep=True) for x in evalx]
    previous_ops = []
    for op in program.ops:
        if op.kind not in ("layernorm", "residual_add"):
            previous_ops.append(op)
            continue
        ins = [np.stack([v[i] for v in values]) for i in op.inputs]
        out = t[op.output]
        if op.kind == "layernorm":
            gamma, beta = params[op.name + ".weight"], params[op.name + ".bias"]
            target = float_layernorm(deq(ins[0], t[op.inputs[0]]), gamma, beta)
            fn = (lambda g, b, s: lambda x: previous_layernorm(x, g, b, s))(gamma, beta, out.scale)
        else:
            target = deq(ins[0], t[op.inputs[0]]) + deq(ins[1], t[op.inputs[1]])
            ra, rb = t[op.inputs[0]].scale / out.scale, t[op.inputs[1]].scale / out.scale
            fn = (lambda ra, rb: lambda a, b: previous_residual(a, b, ra, rb))(ra, rb)
        new = deq(op.reference(*ins), out)
        old = deq(fn(*ins), out)
        per_op[op.name] = {"kind": op.kind, "qsnr_new_db": qsnr(target, new), "qsnr_previous_db": qsnr(target, old),
                           "codes_differing_new_vs_previous": float(np.mean(new != old))}
        for key, v in (("new", new), ("previous", old)):
            sums[op.kind][key][0] += float(np.sum(target**2))
            sums[op.kind][key][1] += float(np.sum((target - v) ** 2))
        previous_ops.append(_PreviousOp(op, fn))

    with torch.no_grad():
        ref = model(torch.from_numpy(evalx)).numpy().astype(np.float64)
    prev_program = type(program)(program.tensors, tuple(previous_ops), program.input, program.output)
    ends = {}
    for label, prog in (("new", program), ("previous", prev_program)):
        y = np.stack([prog.run(x)[prog.output] for x in evalx]).reshape(ref.shape).astype(np.float64)
        ends[label] = {"qsnr_db": qsnr(ref, y), "top1_agreement": float(np.mean(y.argmax(-1) == ref.argmax(-1)))}

    src = f"host CPU, numpy golden executor, {len(evalx)} windows of {data / 'test.npz'}"
    agg = {k: {m: 10 * np.log10(s / e) for m, (s, e) in v.items()} for k, v in sums.items()}
    metrics = {
        "layernorm_qsnr_new": metric(round(agg["layernorm"]["new"], 3), "dB", "measured", src),
        "layernorm_qsnr_previous": metric(round(agg["layernorm"]["previous"], 3), "dB", "measured", src),
        "residual_qsnr_new": metric(round(agg["residual_add"]["new"], 3), "dB", "measured", src),
        "residual_qsnr_previous": metric(round(agg["residual_add"]["previous"], 3), "dB", "measured", src),
        "output_qsnr_new": metric(round(ends["new"]["qsnr_db"], 3), "dB", "measured", src),
        "output_qsnr_previous": metric(round(ends["previous"]["qsnr_db"], 3), "dB", "measured", src),
        "top1_agreement_new": metric(ends["new"]["top1_agreement"], "", "measured", src),
        "top1_agreement_previous": metric(ends["previous"]["top1_agreement"], "", "measured", src),
    }
    commit = subprocess.run(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty=+modified"],
                            capture_output=True, text=True).stdout.strip()
    write_results(args.name, metrics, {"commit": commit, "checkpoint": args.checkpoint, "calibration_windows":
                                       len(calib), "per_op": per_op, "end_to_end": ends,
                                       "ln_frac_bits": nx.LN_FRAC_BITS})
    return 0


if __name__ == "__main__":
    sys.exit(main())
