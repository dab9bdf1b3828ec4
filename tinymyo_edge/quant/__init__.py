"""`tinymyo-edge quantize`: float TinyMyo ONNX + calibration windows -> integer-only int8 ONNX, exact with the
golden executor (ir.Program.run) under onnxruntime.

    recognize.py  float ONNX -> TinyMyoConfig + float weights (graph walk), checked against onnxruntime
    calibrate.py  weight and activation scales (min-max, percentile, MSE clip search)
    builder.py    sequential calibration on the int8 pipeline -> ir.Program
    ranges.py     proof that every integer intermediate fits its type
    encoding.py   Program <-> int8 ONNX (one tinymyo_edge function node per IR op)
    runtime.py    onnxruntime sessions, every IR tensor as an output
    report.py     per-layer QSNR / cosine against the float model
"""

from .api import quantize_model, read_program
from .builder import DEFAULT_PROB_BITS, DEFAULT_SOFTMAX, SOFTMAXES
from .runtime import ort_intermediates, run_int8

__all__ = ["DEFAULT_PROB_BITS", "DEFAULT_SOFTMAX", "SOFTMAXES", "ort_intermediates", "quantize_model", "read_program", "run_int8"]
