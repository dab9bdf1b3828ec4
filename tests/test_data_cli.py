"""`tinymyo-edge data window`: counts and contents of windows cut from real 3DC recordings and continuous .npz."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from tinymyo_edge.cli import main
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.data import WindowParams, make_windows


def _run(args, capsys):
    """Run the CLI; return (exit status, stdout, stderr)."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _count(length: int, window: int, hop: int) -> int:
    return 0 if length < window else (length - window) // hop + 1


@pytest.fixture(scope="module")
def p2(shared_dir):
    path = shared_dir / "data" / "3dc" / "participant02.npz"
    with np.load(path) as f:
        return path, {k: f[k] for k in f.files}


def test_3dc_window_count_per_segment(p2, tmp_path, capsys):
    path, raw = p2
    out = tmp_path / "w.npz"
    code, _, err = _run(["data", "window", str(path), "-o", str(out), "--split", "train", "--window", "1000",
                          "--hop", "250"], capsys)
    assert code == 0, err
    with np.load(out) as w:
        x, y, group = w["x"], w["y"], w["group"]
    train = np.flatnonzero(raw["split"] == 0)
    expected = [_count(int(raw["length"][s]), 1000, 250) for s in train]
    assert x.shape == (sum(expected), 10, 1000) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(group, minlength=len(train)).tolist() == expected
    assert all(set(y[group == g].tolist()) <= {int(raw["label"][s])} for g, s in enumerate(train))


def test_3dc_windows_are_exact_slices_of_their_segment(p2, tmp_path, capsys):
    """Without filtering or normalisation each window is the recording itself: it never crosses its segment."""
    path, raw = p2
    out = tmp_path / "w.npz"
    code, _, err = _run(["data", "window", str(path), "-o", str(out), "--split", "test", "--window", "700", "--hop",
                         "333", "--no-bandpass", "--notch", "0", "--normalize", "none", "--channels", "1,3"], capsys)
    assert code == 0, err
    with np.load(out) as w:
        x, group = w["x"], w["group"]
    for g, s in enumerate(np.flatnonzero(raw["split"] == 1)):
        start, length = int(raw["start"][s]), int(raw["length"][s])
        mine = x[group == g]
        assert len(mine) == _count(length, 700, 333)
        for k, win in enumerate(mine):
            lo = start + k * 333
            assert lo + 700 <= start + length
            np.testing.assert_array_equal(win, raw["emg"][lo : lo + 700, [1, 3]].T.astype(np.float32))


