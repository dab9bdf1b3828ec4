"""Choosing the clip percentile of a classifier on its own outputs: held-out calibration windows.

`quantize`'s default for TinyMyo classification heads (calibrate.DEFAULT_METHODS: "percentile") builds the integer
program at each of SELECT_PERCENTILES and keeps the one whose onnxruntime logits are closest to the float model's on
windows of the calibration set that the ranges were NOT taken from (the mean KL divergence of the int8 class
probabilities from the float ones: continuous, where top-1 agreement on a few dozen windows moves by single
windows). No test data is involved: the windows are the user's calibration set. With no held-out window (the set
has at most --max-windows windows) or an explicit --percentile, the program is built once (DEFAULT_PERCENTILE).
Why these candidates: on the six deployed 400-token 3DC models neither the 99.9th nor the 99.99th percentile is
better on every participant (docs/QUANT.md "Calibration"); the selection costs one more calibration and 2 x
SELECT_WINDOWS onnxruntime runs.
"""

from __future__ import annotations

import json

import numpy as np

from .calibrate import calibration_indices

SELECT_PERCENTILES = (99.9, 99.99)  # the first wins ties (the measured default, calibrate.DEFAULT_PERCENTILE)
SELECT_WINDOWS = 64  # held-out windows compared (at most)


def held_out_windows(x: np.ndarray, used: np.ndarray, limit: int = SELECT_WINDOWS) -> np.ndarray:
    """Up to `limit` windows of x whose indices are not in `used`, spread evenly over the rest."""
    rest = np.setdiff1d(np.arange(len(x)), used)
    return x[rest[calibration_indices(len(rest), limit)]]


def _logits(model, windows: np.ndarray) -> np.ndarray:
    from .runtime import session

    sess = session(model)
    name = sess.get_inputs()[0].name
    return np.concatenate([np.asarray(sess.run(None, {name: w[None]})[0], np.float64).reshape(1, -1)
                           for w in windows])


def _probabilities(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mean_kl(float_logits: np.ndarray, int8_logits: np.ndarray) -> float:
    """Mean over windows of KL(softmax(float) || softmax(int8)), in nats."""
    p, q = _probabilities(float_logits), _probabilities(int8_logits)
    return float(np.mean(np.sum(p * (np.log(p + 1e-12) - np.log(q + 1e-12)), axis=1)))


def select_program(float_onnx_path, held_out: np.ndarray, build, encode):
    """build(percentile) -> Program, encode(Program) -> int8 onnx.ModelProto; returns the Program of the candidate
    with the least mean_kl on held_out, its metadata recording every candidate's score."""
    reference = _logits(str(float_onnx_path), held_out)
    scores, programs = {}, {}
    for pct in SELECT_PERCENTILES:
        programs[pct] = build(pct)
        scores[pct] = mean_kl(reference, _logits(encode(programs[pct]), held_out))
    best = min(SELECT_PERCENTILES, key=lambda pct: (scores[pct], SELECT_PERCENTILES.index(pct)))
    program = programs[best]
    program.metadata["calibration_selection"] = json.dumps(
        {"criterion": "mean KL(float || int8) of the class probabilities, held-out calibration windows",
         "windows": int(len(held_out)), "kl": {repr(p): s for p, s in scores.items()}, "chosen": repr(best)},
        sort_keys=True)
    return program
