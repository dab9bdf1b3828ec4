"""Window readers (npz, HDF5, 3DC), upstream preprocessing and windowing: values and every bad-input error."""

import numpy as np
import pytest
from scipy import signal

from tinymyo_edge.data import (
    Windows,
    bandpass,
    load_3dc,
    load_windows,
    minmax,
    notch,
    resample,
    save_windows,
    sliding_windows,
    window_recording,
    windows_from_3dc,
    zscore,
)
from tinymyo_edge.errors import TinyMyoError


def windows(n=5, c=3, t=40, seed=0):
    return np.random.default_rng(seed).standard_normal((n, c, t)).astype(np.float32)


# ------------------------------------------------------------------------------------------------ npz / HDF5


def test_npz_round_trip(tmp_path):
    x, y = windows(), np.arange(5)
    path = save_windows(Windows(x, y), tmp_path / "w.npz")
    got = load_windows(path, channels=3, samples=40)
    assert np.array_equal(got.x, x) and got.x.dtype == np.float32
    assert np.array_equal(got.y, y) and got.y.dtype == np.int64
    assert (len(got), got.channels, got.samples) == (5, 3, 40)


def test_npz_without_labels_and_integer_data(tmp_path):
    np.savez(tmp_path / "w.npz", x=np.ones((2, 3, 4), dtype=np.int16))
    got = load_windows(tmp_path / "w.npz")
    assert got.y is None and got.x.dtype == np.float32 and got.x.sum() == 24


