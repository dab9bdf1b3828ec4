"""The checking build (-DTM_CHECK_MEMORY, gap9_app/inc/tm_check.h, platform/common/tm_xfer_memcpy.c): separate L1 /
L2 / L3 regions, transfers deferred to their wait, every transfer and kernel range checked against the layer's
planned L1 buffers and the pending transfers. The generated schedule passes it (and stays == golden) on models of
the exactness grid and every head; planted faults in network.c (a deleted wait, a shifted destination, a dropped
transfer, a kernel handed an L2 pointer) are caught naming the layer; a missing or short weights.bin is refused."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from program_factory import make_random_program, small_config
from test_build import GRID, assert_c_equals_golden
from tinymyo_edge.build import build_program
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.memory import BOARDS, plan_memory
from tinymyo_edge.passes import run_passes
from tinymyo_edge.model.config import TinyMyoConfig
from tinymyo_edge.targets.host import compile_host, run_binary


def _grid_config(cfg) -> TinyMyoConfig:
    c, t, patch, dim, heads, depth, classes, head, red = cfg
    return TinyMyoConfig(channels=c, samples=t, patch_size=patch, dim=dim, heads=heads, depth=depth,
                         classes=classes, head=head, reduction=red, reg_hidden=12, reg_target_len=17)


@pytest.mark.parametrize("cfg", [GRID[1], GRID[2], GRID[4]], ids=lambda c: f"{c[7]}-{c[8]}")
def test_checking_build_passes_and_is_exact(tmp_path, cfg):
    """Grid models (classification mean, regression concat: depthwise + interpolate + patch_features,
    reconstruction), on the gap9 board (many tiles) and with an L1 so small that every loop has several tiles."""
    config = _grid_config(cfg)
    program = make_random_program(config, seed=sum(cfg[:7]))
    x = np.random.default_rng(1).normal(0, 1, (2, config.channels, config.samples)).astype(np.float32)
    build_program(program, tmp_path / "gap9", target="gap9")
    assert_c_equals_golden(tmp_path / "gap9", program, x, "check")
    tiny = BOARDS["host"].with_changes(l1_bytes=16384, weight_slab_bytes=256, cores=8)
    build_program(program, tmp_path / "tiny", board=tiny)
    assert_c_equals_golden(tmp_path / "tiny", program, x, "check", cores=8)


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    """A build whose layers have several tiles (small L1), to plant faults into."""
    root = tmp_path_factory.mktemp("check")
    program = make_random_program(small_config(head="regression"), seed=4)
    build_program(program, root / "out", board=BOARDS["host"].with_changes(l1_bytes=8192, weight_slab_bytes=128))
    return root / "out", program


def _planted(small_build, tmp_path, edit):
    out, program = small_build
    copy = tmp_path / "faulty"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns(".host"))
    network = copy / "network" / "network.c"
    text = network.read_text()
    changed = edit(text)
    assert changed != text, "the fault was not planted"
    network.write_text(changed)
    x = np.random.default_rng(0).normal(0, 1, (1, 2, 40)).astype(np.float32)
    with pytest.raises(TinyMyoError) as err:
        run_binary(compile_host(copy, "check"), x, tuple(program.tensors[program.output].shape))
    return str(err.value)


def _in_layer(text: str, layer: str, old: str, new: str) -> str:
    """Replace the first `old` after the layer's TM_CHECK_LAYER line."""
    start = text.index(f'TM_CHECK_LAYER("{layer}"')
    at = text.index(old, start)
    return text[:at] + new + text[at + len(old):]


def test_deleted_wait_is_caught(small_build, tmp_path):
    msg = _planted(small_build, tmp_path, lambda t: _in_layer(t, "blocks_0_mlp_fc1", "tm_xfer_wait(&xf->xt[s]);", ""))
    assert "memory check failed in layer blocks_0_mlp_fc1" in msg and "pending" in msg


def test_shifted_destination_is_caught(small_build, tmp_path):
    def edit(t):
        m = re.search(r'TM_CHECK_LAYER\("blocks_0_norm1".*?tm_xfer_to_l1\(tm_l1 \+ \(s \? (\d+) : (\d+)\)', t, re.S)
        return t[:m.start(2)] + f"{m.group(2)} + 16" + t[m.end(2):]
    msg = _planted(small_build, tmp_path, edit)
    assert "memory check failed in layer blocks_0_norm1" in msg and "planned L1 buffers" in msg


def test_dropped_transfer_is_caught(small_build, tmp_path):
    def edit(t):
        start = t.index('TM_CHECK_LAYER("blocks_0_add1"')
        m = re.compile(r"\n\s*tm_xfer_to_l2\(.*?;").search(t, start)
        return t[:m.start()] + t[m.end():]
    msg = _planted(small_build, tmp_path, edit)
    assert "memory check failed in layer blocks_0_add1" in msg and "the plan has" in msg


def test_kernel_handed_an_l2_pointer_is_caught(small_build, tmp_path):
    def edit(t):
        start = t.index('TM_CHECK_LAYER("blocks_0_attn_proj"')
        m = re.compile(r"\.x = tm_l1 \+ \(s \? \d+ : \d+\)").search(t, start)
        return t[:m.start()] + ".x = tm_slabs[1]" + t[m.end():]
    msg = _planted(small_build, tmp_path, edit)
    assert "memory check failed in layer blocks_0_attn_proj" in msg and "kernel tm_linear reads x" in msg


