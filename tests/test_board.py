"""Board reserves: the plan only hands out what the runtime leaves (stacks, code, FC stack, app I/O), and a model
whose tiles fit the chip but not what is left is refused before any C is written, naming the layer and level."""

from __future__ import annotations

import re

import pytest

from app_helpers import small_config
from program_factory import make_random_program
from tinymyo_edge.build.core import build_program
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.memory.board import (BOARDS, KB, MASTER_STACK_BYTES, NNTOOL_GAP9_DEFAULT_L2, WORKER_STACK_BYTES,
                                       Board)
from tinymyo_edge.memory.plan import plan_memory
from tinymyo_edge.targets import nntool


def test_gap9_usable_sizes_are_the_chip_less_the_documented_reserves():
    gap9 = BOARDS["gap9"]
    assert (gap9.l1_total_bytes, gap9.l2_total_bytes) == (128 * KB, 1536 * KB)  # GAP9: 128 kB L1, 1.5 MB L2
    assert gap9.l1_stack_bytes == 4096 + 8 * 2048 == MASTER_STACK_BYTES + gap9.cores * WORKER_STACK_BYTES
    assert gap9.l1_bytes == 128 * KB - gap9.l1_stack_bytes - gap9.l1_runtime_bytes
    assert gap9.l2_bytes == 1536 * KB - gap9.l2_code_bytes - gap9.l2_fc_stack_bytes - gap9.l2_io_bytes
    # the anchor: public GAP9 NNTool apps give the AutoTiler 1.2-1.35 MB of L2, NNTool's default is 1.4 MB
    assert 1_200_000 <= gap9.l2_bytes <= NNTOOL_GAP9_DEFAULT_L2



def test_pulp_open_128k_differs_from_pulp_open_only_in_the_tcdm_size():
    """The 128 kB-TCDM GVSoC variant (GAP9's L1 size) keeps pulp-open's reserves: the planner gets 64 kB more L1."""
    small, large = BOARDS["pulp-open"], BOARDS["pulp-open-128k"]
    assert (small.l1_total_bytes, large.l1_total_bytes) == (64 * KB, 128 * KB)
    assert large.l1_reserved_bytes == small.l1_reserved_bytes == MASTER_STACK_BYTES + 8 * WORKER_STACK_BYTES + KB
    assert large.l1_bytes - small.l1_bytes == 64 * KB and small.l1_bytes == 44_032
    assert {k: v for k, v in vars(large).items() if k not in ("name", "l1_total_bytes")} == \
        {k: v for k, v in vars(small).items() if k not in ("name", "l1_total_bytes")}

def test_with_changes_moves_the_usable_size_and_keeps_the_reserves():
    gap9 = BOARDS["gap9"]
    small = gap9.with_changes(l1_bytes=200)
    assert small.l1_bytes == 200 and small.l1_reserved_bytes == gap9.l1_reserved_bytes
    with pytest.raises(TinyMyoError, match="reserves leave no L1"):
        Board("tiny", l1_total_bytes=1024, l2_total_bytes=1 << 20, l3_bytes=1 << 20, l3_device="hyperram", cores=8,
              weight_slab_bytes=1024, l1_stack_bytes=4096)


def test_a_model_that_fits_the_chip_but_not_the_reserves_is_refused_naming_layer_and_level(tmp_path):
    program = make_random_program(small_config(dim=64, samples=200, patch_size=10), seed=2)
    gap9 = BOARDS["gap9"]

    def plans(usable: int) -> bool:
        try:
            plan_memory(program, gap9.with_changes(l1_bytes=usable))
            return True
        except TinyMyoError:
            return False

    lo, hi = 1, gap9.l1_bytes  # the smallest usable L1 this model plans in (planning is monotone in L1)
    assert plans(hi) and not plans(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if plans(mid) else (mid, hi)
    need, reserve = hi, gap9.l1_reserved_bytes
    chip = gap9.with_changes(l1_total_bytes=need + reserve - 1)  # the chip's L1 holds the tiles, not also the stacks
    assert chip.l1_total_bytes >= need
    out = tmp_path / "out"
    with pytest.raises(TinyMyoError, match=r"layer '.+' \(\w+\) does not fit L1 of board gap9"):
        build_program(program, out, board=chip)
    assert not out.exists()
    plan = plan_memory(program, gap9.with_changes(l1_total_bytes=need + reserve))
    assert plan.l1_peak <= need  # one byte more and the same model plans


def test_every_gap9_plan_stays_inside_the_usable_sizes():
    program = make_random_program(small_config(dim=64, samples=200, patch_size=10, depth=2), seed=3)
    plan = plan_memory(program, BOARDS["gap9"])
    assert plan.l1_peak <= BOARDS["gap9"].l1_bytes < BOARDS["gap9"].l1_total_bytes
    assert plan.l2_bytes <= BOARDS["gap9"].l2_bytes


def test_nntool_gets_the_same_usable_l1_and_l2():
    settings = nntool.memory_settings(BOARDS["gap9"])
    assert (settings["l1_size"], settings["l2_size"]) == (BOARDS["gap9"].l1_bytes, BOARDS["gap9"].l2_bytes)
    assert (settings["cluster_stack_size"], settings["cluster_slave_stack_size"]) == (MASTER_STACK_BYTES,
                                                                                       WORKER_STACK_BYTES)
