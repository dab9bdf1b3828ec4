"""validate --stream: run OUTDIR/stream on a continuous recording and compare every hop with the Python pipeline.

The Python side is the streaming preprocessing's numpy reference (data/fixed.py, the whole recording at once)
cut into the same hops, and the golden executor on each window. The app reads the recording in chunks of
--chunk frames (any size: the filter state, the decimation phase and the ring buffer carry over chunk
boundaries). Compared exactly (==, float32 bits), per hop: the window the model saw (C x W), the logits, and the
printed sample index, class and smoothed class. Errors: N out of M, where a hop missing on either side counts
all its elements.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .build.program_io import load_program
from .data import fixed
from .data.pipeline import read_recording
from .data.recordings import SPLITS
from .data.windowing import sliding_windows
from .errors import TinyMyoError
from .targets.stream import STREAM_DIR, read_stream_manifest

HOP_LINE = re.compile(r"^hop (\d+) sample (\d+) class (-?\d+) smooth (-?\d+) logits((?: 0x[0-9a-f]{8})+)$", re.M)
BUDGET_LINES = re.compile(r"^(Stream|Preprocessing|Inference per hop): .*$", re.M)


@dataclass
class StreamReference:
    windows: np.ndarray  # (N, C, W) float32
    logits: np.ndarray  # (N, K) float32
    frames: np.ndarray  # (N,) raw frame index of each hop's last sample
    classes: np.ndarray  # (N,)
    smoothed: np.ndarray  # (N,)


@dataclass
class StreamValidation:
    hops_python: int
    hops_app: int
    errors: int
    total: int
    budget: list[str] = field(default_factory=list)
    first_difference: str | None = None

    def report(self) -> str:
        lines = [f"hops: {self.hops_python} (Python pipeline), {self.hops_app} (app)", *self.budget]
        if self.first_difference:
            lines.append(self.first_difference)
        lines.append(f"stream vs Python pipeline: Errors: {self.errors} out of {self.total}")
        return "\n".join(lines)


def majority_vote(classes: np.ndarray, k: int, n_classes: int) -> np.ndarray:
    """Per hop, the most frequent class of the last k hops (ties: the smallest class), as tm_smooth_push."""
    out = np.empty(len(classes), dtype=np.int64)
    for i in range(len(classes)):
        counts = np.bincount(classes[max(0, i - k + 1):i + 1], minlength=n_classes)
        out[i] = int(np.argmax(counts))
    return out


def stream_reference(raw: np.ndarray, spec: fixed.FixedSpec, program, cfg: dict) -> StreamReference:
    """The Python pipeline on raw int16 (T, C): the hops the app must print, with their windows and logits."""
    z, _ = fixed.run_fixed(raw, spec)
    x = sliding_windows(fixed.to_model_input(z).T, cfg["window"], cfg["hop"])
    logits = np.stack([np.asarray(program.run(w)[program.output], dtype=np.float32).reshape(-1) for w in x]) \
        if len(x) else np.empty((0, cfg["classes"]), np.float32)
    ends = np.arange(len(x)) * cfg["hop"] + cfg["window"] - 1  # kept (model-rate) index of each window's end
    classes = np.argmax(logits, axis=1) if len(x) else np.empty(0, np.int64)
    return StreamReference(x, logits, ends * spec.decimation, classes,
                           majority_vote(classes, cfg["smooth"], cfg["classes"]))


def load_stream_recording(path, fmt: str, split: str, start: int, samples: int | None, desc: dict) -> np.ndarray:
    """The raw frames to stream, checked against the model's preprocessing (rate, channels)."""
    rec = read_recording(path, fmt, split=SPLITS[split] if fmt == "3dc" else None,
                         channels=desc["channel_indices"])
    if rec.fs != desc["fs_in"]:
        raise TinyMyoError(f"{path}: sampled at {rec.fs:g} Hz, the model's preprocessing expects {desc['fs_in']:g} Hz")
    if rec.raw.shape[1] != desc["channels"]:
        raise TinyMyoError(f"{path}: {rec.raw.shape[1]} channels, the model takes {desc['channels']}")
    if start < 0 or (samples is not None and samples < 1):
        raise TinyMyoError(f"--start must be >= 0 and --samples >= 1 (got {start}, {samples})")
    raw = rec.raw[start:None if samples is None else start + samples]
    if len(raw) == 0:
        raise TinyMyoError(f"{path}: no samples from {start} on ({len(rec.raw)} in the selection)")
    return np.ascontiguousarray(raw)


