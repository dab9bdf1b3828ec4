"""Trace readers: our npz, CSV exports of the nRF Connect Power Profiler (PPK2), Joulescope JLS v2 files.

Every reader returns a validated `Trace` in SI units (s, A, V) or raises TinyMyoError naming the file and line/key.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from ..errors import TinyMyoError
from .trace import Trace, load_npz, validate

CURRENT_UNITS = {"na": 1e-9, "ua": 1e-6, "µa": 1e-6, "μa": 1e-6, "ma": 1e-3, "a": 1.0}
TIME_UNITS = {"us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0}
_COLUMN = re.compile(r"^\s*(?P<name>[A-Za-z ]+?)\s*\(\s*(?P<unit>[^)]*)\s*\)\s*$")


def read_trace(path: str | Path, *, current_unit: str | None = None, sample_rate_hz: float | None = None) -> Trace:
    """Read a trace by its suffix: .npz (ours), .csv (nRF Connect Power Profiler export), .jls (Joulescope)."""
    path = Path(path)
    if not path.is_file():
        raise TinyMyoError(f"{path}: no such trace file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        if current_unit:
            raise TinyMyoError("--current-unit applies to CSV exports only; npz traces are in amperes by definition")
        return load_npz(path)
    if suffix == ".csv":
        return read_ppk2_csv(path, current_unit=current_unit, sample_rate_hz=sample_rate_hz)
    if suffix == ".jls":
        if current_unit:
            raise TinyMyoError("--current-unit applies to CSV exports only; JLS files carry their own units")
        return read_jls(path)
    raise TinyMyoError(f"{path}: unknown trace format '{suffix}' (expected .npz, .csv from the PPK2 app, or .jls)")


def _unit_scale(table: dict[str, float], unit: str, what: str, src: str) -> float:
    key = unit.strip().lower()
    if key not in table:
        raise TinyMyoError(f"{src}: unknown {what} unit '{unit}' (known: {', '.join(sorted(set(table)))})")
    return table[key]


def _parse_header(header: list[str], src: str) -> dict:
    """Map the PPK2 export header to column indices and unit scales."""
    cols: dict = {"time": None, "current": None, "bits": None, "d": {}}
    for idx, raw in enumerate(header):
        name = raw.strip()
        if re.fullmatch(r"D0-D7", name):
            cols["bits"] = idx
            continue
        if re.fullmatch(r"D[0-7]", name):
            cols["d"][int(name[1])] = idx
            continue
        m = _COLUMN.match(name)
        if m and m["name"].lower() == "timestamp":
            cols["time"], cols["time_scale"] = idx, _unit_scale(TIME_UNITS, m["unit"], "time", src)
            cols["time_unit"] = m["unit"]
        elif m and m["name"].lower() == "current":
            cols["current"], cols["current_unit"] = idx, m["unit"]
    if cols["current"] is None:
        raise TinyMyoError(
            f"{src}: no 'Current(<unit>)' column in header {header}; expected the nRF Connect Power Profiler export "
            "layout 'Timestamp(ms),Current(uA),D0-D7,D0,...,D7'"
        )
    return cols


def _numbers(cells: list[str], linenos: np.ndarray, what: str, src: str) -> np.ndarray:
    """Column of numbers; an empty or 'NaN' cell is NaN, anything else that is not a number an error naming the line."""
    try:
        return np.array(cells).astype(np.float64)
    except ValueError:
        out = np.empty(len(cells))
        for i, cell in enumerate(cells):  # slow path: find empty cells and the culprit
            try:
                out[i] = float(cell) if cell.strip() else np.nan
            except ValueError:
                raise TinyMyoError(f"{src}:{linenos[i]}: {what} '{cell}' is not a number") from None
        return out


def _digital_chars(columns: dict[int, list[str]], cols: dict) -> np.ndarray | None:
    """(N, 8) unicode code points of D0..D7 (0 where a channel is absent), or None without digital columns."""
    if cols["d"]:
        n = len(next(iter(columns.values())))
        codes = np.zeros((n, 8), dtype=np.uint32)
        for k, idx in cols["d"].items():
            codes[:, k] = np.array(columns[idx], dtype="U1").view(np.uint32)
        present = sorted(cols["d"])
        return codes[:, present], present
    if cols["bits"] is not None:  # one string per row, character k is D_k (the app writes D0 first)
        codes = np.array(columns[cols["bits"]], dtype="U8").view(np.uint32).reshape(-1, 8)
        return codes, list(range(8))
    return None


def _digital_bits(columns, cols: dict, linenos: np.ndarray, src: str) -> np.ndarray | None:
    """uint8 bit field of D0..D7; None when the export holds no digital data (every value '-')."""
    found = _digital_chars(columns, cols)
    if found is None:
        return None
    codes, channels = found
    if np.all(codes == ord("-")):
        return None
    bad = (codes != ord("0")) & (codes != ord("1"))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        char = chr(int(codes[row, col])) if codes[row, col] else ""
        raise TinyMyoError(
            f"{src}:{linenos[row]}: digital input D{channels[col]} is '{char}' (not 0 or 1): export at full "
            "resolution, not from a zoomed-out (averaged) view"
        )
    weights = np.array([1 << k for k in channels], dtype=np.uint32)
    return ((codes == ord("1")) * weights).sum(axis=1).astype(np.uint8)


def read_ppk2_csv(path: Path, *, current_unit: str | None = None, sample_rate_hz: float | None = None) -> Trace:
    """Read an nRF Connect Power Profiler CSV export (columns selectable in the app; units read from the header).

    A last line with fewer fields than the header (a file cut while being written) is dropped and reported in the
    metadata 'warnings'; an incomplete line anywhere else is an error. Empty or 'NaN' current cells become NaN.
    """
    src = str(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise TinyMyoError(f"{src}: empty file")
    cols = _parse_header(rows[0], src)
    width = len(rows[0])
    numbered = [(i + 1, r) for i, r in enumerate(rows) if i > 0 and r and any(c.strip() for c in r)]
    warnings: list[str] = []
    if numbered and len(numbered[-1][1]) < width:
        numbered.pop()
        warnings.append("last line incomplete (file truncated while written): dropped")
    for line, row in numbered:
        if len(row) != width:
            raise TinyMyoError(f"{src}:{line}: {len(row)} fields, header has {width}")
    if not numbered:
        raise TinyMyoError(f"{src}: no data lines after the header")
    linenos = np.array([line for line, _ in numbered])
    needed = {cols["current"], cols["time"], cols["bits"], *cols["d"].values()} - {None}
    columns = {idx: [row[idx] for _, row in numbered] for idx in needed}  # only the columns used
    unit = current_unit or cols["current_unit"]
    scale = _unit_scale(CURRENT_UNITS, unit, "current", src)
    current = _numbers(columns[cols["current"]], linenos, "current", src)
    bits = _digital_bits(columns, cols, linenos, src)
    n = current.shape[0]
    if cols["time"] is None:
        if not sample_rate_hz:
            raise TinyMyoError(f"{src}: the export has no Timestamp column; pass --sample-rate (PPK2: 100000)")
        t, rate = np.arange(n) / sample_rate_hz, float(sample_rate_hz)
    else:
        t, rate = _numbers(columns[cols["time"]], linenos, "timestamp", src) * cols["time_scale"], None
    meta = {
        "instrument": "ppk2",
        "source_format": "nRF Connect Power Profiler CSV export",
        "current_unit_in_file": unit,
        "warnings": warnings,
    }
    trace = Trace(t, current * scale, None, bits, meta, src, rate)
    return validate(trace)


def _jls_reader():
    try:
        import pyjls
    except ImportError as exc:
        raise TinyMyoError(
            "reading Joulescope .jls files needs the Python package 'pyjls' (installed with joulescope): "
            "pip install joulescope  (or: pip install 'tinymyo-edge[power]')"
        ) from exc
    return pyjls


def read_jls(path: Path) -> Trace:
    """Read a Joulescope JLS v2 file (Joulescope UI >= 1.0, joulescope.JlsWriter): signals 'current' [A],
    optional 'voltage' [V] and 'gpi[k]' (1-bit) of the first source that records current."""
    pyjls = _jls_reader()
    src = str(path)
    try:
        reader = pyjls.Reader(src)
    except Exception as exc:  # pyjls raises RuntimeError with a C error name
        raise TinyMyoError(
            f"{src}: pyjls cannot open it ({exc}); only JLS v2 files (Joulescope UI 1.x) are read: "
            "re-save older recordings with the current Joulescope UI"
        ) from exc
    with reader:
        by_name: dict[str, object] = {}
        for sig in reader.signals.values():
            if sig.signal_type == pyjls.SignalType.FSR and sig.name not in by_name:
                by_name[sig.name] = sig
        if "current" not in by_name:
            raise TinyMyoError(f"{src}: no 'current' signal (signals: {sorted(by_name)})")
        cur = by_name["current"]
        n = int(cur.length)
        if n < 2:
            raise TinyMyoError(f"{src}: 'current' holds {n} samples: empty or truncated recording")
        current = np.asarray(reader.fsr(cur.signal_id, 0, n), dtype=np.float64)
        voltage = None
        if "voltage" in by_name:
            vs = by_name["voltage"]
            voltage = np.asarray(reader.fsr(vs.signal_id, 0, min(n, int(vs.length))), dtype=np.float64)
            if voltage.shape[0] < n:
                raise TinyMyoError(f"{src}: 'voltage' has {voltage.shape[0]} samples, 'current' {n}")
        gpio = None
        for k in range(4):
            sig = by_name.get(f"gpi[{k}]")
            if sig is None:
                continue
            if int(sig.length) < n:
                raise TinyMyoError(f"{src}: 'gpi[{k}]' has {sig.length} samples, 'current' {n}")
            packed = np.asarray(reader.fsr(sig.signal_id, 0, n), dtype=np.uint8)
            level = np.unpackbits(packed, bitorder="little")[:n] if sig.data_type == pyjls.DataType.U1 else packed
            gpio = (gpio if gpio is not None else np.zeros(n, np.uint8)) | ((level.astype(np.uint8) & 1) << k)
        rate = float(cur.sample_rate)
        units = getattr(cur, "units", "A") or "A"
        if units != "A":
            raise TinyMyoError(f"{src}: 'current' is in '{units}', expected 'A'")
        source = reader.sources.get(cur.source_id)
    meta = {
        "instrument": "joulescope",
        "source_format": "Joulescope JLS v2",
        "model": getattr(source, "model", None),
        "serial": getattr(source, "serial_number", None),
    }
    return validate(Trace(np.arange(n) / rate, current, voltage, gpio, meta, src, rate))