@pytest.mark.parametrize("damage", ["missing", "short"])
def test_missing_or_short_weight_image_is_refused(small_build, tmp_path, damage):
    out, program = small_build
    weights = tmp_path / "weights.bin"
    if damage == "short":
        weights.write_bytes((out / "network" / "weights.bin").read_bytes()[:-1])
    x = np.zeros((1, 2, 40), np.float32)
    with pytest.raises(TinyMyoError, match="exit 2") as err:
        run_binary(compile_host(out, "validate"), x, tuple(program.tensors[program.output].shape), weights=weights)
    assert "weight image" in str(err.value) and str(weights) in str(err.value)


@pytest.mark.parametrize("prob_bits", [None, 8, 16])  # None: the deferred softmax (int16 score rows)
def test_checking_build_of_800_tokens_streams_key_chunks_exactly(tmp_path, prob_bits):
    """800 tokens (16 x 1000, the NinaPro DB5 shape; a narrow one-block model to stay fast) on a small L1: several
    query-row blocks and key chunks per head, every transfer and kernel range checked, == golden at every layer."""
    config = TinyMyoConfig(channels=16, samples=1000, dim=24, heads=3, depth=1, classes=4)
    program = make_random_program(config, seed=prob_bits or 3, prob_bits=prob_bits)
    board = BOARDS["host"].with_changes(l1_bytes=65536, cores=8)
    tiles = [t for t in plan_memory(run_passes(program)[0], board).tiles if t.kind == "attention"]
    assert tiles and all(t.dims["kv_chunk"] < 800 and t.dims["rows"] < 800 for t in tiles)
    x = np.random.default_rng(prob_bits or 3).normal(0, 1, (1, config.channels, config.samples)).astype(np.float32)
    build_program(program, tmp_path / "out", board=board)
    assert_c_equals_golden(tmp_path / "out", program, x, "check", cores=8)


@pytest.mark.parametrize("reduction", ["concat", "mean"])
def test_checking_build_streams_token_mean_in_tiles_crossing_channels(tmp_path, reduction):
    """token_mean on an L1 too small for its input (120 tokens of 3 channels x 40 patches): several token tiles
    streamed double buffered, tiles ending inside a channel, the int32 accumulators resident across tiles; every
    transfer and kernel range checked, the transfer count planned, == golden at every layer."""
    config = small_config(channels=3, samples=400, reduction=reduction)
    program = make_random_program(config, seed=7)
    board = BOARDS["host"].with_changes(l1_bytes=1856, weight_slab_bytes=256, cores=1)
    (tile,) = [t for t in plan_memory(run_passes(program)[0], board).tiles if t.kind == "token_mean"]
    n, p, t = 120, 40, tile.dims["tokens"]
    starts = range(0, n, t)
    assert len(starts) >= 3
    assert any(n0 < c * p < n0 + t for n0 in starts for c in range(1, 3))  # a tile holds two channels' tokens
    assert any(n0 % p for n0 in starts)  # a tile starts inside a channel
    x = np.random.default_rng(7).normal(0, 1, (1, config.channels, config.samples)).astype(np.float32)
    build_program(program, tmp_path / "out", board=board)
    assert_c_equals_golden(tmp_path / "out", program, x, "check")


@pytest.fixture(scope="module")
def resident_build(tmp_path_factory):
    """The deployed attention shape (400 tokens, dim 192, 3 heads; one block) on the gap9 board: each head's K and V
    resident in L1 (V landing in the score rows, (v - 128)^T prepared once per head)."""
    root = tmp_path_factory.mktemp("resident")
    program = make_random_program(TinyMyoConfig(depth=1), seed=5)
    (tile,) = [t for t in plan_memory(run_passes(program)[0], BOARDS["gap9"]).tiles if t.kind == "attention"]
    assert tile.dims == {"rows": 32, "kv_chunk": 400, "resident": 1}
    build_program(program, root / "out", target="gap9")
    return root / "out", program


def test_checking_build_of_resident_attention_is_exact(resident_build):
    out, program = resident_build
    x = np.random.default_rng(5).normal(0, 1, (1, 8, 1000)).astype(np.float32)
    assert_c_equals_golden(out, program, x, "check", cores=8)


@pytest.mark.parametrize("wait", ["tm_xfer_wait(&xf->kv[1]);", "tm_xfer_wait(&xf->qt);"])
def test_resident_attention_missing_wait_is_caught(resident_build, tmp_path, wait):
    """V read by the (v - 128)^T preparation before it has landed / the next block's q read before it has."""
    out, program = resident_build
    copy = tmp_path / "faulty"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns(".host"))
    network = copy / "network" / "network.c"
    network.write_text(_in_layer(network.read_text(), "blocks_0_attn", wait, ""))
    x = np.random.default_rng(0).normal(0, 1, (1, 8, 1000)).astype(np.float32)
    with pytest.raises(TinyMyoError) as err:
        run_binary(compile_host(copy, "check", cores=8), x, tuple(program.tensors[program.output].shape))
    assert "memory check failed in layer blocks_0_attn" in str(err.value) and "pending" in str(err.value)