def run_stream_app(sdir: Path, raw: np.ndarray, *, platform: str = "host", chunk: int | None = None,
                   sanitize: bool = True, timeout: float = 900) -> tuple[int, str, np.ndarray | None]:
    """`make run` in OUTDIR/stream on raw (T, C) int16; (exit status, log, hop records as float32 or None)."""
    if shutil.which("make") is None:
        raise TinyMyoError("running the stream app needs GNU make on PATH")
    with tempfile.TemporaryDirectory(prefix="tm_stream_") as tmp:
        rec, hops = Path(tmp) / "recording.bin", Path(tmp) / "hops.bin"
        raw.astype("<i2").tofile(rec)
        cmd = ["make", "-s", "-C", str(sdir), "run", f"platform={platform}", f"INPUT={rec}", f"OUTPUT={hops}",
               f"TIMEOUT={int(timeout)}", f"BUILD_DIR=build/{platform}{'-san' if sanitize else ''}"]
        cmd += [f"CHUNK={chunk}"] if chunk else []
        cmd += ["SANITIZE=1"] if sanitize and platform == "host" else []
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=timeout + 120)
        except subprocess.TimeoutExpired:
            raise TinyMyoError(f"{sdir}: make run platform={platform} did not finish in {timeout + 120:.0f} s") from None
        records = np.fromfile(hops, dtype="<f4") if hops.is_file() else None
    return proc.returncode, proc.stdout, records


def compare(ref: StreamReference, log: str, records: np.ndarray | None) -> tuple[int, int, int, str | None]:
    """(errors, total, hops the app printed, first difference) over windows, logits, sample, class, smooth."""
    n, per_window = len(ref.windows), int(np.prod(ref.windows.shape[1:])) if len(ref.windows) else 0
    k = ref.logits.shape[1]
    per_hop = per_window + 2 * k + 3  # window, logits in the record and in the line, sample, class, smooth
    lines = HOP_LINE.findall(log)
    rec = np.empty((0, per_window + k), np.float32) if records is None else records
    usable = min(len(lines), n, rec.size // (per_window + k) if per_window + k else 0)
    rec = rec[:usable * (per_window + k)].reshape(usable, per_window + k)
    errors, first = (max(n, len(lines)) - usable) * per_hop, None
    for i in range(usable):
        hop, sample, cls, smooth, bits = lines[i]
        got_logits = np.array([int(b, 16) for b in bits.split()], dtype=np.uint32)
        want_w = ref.windows[i].reshape(-1).view(np.uint32)
        want_l = ref.logits[i].view(np.uint32)
        bad = [int(np.count_nonzero(rec[i, :per_window].view(np.uint32) != want_w)),
               int(np.count_nonzero(rec[i, per_window:].view(np.uint32) != want_l)),
               k if got_logits.shape != want_l.shape else int(np.count_nonzero(got_logits != want_l)),
               int(int(sample) != ref.frames[i]), int(int(cls) != ref.classes[i]),
               int(int(smooth) != ref.smoothed[i])]
        if int(hop) != i:
            bad.append(per_hop)
        if sum(bad) and first is None:
            first = (f"first difference: hop {i} (window {bad[0]}, logits {bad[1]}+{bad[2]}, sample {int(sample)} vs "
                     f"{int(ref.frames[i])}, class {cls} vs {ref.classes[i]}, smooth {smooth} vs {ref.smoothed[i]})")
        errors += sum(bad)
    return errors, max(n, len(lines)) * per_hop, len(lines), first


def validate_stream(outdir, recording, *, fmt: str = "3dc", split: str = "test", start: int = 0,
                    samples: int | None = None, chunk: int | None = None, platform: str = "host",
                    sanitize: bool = True) -> StreamValidation:
    outdir = Path(outdir)
    manifest = read_stream_manifest(outdir)
    desc, cfg = manifest["preprocessing"], manifest["config"]
    spec = fixed.FixedSpec.from_dict(desc["fixed"], str(outdir / STREAM_DIR))
    if chunk is not None and chunk < 1:
        raise TinyMyoError(f"--chunk must be >= 1 frames (got {chunk})")
    raw = load_stream_recording(recording, fmt, split, start, samples, desc)
    program = load_program(outdir / "program.json", outdir / "program.npz")
    ref = stream_reference(raw, spec, program, cfg)
    status, log, records = run_stream_app(outdir / STREAM_DIR, raw, platform=platform, chunk=chunk,
                                          sanitize=sanitize)
    if status != 0:
        tail = "\n".join(log.strip().splitlines()[-15:])
        raise TinyMyoError(f"{outdir / STREAM_DIR}: make run platform={platform} failed (status {status}):\n{tail}")
    errors, total, hops_app, first = compare(ref, log, records)
    return StreamValidation(len(ref.windows), hops_app, errors, total,
                            [m.group(0) for m in BUDGET_LINES.finditer(log)], first)
