"""Helpers shared by the quantizer's tests (no tests here): small float TinyMyo ONNX files as the exporter writes
them, weights that exercise every graph form, real 3DC windows when ../shared has them."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import onnx
import torch

from tinymyo_edge.model import TinyMyo, TinyMyoConfig

SHARED = Path(os.environ.get("TINYMYO_SHARED", Path(__file__).resolve().parents[2] / "shared"))
THREEDC = SHARED / "data" / "3dc" / "participant02.npz"


def small_config(**changes) -> TinyMyoConfig:
    base = dict(channels=3, samples=100, patch_size=20, dim=24, depth=1, heads=2, classes=4, reg_hidden=16,
                reg_target_len=12)
    base.update(changes)
    return TinyMyoConfig(**base)


def make_model(cfg: TinyMyoConfig, seed: int = 0, trained_like: bool = True) -> TinyMyo:
    """trained_like: non-trivial LayerNorm affine and biases (the graph then keeps the Mul/Add nodes that onnxsim
    removes for the upstream initialisation's ones and zeros)."""
    torch.manual_seed(seed)
    model = TinyMyo(cfg).eval()
    if trained_like:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("bias"):
                    p.copy_(0.1 * torch.randn_like(p))
                elif "norm" in name and name.endswith("weight"):
                    p.copy_(1.0 + 0.2 * torch.randn_like(p))
    return model


def export_float(model: TinyMyo, path: Path, opset: int = 13) -> Path:
    """The project's exporter (default NNTool form) when present, else the same recipe inline."""
    try:
        from tinymyo_edge.export import export_onnx
    except ImportError:
        export_onnx = None
    if export_onnx is not None:
        export_onnx(model, path, opset=opset, force=True)
        return path
    import onnxsim

    cfg = model.cfg
    model.set_export_form(True)
    name = {"classification": "logits", "regression": "kinematics", "reconstruction": "reconstruction"}[cfg.head]
    x = torch.randn(1, cfg.channels, cfg.samples)
    torch.onnx.export(model.eval(), (x,), str(path), dynamo=False, opset_version=opset, input_names=["emg"],
                      output_names=[name], do_constant_folding=True)
    simplified, ok = onnxsim.simplify(onnx.load(str(path)))
    assert ok
    onnx.save(simplified, str(path))
    model.set_export_form(False)
    return path


def calib_windows(cfg: TinyMyoConfig, n: int = 8, seed: int = 1) -> np.ndarray:
    """Random EMG-like windows: per-channel scaled noise with a few bursts (heavier tails than a Gaussian)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cfg.channels, cfg.samples)) * rng.uniform(0.5, 2.0, (n, cfg.channels, 1))
    x[:, :, : cfg.samples // 4] *= 3.0
    return x.astype(np.float32)


@functools.lru_cache(maxsize=1)
def _threedc_windows() -> np.ndarray:
    from tinymyo_edge.data import windows_from_3dc

    return windows_from_3dc(THREEDC, window=1000, split=1).x  # (N, 10, 1000), z-scored per window


def real_windows(channels: int, samples: int, n: int = 4) -> np.ndarray | None:
    """n real 3DC windows cut to `channels` x `samples` (channels beyond 3DC's 10 repeat them), or None when
    ../shared is absent."""
    if not THREEDC.is_file() or samples > 1000:
        return None
    base = _threedc_windows()
    x = base[np.linspace(0, len(base) - 1, n).round().astype(int), :, :samples]
    x = np.concatenate([x] * (channels // x.shape[1] + 1), axis=1)[:, :channels]
    return np.ascontiguousarray(x, dtype=np.float32)
