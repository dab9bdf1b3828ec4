"""quantize_model / read_program: the quantize stage's public functions (the CLI only parses arguments)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from ..errors import TinyMyoError
from ..fileio import atomic_path, check_writable
from ..ir.program import Program
from .builder import DEFAULT_PROB_BITS, DEFAULT_SOFTMAX, SOFTMAXES, build_program
from .calibrate import DEFAULT_PERCENTILE, METHODS, calibration_indices, default_method
from .encoding import onnx_to_program, program_to_onnx
from .ranges import check_ranges, check_sizes
from .recognize import load_onnx_file, recognize, verify_against_onnx
from .runtime import run_int8
from .select import held_out_windows, select_program

DEFAULT_MAX_WINDOWS = 16


def check_calibration(calib_x, channels: int, samples: int, name: str = "calibration data") -> np.ndarray:
    """(N, C, T) finite numbers with the model's channels and samples, N >= 1 -> float32 array."""
    try:
        from ..data import check_windows
    except ImportError:  # pragma: no cover - the data room is part of the package
        check_windows = None
    if check_windows is not None:
        return check_windows(calib_x, name=name, channels=channels, samples=samples).x
    x = np.asarray(calib_x)
    if x.ndim != 3 or 0 in x.shape or x.shape[1:] != (channels, samples):
        raise TinyMyoError(f"{name}: expected windows (N, {channels}, {samples}); got shape {x.shape}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise TinyMyoError(f"{name}: NaN or Inf in the windows")
    return x


def _output_shape(path: Path) -> tuple[int, ...]:
    out = onnx.load(str(path)).graph.output[0]
    return tuple(d.dim_value for d in out.type.tensor_type.shape.dim)


def _float_preprocessing(path: Path) -> str | None:
    """The float model's tinymyo_edge.preprocessing metadata (written by export), or None."""
    try:
        props = onnx.load(str(path), load_external_data=False).metadata_props
    except Exception as exc:
        raise TinyMyoError(f"{path}: not a readable ONNX file ({exc})") from None
    return next((p.value for p in props if p.key == "tinymyo_edge.preprocessing"), None)


def calibration_subset(x: np.ndarray, max_windows: int | None) -> np.ndarray:
    """At most max_windows windows spread evenly over the set: what quantize (and the NNTool backend) calibrate on."""
    return x[calibration_indices(len(x), max_windows)]


def quantize_model(float_onnx_path, calib_x, out_path, *, method: str | None = None, report_dir=None,
                   force: bool = False, percentile: float | None = None, max_windows: int | None = DEFAULT_MAX_WINDOWS,
                   progress: bool = True, prob_bits: int = DEFAULT_PROB_BITS,
                   calib_preprocessing: dict | None = None, softmax: str = DEFAULT_SOFTMAX) -> Program:
    """Float TinyMyo ONNX + calibration windows (N, C, T) -> integer-only int8 ONNX at out_path; returns its Program.

    Refuses (TinyMyoError, nothing written) a graph that is not TinyMyo-shaped, calibration data of the wrong
    shape/non-finite/empty, a model whose integer intermediates could overflow, or an int8 graph that onnxruntime
    does not run exactly like the golden executor. softmax: "deferred" (DEFAULT_SOFTMAX: integer scores, u8
    numerators relative to the row maximum, one reciprocal per output row; see Attention and builder.py) or
    "normalized", whose probabilities have prob_bits bits (8..16; 12 resolves diffuse attention over hundreds of
    tokens far better than 8). prob_bits is ignored by the deferred softmax. percentile None (the default) with the
    percentile method: the candidate of select.SELECT_PERCENTILES whose logits best match the float model's on
    held-out calibration windows (select.py), or DEFAULT_PERCENTILE when no window is held out.
    """
    float_onnx_path, out_path = Path(float_onnx_path), Path(out_path)
    if method is not None and method not in METHODS:
        raise TinyMyoError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}")
    if not 8 <= prob_bits <= 16:
        raise TinyMyoError(f"prob_bits must be 8..16 (got {prob_bits})")
    if softmax not in SOFTMAXES:
        raise TinyMyoError(f"unknown softmax {softmax!r}; choose one of {', '.join(SOFTMAXES)}")
    if softmax == "deferred":
        prob_bits = 8  # unused by the deferred softmax; the IR default
    if percentile is not None and not 0.0 < percentile <= 100.0:
        raise TinyMyoError(f"percentile must be in (0, 100] (got {percentile})")
    check_writable(out_path, force)
    if report_dir is not None:
        check_writable(Path(report_dir), force)
    preprocessing = _float_preprocessing(float_onnx_path)
    from ..data.pipeline import check_compatible, parse

    check_compatible(parse(preprocessing, str(float_onnx_path)), calib_preprocessing,
                     model_name=str(float_onnx_path), data_name="the calibration windows")
    rec = recognize(float_onnx_path, verify=False)
    cfg = rec.config
    check_sizes(cfg.tokens, cfg.dim, cfg.heads, cfg.hidden, cfg.patch_size, cfg.feat_dim, prob_bits, softmax)
    every = check_calibration(calib_x, cfg.channels, cfg.samples)
    used = calibration_indices(len(every), max_windows)
    x = every[used]
    verify_against_onnx(float_onnx_path, rec.model, rec.input_name,
                        np.concatenate([x[:2], np.random.default_rng(0).standard_normal((1, *x.shape[1:]), np.float32)]))

    def build(pct: float) -> Program:
        return build_program(rec.model, x, method=method, percentile=pct, progress=progress, prob_bits=prob_bits,
                             softmax=softmax)

    out_shape = _output_shape(float_onnx_path)

    def encode(p: Program) -> onnx.ModelProto:
        return program_to_onnx(p, rec.input_name, rec.output_name, out_shape)

    held_out = held_out_windows(every, used)
    if percentile is None and (method or default_method(cfg.head)) == "percentile" and len(held_out):
        program = select_program(float_onnx_path, held_out, build, encode)
    else:
        program = build(DEFAULT_PERCENTILE if percentile is None else percentile)
    program.metadata["source_model"] = float_onnx_path.name
    if preprocessing is not None:  # the input pipeline travels on (build --stream, validate --stream read it)
        program.metadata["preprocessing"] = preprocessing
    check_ranges(program)
    model = encode(program)
    onnx.checker.check_model(model)
    _self_check(model, program, x[0])
    if report_dir is not None:  # before the model: a failing report leaves no model behind either
        from .report import write_report

        write_report(program, rec.model, x, Path(report_dir), force=force, progress=progress)
    with atomic_path(out_path, force=force) as tmp:
        onnx.save(model, str(tmp))
    return program


def _self_check(model: onnx.ModelProto, program: Program, window: np.ndarray) -> None:
    """The written graph must be what the Program says: onnxruntime == golden executor on a calibration window."""
    want = program.run(window)[program.output]
    got = run_int8(model, window)
    if got.size != want.size or not np.array_equal(got.reshape(want.shape), want):
        raise TinyMyoError("internal error: onnxruntime does not reproduce the integer program on a calibration "
                           "window; nothing written (please report this with the model)")


def read_program(int8_onnx_path) -> Program:
    """int8 ONNX written by quantize_model -> the same Program (ops, constants, tensor scales, metadata)."""
    path = Path(int8_onnx_path)
    return onnx_to_program(load_onnx_file(path), path)
