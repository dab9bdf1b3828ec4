"""Per-layer quantisation report: every IR tensor, dequantized, against the float model's own activation (PyTorch
reference with forward hooks) on a few windows: QSNR (dB) and cosine. Terminal table, report.json, report.png."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..fileio import atomic_dir
from ..ir.program import DType, Program
from ..model import TinyMyo

REPORT_WINDOWS = 8


def float_activations(model: TinyMyo, x: np.ndarray) -> dict[str, np.ndarray]:
    """The float model's value of each IR tensor, named as the IR names them; arrays (B, *IR shape)."""
    cfg = model.cfg
    seen: dict[str, torch.Tensor] = {}
    hooks = []

    def keep(name, pre=False):
        def hook(module, args, out=None):
            seen[name] = (args[0] if pre else out).detach()
        return hook

    for name, module in model.named_modules():
        if name.startswith("blocks.") and name.count(".") == 1:
            hooks.append(module.register_forward_pre_hook(keep(name + ".input", pre=True)))
        if name.endswith(".attn.proj"):
            hooks.append(module.register_forward_pre_hook(keep(name + ".input", pre=True)))
        if name in ("model_head.classifier", "model_head.regressor"):
            hooks.append(module.register_forward_pre_hook(keep(name + ".input", pre=True)))
        hooks.append(module.register_forward_hook(keep(name)))
    try:
        with torch.no_grad():
            final = model.eval()(torch.from_numpy(np.asarray(x, np.float32)))
    finally:
        for h in hooks:
            h.remove()
    b, d = len(x), cfg.dim
    out = {"input": x, "input_q": x, "patches": x.reshape(b, cfg.tokens, cfg.patch_size),
           "patch_embedding.patch_embed.proj": seen["patch_embedding"], "norm": seen["norm"]}
    for i in range(cfg.depth):
        p = f"blocks.{i}"
        qkv = seen[f"{p}.attn.qkv"]
        out.update({f"{p}.attn.q": qkv[..., :d], f"{p}.attn.k": qkv[..., d : 2 * d], f"{p}.attn.v": qkv[..., 2 * d :],
                    f"{p}.residual1": seen[f"{p}.input"] + seen[f"{p}.attn.proj"], p: seen[p]})
        out[f"{p}.attn"] = seen[f"{p}.attn.proj.input"]  # heads concatenated, before the projection
        for part in ("norm1", "attn.proj", "norm2", "mlp.fc1", "mlp.act", "mlp.fc2"):
            out[f"{p}.{part}"] = seen[f"{p}.{part}"]
    if cfg.head == "classification":
        out["model_head.pool"] = seen["model_head.classifier.input"][:, None]
        out["model_head.classifier"] = final[:, None]
    elif cfg.head == "reconstruction":
        out["model_head.decoder_pred"] = final
    else:
        out["model_head.features"] = seen["model_head.regressor.input"].transpose(1, 2)
        for idx in ("0", "1", "3", "4", "5"):
            out[f"model_head.regressor.{idx}"] = seen[f"model_head.regressor.{idx}"].transpose(1, 2)
        out["model_head.interpolate"] = final
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def dequantized(program: Program, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for name, v in values.items():
        t = program.tensors[name]
        out[name] = v.astype(np.float64) if t.dtype is DType.F32 else (v.astype(np.float64) - t.zero_point) * t.scale
    return out


def qsnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    noise = float(np.sum((got - ref) ** 2))
    signal = float(np.sum(ref**2))
    if noise == 0:
        return float("inf")
    return 10.0 * np.log10(max(signal, 1e-30) / noise)


def cosine(ref: np.ndarray, got: np.ndarray) -> float:
    a, b = ref.ravel(), got.ravel()
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / den) if den > 0 else float(np.array_equal(a, b))


def layer_table(program: Program, model: TinyMyo, x: np.ndarray) -> list[dict]:
    """One row per IR tensor the float model also has: name, op kind, scale, QSNR, cosine (over the windows)."""
    ref = float_activations(model, x)
    runs = [dequantized(program, program.run(w, keep=True)) for w in x]
    kinds = {op.output: op.kind for op in program.ops}
    rows = []
    for name, info in program.tensors.items():
        if name not in ref or name == program.input:
            continue
        got = np.stack([r[name] for r in runs]).reshape(ref[name].shape)
        rows.append({"tensor": name, "op": kinds.get(name, "input"), "scale": info.scale,
                     "qsnr_db": qsnr_db(ref[name], got), "cosine": cosine(ref[name], got)})
    return rows


def output_agreement(program: Program, model: TinyMyo, x: np.ndarray) -> dict:
    """Cosine of int8 vs float outputs per window (min, mean) and, for classification, top-1 agreement."""
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(np.asarray(x, np.float32))).numpy().reshape(len(x), -1)
    got = np.stack([program.run(w)[program.output].ravel() for w in x])
    cos = [cosine(a.astype(np.float64), b.astype(np.float64)) for a, b in zip(ref, got)]
    out = {"windows": len(x), "cosine_min": float(np.min(cos)), "cosine_mean": float(np.mean(cos)),
           "qsnr_db": qsnr_db(ref.astype(np.float64), got.astype(np.float64))}
    if model.cfg.head == "classification":
        out["top1_agreement"] = float(np.mean(ref.argmax(1) == got.argmax(1)))
    return out


def format_table(rows: list[dict]) -> str:
    width = max(len(r["tensor"]) for r in rows)
    lines = [f"{'tensor':<{width}}  {'op':<16} {'scale':>10} {'QSNR dB':>8} {'cosine':>8}"]
    for r in rows:
        lines.append(f"{r['tensor']:<{width}}  {r['op']:<16} {r['scale']:>10.3g} {r['qsnr_db']:>8.2f} {r['cosine']:>8.5f}")
    return "\n".join(lines)


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(8, len(rows) * 0.18), 4.5))
    q = [min(r["qsnr_db"], 80.0) for r in rows]
    ax.plot(range(len(rows)), q, marker="o", ms=3)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["tensor"] for r in rows], rotation=90, fontsize=6)
    ax.set_ylabel("QSNR vs float (dB)")
    ax.set_title("int8 program vs float TinyMyo, per IR tensor")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(program: Program, model: TinyMyo, calib_x: np.ndarray, out_dir: Path, *, force: bool = False,
                 progress: bool = True, windows: int = REPORT_WINDOWS) -> dict:
    """Write report.json and report.png into out_dir (atomically) and print the table; returns the report."""
    x = np.asarray(calib_x[:windows], np.float32)
    rows = layer_table(program, model, x)
    report = {"config": model.cfg.to_dict(), "metadata": dict(program.metadata), "windows": len(x),
              "output": output_agreement(program, model, x), "layers": rows}
    with atomic_dir(out_dir, force=force) as tmp:
        (tmp / "report.json").write_text(json.dumps(report, indent=1))
        _plot(rows, tmp / "report.png")
    if progress:
        print(format_table(rows))
        print("output vs float:", ", ".join(f"{k} {v:.5g}" for k, v in report["output"].items()))
    return report
