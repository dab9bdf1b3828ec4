"""The paper's deployed model (8 ch x 1000 samples, 400 tokens, dim 192, 8 blocks, 3 heads; upstream
initialisation): quantized on real EMG when ../shared has it, onnxruntime == golden executor, close to float."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinymyo_edge.model import TinyMyo, TinyMyoConfig
from tinymyo_edge.quant import quantize_model, read_program
from tinymyo_edge.quant.runtime import session

from test_quant_support import calib_windows, export_float, real_windows


@pytest.mark.slow
def test_default_model_quantizes_exactly_and_tracks_float(tmp_path):
    cfg = TinyMyoConfig()
    torch.manual_seed(0)
    model = TinyMyo(cfg).eval()
    path = export_float(model, tmp_path / "default.onnx")
    x = real_windows(cfg.channels, cfg.samples, n=6)
    if x is None:
        x = calib_windows(cfg, n=6)
    program = quantize_model(path, x[:4], tmp_path / "default.int8.onnx", progress=False)
    assert len([op for op in program.ops if op.kind == "attention"]) == 8
    assert read_program(tmp_path / "default.int8.onnx").tensors == program.tensors
    sess = session(tmp_path / "default.int8.onnx", level="all", threads=2)
    with torch.no_grad():
        ref = model(torch.from_numpy(x[4:])).numpy()
    for w, want in zip(x[4:], ref):
        got = sess.run(None, {"emg": w[None]})[0][0]
        assert np.array_equal(got, program.run(w)[program.output][0])
        cos = float(np.dot(got, want) / np.linalg.norm(got) / np.linalg.norm(want))
        assert cos > 0.98, cos