def test_hdf5_data_and_label(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py not installed")
    x, y = windows(), np.array([0, 1, 2, 1, 0], dtype=np.int32)
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f["data"], f["label"] = x, y
    got = load_windows(tmp_path / "w.h5", channels=3)
    assert np.array_equal(got.x, x) and np.array_equal(got.y, y) and got.y.dtype == np.int64


def test_float_regression_targets_are_kept(tmp_path):
    y = np.random.default_rng(1).standard_normal((5, 10, 2))
    np.savez(tmp_path / "w.npz", x=windows(), y=y)
    got = load_windows(tmp_path / "w.npz")
    assert got.y.dtype == np.float32 and got.y.shape == (5, 10, 2)


@pytest.mark.parametrize(
    "x,kwargs,message",
    [(np.zeros((3, 40), np.float32), {}, r"rank 3 \(N, channels, samples\); got shape \(3, 40\)"),
     (np.zeros((2, 3, 4, 5), np.float32), {}, "rank 3"),
     (np.zeros((0, 3, 40), np.float32), {}, "empty window set"),
     (windows(), {"channels": 8}, "3 channels, but the model expects 8"),
     (windows(), {"samples": 1000}, "40 samples per window, but the model expects 1000")],
)
def test_bad_shapes_are_refused_naming_the_file(tmp_path, x, kwargs, message):
    path = tmp_path / "bad.npz"
    np.savez(path, x=x)
    with pytest.raises(TinyMyoError, match=message) as err:
        load_windows(path, **kwargs)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_name_the_first_bad_window(tmp_path, bad):
    x = windows(n=6)
    x[4, 1, 7] = bad
    x[2, 0, 0] = bad
    np.savez(tmp_path / "bad.npz", x=x)
    with pytest.raises(TinyMyoError, match=r"bad\.npz: NaN or Inf in 2 of 6 windows; first bad window index 2"):
        load_windows(tmp_path / "bad.npz")


def test_values_beyond_float32_become_inf_and_are_refused(tmp_path):
    x = windows().astype(np.float64)
    x[1, 0, 0] = 1e300
    np.savez(tmp_path / "big.npz", x=x)
    with pytest.raises(TinyMyoError, match="first bad window index 1"):
        load_windows(tmp_path / "big.npz")


def test_labels_must_match_the_windows(tmp_path):
    np.savez(tmp_path / "w.npz", x=windows(), y=np.arange(4))
    with pytest.raises(TinyMyoError, match=r"5 windows but labels of shape \(4,\)"):
        load_windows(tmp_path / "w.npz")


@pytest.mark.parametrize(
    "name,content,message",
    [("w.npz", b"not a zip", "not a readable .npz"), ("w.csv", b"1,2", "unknown data format"),
     ("w.h5", b"not hdf5", "not a readable HDF5")],
)
def test_foreign_files_are_named(tmp_path, name, content, message):
    if name.endswith(".h5"):
        pytest.importorskip("h5py", reason="h5py not installed")
    (tmp_path / name).write_bytes(content)
    with pytest.raises(TinyMyoError, match=message):
        load_windows(tmp_path / name)


def test_missing_arrays_and_files(tmp_path):
    np.savez(tmp_path / "w.npz", data=windows())
    with pytest.raises(TinyMyoError, match="no array 'x'.*arrays: data"):
        load_windows(tmp_path / "w.npz")
    with pytest.raises(TinyMyoError, match="no such data file"):
        load_windows(tmp_path / "absent.npz")


def test_save_windows_refuses_to_overwrite(tmp_path):
    path = save_windows(Windows(windows()), tmp_path / "w.npz")
    with pytest.raises(TinyMyoError, match="already exists"):
        save_windows(Windows(windows(seed=1)), path)
    assert np.array_equal(load_windows(path).x, windows())


# ------------------------------------------------------------------------------------------------ preprocessing


def tone(freqs, fs=1000.0, seconds=4.0):
    t = np.arange(int(fs * seconds)) / fs
    return sum(np.sin(2 * np.pi * f * t) for f in freqs)


def amplitude_at(x, f, fs=1000.0):
    """Amplitude of the f Hz component over the middle half (away from filter edges)."""
    mid = x[len(x) // 4 : 3 * len(x) // 4]
    t = np.arange(len(mid)) / fs
    return 2 * abs(np.mean(mid * np.exp(-2j * np.pi * f * t)))


def test_bandpass_keeps_the_band_and_removes_outside():
    y = bandpass(tone([5, 100, 480])[None], 1000.0, 20, 450)[0]
    assert amplitude_at(y, 100) == pytest.approx(1.0, abs=0.02)
    assert amplitude_at(y, 5) < 0.02 and amplitude_at(y, 480) < 0.2


def test_bandpass_is_zero_phase_4th_order_butterworth():
    x = np.random.default_rng(0).standard_normal((2, 3000))
    sos = signal.butter(4, [20, 90], btype="bandpass", fs=200, output="sos")
    assert np.allclose(bandpass(x, 200, 20, 90), signal.sosfiltfilt(sos, x, axis=-1))


def test_notch_removes_mains_only():
    y = notch(tone([50, 120]), 1000.0, 50.0)
    assert amplitude_at(y, 50) < 0.01
    assert amplitude_at(y, 120) == pytest.approx(1.0, abs=0.01)


def test_filter_edges_outside_nyquist_are_refused():
    with pytest.raises(TinyMyoError, match="Nyquist"):
        bandpass(np.zeros((1, 100)), 200.0, 20, 450)
    with pytest.raises(TinyMyoError, match="below the high edge"):
        bandpass(np.zeros((1, 100)), 1000.0, 90, 20)


def test_zscore_and_minmax_are_per_channel():
    x = np.stack([np.linspace(0, 10, 50), np.linspace(-3, -1, 50), np.full(50, 7.0)])
    z = zscore(x)
    assert np.allclose(z[:2].mean(axis=-1), 0) and np.allclose(z[:2].std(axis=-1), 1)
    assert np.all(z[2] == 0)  # a flat channel stays finite
    m = minmax(x)
    assert np.allclose(m[:2].min(axis=-1), -1) and np.allclose(m[:2].max(axis=-1), 1)
    assert np.all(m[2] == 0)


# ------------------------------------------------------------------------------------------------ windowing


def test_sliding_windows_positions_and_dropped_tail():
    x = np.arange(2 * 23).reshape(2, 23)
    w = sliding_windows(x, 10, 5)
    assert w.shape == (3, 2, 10)
    for i in range(3):
        assert np.array_equal(w[i], x[:, 5 * i : 5 * i + 10])
    assert sliding_windows(x, 30, 5).shape == (0, 2, 30)


def test_resampling_keeps_a_tone_and_changes_the_length():
    x = tone([10], fs=1000.0, seconds=2.0)[None]
    y = resample(x, 1000.0, 200.0)
    assert y.shape == (1, 400)
    assert amplitude_at(y[0], 10, fs=200.0) == pytest.approx(1.0, abs=0.01)
    w = window_recording(x, window=100, hop=50, fs_in=1000.0, fs_out=200.0)
    assert w.shape == (7, 1, 100)


def test_windowing_argument_errors():
    with pytest.raises(TinyMyoError, match=r"\(channels, samples\)"):
        sliding_windows(np.zeros(10), 4, 4)
    with pytest.raises(TinyMyoError, match="both fs_in and fs_out"):
        window_recording(np.zeros((1, 10)), window=4, fs_in=1000.0)


# ------------------------------------------------------------------------------------------------ 3DC


def test_3dc_segments_follow_the_index_arrays(shared_dir):
    path = shared_dir / "data" / "3dc" / "participant01.npz"
    raw = np.load(path)
    segments = load_3dc(path)
    assert len(segments) == len(raw["start"])
    s = segments[3]
    assert s.emg.shape == (raw["length"][3], 10) and s.emg.dtype == np.float32
    assert np.array_equal(s.emg, raw["emg"][raw["start"][3] : raw["start"][3] + raw["length"][3]])
    assert (s.label, s.rep, s.split) == (raw["label"][3], raw["rep"][3], raw["split"][3])
    test = load_3dc(path, split=1)
    assert len(test) == int((raw["split"] == 1).sum()) and all(seg.split == 1 for seg in test)


def test_windows_from_3dc_are_normalised_and_labelled(shared_dir):
    path = shared_dir / "data" / "3dc" / "participant02.npz"
    w = windows_from_3dc(path, window=200, hop=200, channels=[0, 3, 9], split=0, fs_out=200.0, band=(20.0, 90.0))
    assert w.x.shape[1:] == (3, 200) and w.x.dtype == np.float32 and len(w.y) == len(w)
    assert np.allclose(w.x.mean(axis=-1), 0, atol=1e-5) and np.allclose(w.x.std(axis=-1), 1, atol=1e-3)
    assert set(np.unique(w.y)) == set(range(11))


def test_3dc_errors(shared_dir, tmp_path):
    path = shared_dir / "data" / "3dc" / "participant01.npz"
    with pytest.raises(TinyMyoError, match="cannot select"):
        windows_from_3dc(path, channels=12)
    with pytest.raises(TinyMyoError, match="split must be"):
        load_3dc(path, split=2)
    np.savez(tmp_path / "not3dc.npz", x=windows())
    with pytest.raises(TinyMyoError, match="not a 3DC participant file; missing arrays: emg"):
        load_3dc(tmp_path / "not3dc.npz")
    with pytest.raises(TinyMyoError, match="empty window set"):
        windows_from_3dc(path, window=100_000)
