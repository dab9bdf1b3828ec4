"""Memory planning: planners never overlap live buffers, the arena stays near its liveness lower bound, programs that
do not fit are refused (naming layer and level) before anything is written; the report in every form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from program_factory import make_random_program, small_config
from tinymyo_edge.build import build_program
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.memory import BOARDS
from tinymyo_edge.memory import Buffer, lower_bound, plan_greedy, plan_linear, plan_memory
from tinymyo_edge.memory.tiling import tile_op
from tinymyo_edge.memory.planner import arena_size, check_plan
from tinymyo_edge.memory.report import ascii_plan, report_dict, report_table
from tinymyo_edge.model.config import TinyMyoConfig
from tinymyo_edge.passes import run_passes

buffers_st = st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 30), st.integers(0, 10)), min_size=1, max_size=25)


@settings(max_examples=150, deadline=None)
@given(buffers_st)
def test_planners_never_share_bytes_between_live_buffers(raw):
    buffers = [Buffer(f"b{i}", size, first, first + length) for i, (size, first, length) in enumerate(raw)]
    greedy, linear = plan_greedy(buffers), plan_linear(buffers)
    check_plan(buffers, greedy)
    check_plan(buffers, linear)
    steps = max(b.last for b in buffers) + 1
    no_reuse = sum(-(-b.size // 16) * 16 for b in buffers)
    assert lower_bound(buffers, steps) <= arena_size(buffers, greedy) <= no_reuse
    assert arena_size(buffers, linear) <= no_reuse
    assert all(off % 16 == 0 for off in greedy.values())


def test_overlap_checker_catches_a_bad_plan():
    buffers = [Buffer("a", 100, 0, 2), Buffer("b", 100, 1, 3)]
    with pytest.raises(AssertionError):
        check_plan(buffers, {"a": 0, "b": 50})


def test_tinymyo_arena_within_5_percent_of_lower_bound():
    program, _ = run_passes(make_random_program(TinyMyoConfig(channels=8), seed=0))
    plan = plan_memory(program, BOARDS["gap9"])
    assert plan.arena_bytes <= 1.05 * plan.lower_bound
    assert plan.l2_bytes <= BOARDS["gap9"].l2_bytes
    assert plan.l1_peak <= BOARDS["gap9"].l1_bytes
    attention = [t for t in plan.tiles if t.kind == "attention"]
    assert attention and all(t.dims["rows"] >= 8 for t in attention)  # row blocks of 400 tokens fit L1


def test_attention_of_800_tokens_fits_gap9_l1():
    """K and V stream in key chunks per query-row block, so the attention of 800 tokens (16 x 1000, NinaPro DB5)
    tiles GAP9's L1: a block's score rows and one chunk, nothing of N * hd."""
    program, _ = run_passes(make_random_program(TinyMyoConfig(channels=16), seed=0))
    shapes = {name: t.shape for name, t in program.tensors.items()}
    attention = [tile_op(op, shapes, BOARDS["gap9"]) for op in program.ops if op.kind == "attention"]
    assert attention and all(t.l1_bytes <= BOARDS["gap9"].l1_bytes for t in attention)
    assert all(t.dims["rows"] >= 32 and 1 < t.dims["kv_chunk"] < 800 for t in attention)
    assert all(size < 800 * 64 for t in attention for name, _, size in t.buffers if name.startswith("kv"))


@pytest.mark.parametrize("board, channels", [("pulp-open", 8), ("gap9", 16)])
def test_classification_model_plans_with_token_mean_streamed(board, channels):
    """token_mean streams token tiles through L1 (the accumulators resident), so the deployed 8 x 1000 model plans
    on pulp-open's L1 and 16 x 1000 (800 tokens) on GAP9's: before, its whole input (77 kB / 154 kB) was one tile."""
    program, _ = run_passes(make_random_program(TinyMyoConfig(channels=channels), seed=0))
    plan = plan_memory(program, BOARDS[board])
    assert plan.l1_peak <= BOARDS[board].l1_bytes
    (op,) = [op for op in program.ops if op.kind == "token_mean"]
    (tile,) = [t for t in plan.tiles if t.kind == "token_mean"]
    n, d = program.tensors[op.inputs[0]].shape
    assert n == 50 * channels and n * d > BOARDS[board].l1_bytes  # the whole input could not be one tile
    assert 1 <= tile.dims["tokens"] < n


def test_token_mean_that_cannot_fit_is_refused_naming_the_layer_and_l1():
    """Even 1 token (2 x 192 B, double buffered) plus the 8 x 192 int32 accumulators need more than 4 kB."""
    program, _ = run_passes(make_random_program(TinyMyoConfig(channels=8), seed=0))
    op = next(op for op in program.ops if op.kind == "token_mean")
    shapes = {name: t.shape for name, t in program.tensors.items()}
    with pytest.raises(TinyMyoError, match=r"layer 'model_head\.mean' \(token_mean\) does not fit L1 of board gap9"):
        tile_op(op, shapes, BOARDS["gap9"].with_changes(l1_bytes=4096))


def test_attention_that_cannot_fit_is_refused_naming_the_layer_and_l1():
    """Even one block of query rows with 1-key chunks needs its score rows (R x N): 800 tokens in 8 kB cannot."""
    program, _ = run_passes(make_random_program(TinyMyoConfig(channels=16), seed=0))
    with pytest.raises(TinyMyoError, match=r"layer 'blocks\.0\.attn' \(attention\) does not fit L1 of board gap9"):
        plan_memory(program, BOARDS["gap9"].with_changes(l1_bytes=8192))


def test_refusal_names_layer_and_level_and_writes_nothing(tmp_path):
    program = make_random_program(small_config(), seed=1)
    small_l2 = BOARDS["gap9"].with_changes(l2_bytes=600)
    out = tmp_path / "out"
    with pytest.raises(TinyMyoError, match=r"layer '.+' does not fit L2 of board gap9"):
        build_program(program, out, board=small_l2)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    small_l1 = BOARDS["gap9"].with_changes(l1_bytes=200)
    with pytest.raises(TinyMyoError, match=r"layer '.+' .*does not fit L1"):
        build_program(program, out, board=small_l1)
    small_l3 = BOARDS["gap9"].with_changes(l3_bytes=100)
    with pytest.raises(TinyMyoError, match="L3"):
        build_program(program, out, board=small_l3)
    assert not out.exists()


C_SIZES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "int32_t": 4, "float": 4}


def _weights_c_bytes(path) -> int:
    """Bytes of the const arrays weights.c keeps in L2, read off the generated declarations (4-byte aligned)."""
    import re

    total = 0
    for ctype, count in re.findall(r"^const (\w+) \w+\[(\d+)\]", path.read_text(), flags=re.M):
        total += -(-C_SIZES[ctype] * int(count) // 4) * 4
    return total


def test_l2_constants_count_against_l2(tmp_path):
    """weights.c's constants (biases, multipliers, tables) live in L2 beside the arena, slabs and I/O: a board
    with room for the plan but not for them is refused naming a layer, before anything is written."""
    program = make_random_program(small_config(head="regression"), seed=3)
    result = build_program(program, tmp_path / "fits", board="gap9")
    constants = _weights_c_bytes(tmp_path / "fits" / "network" / "weights.c")
    assert constants > 0
    assert json.loads((tmp_path / "fits" / "build.json").read_text())["l2_constant_bytes"] == constants
    need = result.plan.l2_bytes + constants
    build_program(program, tmp_path / "exact", board=BOARDS["gap9"].with_changes(l2_bytes=need))
    out = tmp_path / "short"
    with pytest.raises(TinyMyoError, match=r"layer '.+' does not fit L2 of board gap9: .* L2 constants "
                                           + str(constants)):
        build_program(program, out, board=BOARDS["gap9"].with_changes(l2_bytes=need - 1))
    assert not out.exists()


def test_report_forms(tmp_path):
    program, _ = run_passes(make_random_program(small_config(head="regression"), seed=2))
    plan = plan_memory(program, BOARDS["gap9"])
    data = json.loads(json.dumps(report_dict(program, plan)))
    assert set(data["levels"]) == {"L1", "L2", "L3"}
    assert data["levels"]["L2"]["arena_lower_bound"] == plan.lower_bound
    assert [layer["name"] for layer in data["layers"]] == [op.name for op in program.ops]
    table = report_table(program, plan)
    assert "liveness lower bound" in table and all(op.name[:35] in table for op in program.ops)
    picture = ascii_plan(program, plan)
    assert len([line for line in picture.splitlines() if line[:4].strip().isdigit()]) == len(program.ops)
    live_max = max(plan.live)
    assert live_max == plan.lower_bound
