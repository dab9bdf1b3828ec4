"""The streaming pipeline: the fixed-point preprocessing (Python reference vs an independent integer model of its
formula, chunked vs whole), `data window --pipeline stream`, the description carried into model metadata and the
mismatch refusals, `build --stream`, and `validate --stream` (host with ASan+UBSan, rv32 under QEMU when installed)
on a short real 3DC recording, chunk sizes that do not divide the hop included."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from app_helpers import small_config
from program_factory import make_random_program
from tinymyo_edge.build.core import build_program
from tinymyo_edge.cli import cli as main
from tinymyo_edge.data import fixed
from tinymyo_edge.data.pipeline import (Recording, check_compatible, dumps, load_preprocessing, read_recording,
                                        stream_windows)
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.targets.rv32 import missing_tools
from tinymyo_edge.targets.stream import StreamConfig, stream_config, write_stream_app
from tinymyo_edge.validate_stream import majority_vote, validate_stream

CHANNELS, WINDOW, HOP = 2, 40, 15  # model: 2 channels x 40 samples at 500 Hz; a hop of 15 model samples


def _p02(shared_dir):
    return shared_dir / "data" / "3dc" / "participant02.npz"


# ------------------------------------------------------------------------------------------------ arithmetic


def _biquad_python_ints(coef, xs):
    """The formula of data/fixed.py written again with Python integers (floor shift = arithmetic shift)."""
    b0, b1, b2, a1, a2 = coef
    x1 = x2 = y1 = y2 = 0
    out = []
    for x in xs:
        acc = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        y = max(-fixed.SIGNAL_LIMIT, min(fixed.SIGNAL_LIMIT, (acc + (1 << (fixed.COEF_FRAC - 1))) >> fixed.COEF_FRAC))
        x2, x1, y2, y1 = x1, x, y1, y
        out.append(y)
    return out


def test_biquad_reference_equals_integer_formula_with_saturation_and_ties():
    rng = np.random.default_rng(0)
    coef = (1 << 29, -(1 << 29) + 7, 1 << 28, -(1 << 29) - 5, (1 << 28) - 1)  # large gain: saturates
    xs = np.concatenate([rng.integers(-32768, 32768, 300), [32767] * 50, [-32768] * 50]).astype(np.int16)
    state = fixed.FixedState.zeros(1, 1)
    got = fixed.filter_decimate(xs[:, None], (coef,), 1, state)[:, 0]
    want = _biquad_python_ints(coef, [int(v) * 256 for v in xs])
    assert got.tolist() == want
    assert max(abs(v) for v in want) == fixed.SIGNAL_LIMIT  # the saturation was exercised
    # rounding ties: acc = (2k + 1) * 2^27 rounds half up, for positive and negative k
    tie = (1 << 27, 0, 0, 0, 0)  # y = (x * 2^27 + 2^27) >> 28
    xs = np.array([1, 3, -1, -3], dtype=np.int16)
    y = fixed.filter_decimate(xs[:, None], (tie,), 1, fixed.FixedState.zeros(1, 1))[:, 0]
    assert y.tolist() == [(v * 256 * (1 << 27) + (1 << 27)) >> 28 for v in (1, 3, -1, -3)] == [128, 384, -128, -384]


def test_normalisation_saturates_and_is_exact_in_float32():
    y = np.array([[0], [1 << 29], [-(1 << 29)], [100]], dtype=np.int64)
    z = fixed.normalise_fixed(y, (4,), ((1 << 29) - 1,))
    assert z[:, 0].tolist() == [max(-(1 << 24), min(1 << 24, ((v - 4) * ((1 << 29) - 1) + (1 << 15)) >> 16))
                                for v in (0, 1 << 29, -(1 << 29), 100)]
    assert abs(int(z[1, 0])) == fixed.OUT_LIMIT
    assert fixed.to_model_input(z)[1, 0] == np.float32(256.0)


def test_chunked_stream_equals_whole_recording(shared_dir):
    rec = read_recording(_p02(shared_dir), "3dc", split=1, channels=[0, 1])
    raw = rec.raw[:1500]
    sections = fixed.quantise_coefficients(fixed.design_sections(1000.0, (20.0, 240.0), 60.0))
    spec = fixed.FixedSpec(sections, 2, (3, -2), (123456, 654321))
    whole, _ = fixed.run_fixed(raw, spec)
    state, parts, at = None, [], 0
    for size in [7, 1, 13, 2, 99, 3] * 40:
        part, state = fixed.run_fixed(raw[at:at + size], spec, state)
        parts.append(part)
        at += size
        if at >= len(raw):
            break
    assert np.array_equal(np.concatenate(parts), whole)
    assert len(whole) == 750


def test_majority_vote_ties_go_to_the_smallest_class():
    assert majority_vote(np.array([2, 1, 1, 2, 0]), 3, 3).tolist() == [2, 1, 1, 1, 0]


# ------------------------------------------------------------------------------------------------ data window


def test_data_window_stream_windows_are_what_the_chip_computes(tmp_path, shared_dir):
    """A short real recording as a generic continuous .npz (per-sample labels: two held gestures)."""
    rec = read_recording(_p02(shared_dir), "3dc", split=0)
    a, b, _ = rec.spans[0]
    label = np.concatenate([np.full(2000, 0), np.full(1000, 1)]).astype(np.int64)
    np.savez(tmp_path / "rec.npz", emg=rec.raw[a:a + 3000], fs=np.array(1000.0), label=label)
    out = tmp_path / "w.npz"
    result = CliRunner().invoke(main, ["data", "window", str(tmp_path / "rec.npz"), "--format", "npz-continuous",
                                       "-o", str(out), "--fs-out", "500", "--window", str(WINDOW), "--hop", "20",
                                       "--bandpass", "20", "240", "--notch", "60", "--normalize", "recording",
                                       "--pipeline", "stream", "--channels", "0,1"])
    assert result.exit_code == 0, result.output
    desc = load_preprocessing(out)
    assert desc["pipeline"] == "stream" and desc["streamable"] and desc["fixed"]["decimation"] == 2
    spec = fixed.FixedSpec.from_dict(desc["fixed"])
    z, _ = fixed.run_fixed(np.ascontiguousarray(rec.raw[a:a + 3000, :2]), spec)  # the chip's stream
    stream = fixed.to_model_input(z)
    with np.load(out) as npz:
        x, y = npz["x"], npz["y"]
    per_segment = 1 + (1000 - WINDOW) // 20
    assert y.tolist() == [0] * per_segment + [1] * (1 + (500 - WINDOW) // 20)
    for j in (0, 1, per_segment - 1):  # the first gesture's windows, then the second's (continuous filters)
        assert np.array_equal(x[j], stream[20 * j:20 * j + WINDOW].T)
    assert np.array_equal(x[per_segment], stream[1000:1000 + WINDOW].T)


def test_data_window_help_names_the_streaming_modes():
    text = CliRunner().invoke(main, ["data", "window", "--help"]).output
    assert "--pipeline" in text and "A streaming deployment needs --pipeline stream --normalize recording" in \
        " ".join(text.split())


def test_stream_pipeline_refuses_offline_only_modes(shared_dir):
    rec = read_recording(_p02(shared_dir), "3dc", split=0, channels=[0, 1])
    with pytest.raises(TinyMyoError, match="offline only"):
        stream_windows(rec, fs_out=500, band=(20, 240), notch_hz=60, normalisation="zscore", window=40, hop=20)
    with pytest.raises(TinyMyoError, match="high edge must lie below 250"):
        stream_windows(rec, fs_out=500, band=(20, 450), notch_hz=60, normalisation="recording", window=40, hop=20)
    with pytest.raises(TinyMyoError, match="must be an integer"):
        stream_windows(rec, fs_out=300, band=(20, 100), notch_hz=60, normalisation="recording", window=40, hop=20)


# ------------------------------------------------------------------------------------------------ metadata


def test_description_mismatch_is_refused_naming_the_key():
    a = {"pipeline": "stream", "fs_in": 1000.0, "channels": 2}
    check_compatible(a, dict(a), model_name="m", data_name="d")
    check_compatible(a, None, model_name="m", data_name="d")  # nothing recorded: nothing to compare
    with pytest.raises(TinyMyoError, match="d: preprocessed with fs_in = 2000.0, but m was trained with fs_in = 1000.0"):
        check_compatible(a, {**a, "fs_in": 2000.0}, model_name="m", data_name="d")


def test_description_travels_checkpoint_export_quantize_build_validate(tmp_path, real_windows, shared_dir):
    """The CLI path end to end on a tiny model: the description survives every stage and drives --stream."""
    from tinymyo_edge.export import export_onnx, read_metadata
    from tinymyo_edge.model import TinyMyo
    from tinymyo_edge.model.checkpoint import read_preprocessing, save_checkpoint
    from tinymyo_edge.quant import quantize_model, read_program

    desc = _stream_desc(shared_dir)
    text = dumps(desc)
    model = TinyMyo(small_config()).eval()
    save_checkpoint(model, tmp_path / "m.safetensors", preprocessing=text)
    assert read_preprocessing(tmp_path / "m.safetensors") == text
    export_onnx(model, tmp_path / "m.onnx", preprocessing=text)
    assert read_metadata(tmp_path / "m.onnx")["preprocessing"] == text
    x = real_windows(2, 40, 8)
    with pytest.raises(TinyMyoError, match="calibration windows: preprocessed with fs_in"):
        quantize_model(tmp_path / "m.onnx", x, tmp_path / "bad.int8.onnx", progress=False,
                       calib_preprocessing={**desc, "fs_in": 2000.0})
    assert not (tmp_path / "bad.int8.onnx").exists()
    quantize_model(tmp_path / "m.onnx", x, tmp_path / "m.int8.onnx", progress=False, calib_preprocessing=desc)
    assert read_program(tmp_path / "m.int8.onnx").metadata["preprocessing"] == text
    runner = CliRunner()
    built = runner.invoke(main, ["build", str(tmp_path / "m.int8.onnx"), "--target", "gap9", "--stream", "--hop",
                                 "10", "-o", str(tmp_path / "app")])
    assert built.exit_code == 0, built.output
    assert "ESTIMATED GAP9 inference 370MHz" in built.output
    checked = runner.invoke(main, ["validate", str(tmp_path / "app"), "--stream", str(_p02(shared_dir)),
                                   "--samples", "300", "--chunk", "9"])
    assert checked.exit_code == 0, checked.output
    assert "stream vs Python pipeline: Errors: 0 out of " in checked.output
    refused = runner.invoke(main, ["build", str(tmp_path / "m.int8.onnx"), "--target", "gap9", "--stream", "-o",
                                   str(tmp_path / "app2")])
    assert refused.exit_code != 0 and "--stream needs --hop" in str(refused.exception)
    assert not (tmp_path / "app2").exists()


# ------------------------------------------------------------------------------------------------ the app


def _stream_desc(shared_dir) -> dict:
    rec = read_recording(_p02(shared_dir), "3dc", split=0, channels=[0, 1])
    rec = Recording(rec.raw[:8000], rec.fs, [(0, 8000, 0)], rec.source)
    return stream_windows(rec, fs_out=500, band=(20, 240), notch_hz=60, normalisation="recording",
                          window=WINDOW, hop=20, channel_indices=[0, 1])[4]


@pytest.fixture(scope="module")
def stream_app(tmp_path_factory, shared_dir):
    program = make_random_program(small_config(channels=CHANNELS, samples=WINDOW), seed=3, prob_bits=8)
    program.metadata["preprocessing"] = dumps(_stream_desc(shared_dir))
    outdir = tmp_path_factory.mktemp("stream") / "app"
    build_program(program, outdir, target="gap9")
    cfg, desc, spec = stream_config(program, HOP, 3, "test model")
    manifest = write_stream_app(outdir, program, cfg, desc, spec)
    return outdir, manifest


@pytest.mark.parametrize("chunk", [7, 1000])  # 7 divides neither the hop (30 raw frames) nor the window
def test_validate_stream_host_is_exact(stream_app, shared_dir, chunk):
    outdir, _ = stream_app
    result = validate_stream(outdir, _p02(shared_dir), split="test", start=100, samples=1200, chunk=chunk)
    assert result.hops_python == result.hops_app == 1 + (600 - WINDOW) // HOP
    assert result.errors == 0, result.report()
    assert result.total == result.hops_python * (CHANNELS * WINDOW + 2 * 3 + 3)
    assert any(line.startswith("Preprocessing: Nanoseconds") for line in result.budget)


def test_validate_stream_catches_a_wrong_coefficient(stream_app, shared_dir, tmp_path):
    import shutil

    outdir, _ = stream_app
    copy = tmp_path / "app"
    shutil.copytree(outdir, copy, ignore=shutil.ignore_patterns("build"))
    config = copy / "stream" / "stream_config.h"
    text = config.read_text()
    first = text.index("{ ", text.index("tm_stream_sections")) + 2
    config.write_text(text[:first] + "4096 + " + text[first:])  # b0 of the first section, 2^-16 off
    result = validate_stream(copy, _p02(shared_dir), split="test", samples=400, chunk=5, sanitize=False)
    assert result.errors > 0 and result.first_difference.startswith("first difference: hop 0")


@pytest.mark.skipif(bool(missing_tools()), reason=f"{' and '.join(missing_tools())} not on PATH (.ci/install "
                                                  "installs riscv64-unknown-elf-gcc and qemu-system-riscv32)")
def test_validate_stream_rv32_is_exact_and_counts_instructions(stream_app, shared_dir):
    outdir, _ = stream_app
    result = validate_stream(outdir, _p02(shared_dir), split="test", samples=600, chunk=11, platform="rv32")
    assert result.errors == 0 and result.hops_app > 0, result.report()
    assert any(line.startswith("Preprocessing: Instructions") for line in result.budget)


def test_stream_manifest_has_the_estimated_budget(stream_app):
    _, manifest = stream_app
    budget = manifest["budget"]
    assert budget["hop_period_us"] == HOP / 500 * 1e6
    assert set(budget["gap9_ESTIMATED"]) == {"370MHz", "240MHz"}


def test_budget_warns_naming_the_numbers_when_the_hop_is_too_short(stream_app):
    import dataclasses

    from tinymyo_edge.targets.stream import budget_warnings, read_stream_manifest, timing_budget

    outdir, manifest = stream_app
    assert budget_warnings(manifest["budget"]) == []  # 30 ms hops: far longer than the estimate
    cfg = StreamConfig(**read_stream_manifest(outdir)["config"])
    tight = timing_budget(outdir, dataclasses.replace(cfg, hop=1, fs_out=1e7))  # a 0.1 us hop
    lines = budget_warnings(tight)
    est = tight["gap9_ESTIMATED"]["370MHz"]
    assert len(lines) == 2 and f"takes {est['estimated_latency_us']:g} us ({est['estimated_inference_cycles']} " \
        f"cycles), longer than the hop period 0.1 us" in lines[0]


def test_build_stream_refusals(tmp_path, shared_dir):
    program = make_random_program(small_config(channels=CHANNELS, samples=WINDOW), seed=3, prob_bits=8)
    with pytest.raises(TinyMyoError, match="carries no preprocessing description"):
        stream_config(program, HOP, 1, "m.int8.onnx")
    offline = {**_stream_desc(shared_dir), "pipeline": "offline"}
    program.metadata["preprocessing"] = json.dumps(offline)
    with pytest.raises(TinyMyoError, match="zero-phase filters"):
        stream_config(program, HOP, 1, "m.int8.onnx")
    program.metadata["preprocessing"] = dumps(_stream_desc(shared_dir))
    with pytest.raises(TinyMyoError, match="--hop must be 1..40"):
        stream_config(program, 41, 1, "m.int8.onnx")


# ------------------------------------------------------------------------------------------------ bad input


def test_bad_recordings_are_refused_naming_the_file(stream_app, tmp_path):
    outdir, _ = stream_app
    cases = {
        "rate.npz": dict(emg=np.zeros((500, 10), np.int16), fs=np.array(2000.0)),
        "nan.npz": dict(emg=np.full((500, 10), np.nan, np.float32), fs=np.array(1000.0)),
        "float.npz": dict(emg=np.full((500, 10), 0.5, np.float32), fs=np.array(1000.0)),
        "one_channel.npz": dict(emg=np.zeros((500, 1), np.int16), fs=np.array(1000.0)),
    }
    messages = {"rate.npz": "sampled at 2000 Hz", "nan.npz": "NaN or Inf", "float.npz": "not integers",
                "one_channel.npz": "cannot select"}
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(TinyMyoError, match=messages[name]) as err:
            validate_stream(outdir, tmp_path / name, fmt="npz-continuous")
        assert str(tmp_path / name) in str(err.value)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(TinyMyoError, match="empty.npz: not a readable .npz"):
        validate_stream(outdir, tmp_path / "empty.npz", fmt="npz-continuous")


@pytest.mark.parametrize("size, message", [(0, "an empty recording"), (2 * CHANNELS * 10 + 3, "truncated")])
def test_app_refuses_empty_or_truncated_raw_file(stream_app, tmp_path, size, message):
    outdir, _ = stream_app
    raw = tmp_path / "raw.bin"
    raw.write_bytes(bytes(size))
    proc = subprocess.run(["make", "-s", "-C", str(outdir / "stream"), "run", "platform=host", f"INPUT={raw}",
                           f"OUTPUT={tmp_path / 'hops.bin'}"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert f"error: {raw}: " in proc.stdout and message in proc.stdout


@pytest.mark.parametrize("source", ["file", "ads1298"])
def test_gap9_stream_paths_compile_against_the_published_pmsis_api(stream_app, source):
    """main.c (async cluster, double buffer) and the GAP9 sample sources with TM_PLATFORM_GAP9, -Wall -Wextra
    -Werror, against tests/pmsis_decls (public-header declarations) plus the published PMSIS signatures (tests/stream_sdk_stub). Not the SDK."""
    import shutil
    from pathlib import Path

    outdir, _ = stream_app
    gcc = shutil.which("gcc") or shutil.which("cc")
    stubs = Path(__file__).parent
    flags = ["-DTM_SOURCE_ADS1298"] if source == "ads1298" else []
    for src in ("main.c", "src/tm_source_gap9.c", "src/tm_stream.c"):
        proc = subprocess.run([gcc, "-std=c11", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-DTM_PLATFORM_GAP9",
                               '-DTM_INPUT_FILE="rec.bin"', '-DTM_OUTPUT_FILE=""', *flags,
                               f"-I{stubs / 'pmsis_decls'}", "-include",
                               str(stubs / "stream_sdk_stub" / "pmsis_stream_extra.h"), "-I.", "-Isrc", "-Iplatform",
                               "-I../network", "-I../kernels/inc", "-include", "platform/tm_layer_hooks.h", src],
                              cwd=outdir / "stream", capture_output=True, text=True)
        assert proc.returncode == 0, f"{src}:\n{proc.stderr}"