def test_3dc_resampled_count_and_metadata(p2, tmp_path, capsys):
    path, raw = p2
    out = tmp_path / "w.npz"
    code, _, err = _run(["data", "window", str(path), "-o", str(out), "--split", "train", "--window", "200", "--hop",
                         "50", "--fs-out", "200"], capsys)
    assert code == 0, err
    with np.load(out) as w:
        n, meta = len(w["x"]), json.loads(str(w["meta"]))
    lengths = raw["length"][raw["split"] == 0]
    assert n == sum(_count(math.ceil(int(t) * 200 / 1000), 200, 50) for t in lengths)
    assert meta["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert meta["fs_out"] == 200 and meta["params"]["hop"] == 50 and meta["notch_hz"] == 60


def test_recording_normalisation_reuses_training_stats(p2, tmp_path, capsys):
    path, _ = p2
    train, test = tmp_path / "train.npz", tmp_path / "test.npz"
    common = ["--window", "500", "--hop", "500", "--normalize", "recording"]
    assert _run(["data", "window", str(path), "-o", str(train), "--split", "train", *common], capsys)[0] == 0
    assert _run(["data", "window", str(path), "-o", str(test), "--split", "test", *common,
                 "--stats-from", str(train)], capsys)[0] == 0
    with np.load(train) as a, np.load(test) as b:
        np.testing.assert_array_equal(a["norm_mean"], b["norm_mean"])
        np.testing.assert_array_equal(a["norm_std"], b["norm_std"])
        flat = a["x"].transpose(1, 0, 2).reshape(10, -1)
        np.testing.assert_allclose(flat.mean(axis=1), 0, atol=1e-3)
        np.testing.assert_allclose(flat.std(axis=1), 1, atol=1e-3)


def _continuous(tmp_path, time_major=True, labelled=True):
    rng = np.random.default_rng(1)
    emg = rng.standard_normal((5000, 3))
    label = np.repeat([0, 1, -1, 2, 1], [1200, 900, 400, 1500, 1000])
    arrays = {"emg": emg if time_major else emg.T, "fs": np.array(1000.0)}
    if labelled:
        arrays["label"] = label
    path = tmp_path / f"rec_{time_major}_{labelled}.npz"
    np.savez(path, **arrays)
    return path, emg, label


@pytest.mark.parametrize("time_major", [True, False])
def test_continuous_npz_windows_per_label_run(tmp_path, time_major):
    path, emg, label = _continuous(tmp_path, time_major)
    params = WindowParams(window=300, hop=100, band=None, notch_hz=0, normalisation="none")
    ws = make_windows(path, "npz-continuous", params)
    runs = [(0, 1200, 0), (1200, 2100, 1), (2500, 4000, 2), (4000, 5000, 1)]  # the -1 run is unlabelled: skipped
    assert np.bincount(ws.groups).tolist() == [_count(b - a, 300, 100) for a, b, _ in runs]
    for g, (a, b, lab) in enumerate(runs):
        assert (ws.y[ws.groups == g] == lab).all()
        for k, win in enumerate(ws.x[ws.groups == g]):
            assert a + 100 * k + 300 <= b
            np.testing.assert_array_equal(win, emg[a + 100 * k : a + 100 * k + 300].T.astype(np.float32))


def test_continuous_npz_without_labels_has_no_y(tmp_path):
    path, _, _ = _continuous(tmp_path, labelled=False)
    ws = make_windows(path, "npz-continuous", WindowParams(window=1000, hop=1000))
    assert ws.y is None and len(ws.x) == 5


@pytest.mark.parametrize(
    "extra,match",
    [(["--split", "train"], "3DC recordings only"), (["--channels", "0,7"], "cannot select"),
     (["--window", "6000"], "long enough"), (["--fs-in", "2000"], "--fs-in says"),
     (["--normalize", "zscore", "--stats-from", "x.npz"], "needs --normalize recording"),
     (["--bandpass", "20", "600"], "Nyquist")],
)
def test_bad_inputs_fail_cleanly(tmp_path, capsys, extra, match):
    path, _, _ = _continuous(tmp_path)
    out = tmp_path / "w.npz"
    code, _, err = _run(["data", "window", str(path), "-o", str(out), "--format", "npz-continuous", *extra], capsys)
    assert code == 2 and match in err and not out.exists()


def test_refuses_to_overwrite_and_missing_input(tmp_path, capsys):
    path, _, _ = _continuous(tmp_path)
    out = tmp_path / "w.npz"
    out.write_bytes(b"mine")
    code, _, err = _run(["data", "window", str(path), "-o", str(out), "--format", "npz-continuous"], capsys)
    assert code == 2 and "--force" in err and out.read_bytes() == b"mine"
    code, _, err = _run(["data", "window", str(tmp_path / "none.npz"), "-o", str(tmp_path / "o.npz")], capsys)
    assert code == 2 and "no such recording file" in err


def test_3dc_format_refuses_a_non_3dc_file(tmp_path):
    path, _, _ = _continuous(tmp_path)
    with pytest.raises(TinyMyoError, match="not a 3DC participant file"):
        make_windows(path, "3dc", WindowParams(window=100, hop=100))


def test_continuous_npz_with_only_unlabelled_samples_is_refused(tmp_path):
    path = tmp_path / "rec.npz"
    np.savez(path, emg=np.zeros((2000, 2)), fs=np.array(1000.0), label=np.full(2000, -1))
    with pytest.raises(TinyMyoError, match="no labelled samples"):
        make_windows(path, "npz-continuous", WindowParams(window=100, hop=100))
