"""quantize_speech: float speech ONNX + its checkpoint + calibration windows -> integer-only int8 ONNX."""

from __future__ import annotations

from pathlib import Path

import onnx

from ..errors import TinyMyoError
from ..export_speech import INPUT_NAME, OUTPUT_NAMES, verify_speech
from ..fileio import atomic_path, check_writable
from ..ir.program import Program
from ..model.speech import SpeechModel
from ..model.speech_checkpoint import load_speech_checkpoint
from .api import DEFAULT_MAX_WINDOWS, _self_check, calibration_subset, check_calibration
from .builder import DEFAULT_PROB_BITS
from .calibrate import DEFAULT_PERCENTILE, METHODS, SPEECH_METHOD
from .encoding import program_to_onnx
from .ranges import check_ranges, check_speech_sizes
from .recognize import load_onnx_file


def quantize_speech(float_onnx_path, checkpoint, calib_x, out_path, *, method: str = SPEECH_METHOD,
                    percentile: float = DEFAULT_PERCENTILE, max_windows: int | None = DEFAULT_MAX_WINDOWS,
                    force: bool = False, progress: bool = True, prob_bits: int = DEFAULT_PROB_BITS,
                    model: SpeechModel | None = None) -> Program:
    """As quant.quantize_model for the speech family. `checkpoint` (or an in-memory `model`) must be what the float
    graph was exported from: onnxruntime on the graph is checked against it before anything is calibrated."""
    float_onnx_path, out_path = Path(float_onnx_path), Path(out_path)
    if method not in METHODS:
        raise TinyMyoError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}")
    if not 8 <= prob_bits <= 16:
        raise TinyMyoError(f"prob_bits must be 8..16 (got {prob_bits})")
    check_writable(out_path, force)
    graph = load_onnx_file(float_onnx_path)
    if model is None:
        if checkpoint is None:
            raise TinyMyoError(f"{float_onnx_path}: a speech model is quantized from its checkpoint: pass --checkpoint")
        samples = graph.graph.input[0].type.tensor_type.shape.dim[2].dim_value
        model = load_speech_checkpoint(checkpoint, samples=samples)
    cfg = model.cfg
    check_speech_sizes(cfg.tokens, cfg.dim, cfg.heads, cfg.hidden, cfg.max_relative_pos, prob_bits)
    verify_speech(float_onnx_path, model, graph)
    x = calibration_subset(check_calibration(calib_x, cfg.channels, cfg.samples), max_windows)
    from .speech_builder import build_speech_program

    program = build_speech_program(model, x, method=method, percentile=percentile, progress=progress,
                                   prob_bits=prob_bits)
    program.metadata["source_model"] = float_onnx_path.name
    check_ranges(program)
    int8 = program_to_onnx(program, INPUT_NAME, OUTPUT_NAMES[cfg.head], (1, cfg.tokens, cfg.outputs))
    onnx.checker.check_model(int8)
    _self_check(int8, program, x[0])
    with atomic_path(out_path, force=force) as tmp:
        onnx.save(int8, str(tmp))
    return program


