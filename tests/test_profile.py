"""profile: counter-log parsing (app and NNTool formats), the cost-model estimate (labelled), measured columns
from logs, and the CLI's table / JSON / PNG."""

from __future__ import annotations

import json

import pytest

from app_helpers import build_small_app
from tinymyo_edge.cli import main as cli_main
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.profile.cost_model import COST_MODELS
from tinymyo_edge.profile.logs import parse_counter_log
from tinymyo_edge.profile.report import format_table, profile, to_json
from tinymyo_edge.targets.app_run import run_app
from tinymyo_edge.targets.operating_points import OPERATING_POINTS


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return build_small_app(tmp_path_factory.mktemp("profile") / "app")


def layer_names(outdir) -> list[str]:
    return [entry["layer"] for entry in json.loads((outdir / "build.json").read_text())["layers"]]


def gvsoc_log(names: list[str], cycles: list[int], macs: list[int]) -> str:
    """A GAP9 log in the NNTool/AutoTiler layout (padding, Cyc% and Op% fields) for the given layers."""
    lines = ["Start execution on GAP9"]
    for name, c, m in zip(names, cycles, macs):
        lines.append(f"{name:>45}: Cycles: {c:>10}, Cyc%:  10.0%, Operations: {m:>10}, Op%:  10.0%, "
                     f"Operations/Cycle: {m / c:f}")
    lines.append(f"{'Total':>45}: Cycles: {sum(cycles):>10}, Cyc%: 100.0%, Operations: {sum(macs):>10}, "
                 f"Op%: 100.0%, Operations/Cycle: {sum(macs) / sum(cycles):f}")
    return "\n".join(lines) + "\n"


def test_parse_app_and_nntool_lines():
    log = parse_counter_log("blocks_0_attn: Instructions: 120, Operations: 60, Operations/Instruction: 0.50\n"
                            "Total: Instructions: 120, Operations: 60, Operations/Instruction: 0.50\n"
                            "Errors: 0 out of 5\noutput[0] = 0x3f800000 (1.000)\nPredicted class: 3\n")
    assert log.unit == "Instructions" and log.kind == "rv32_instructions"
    assert log.layers == {"blocks_0_attn": (120, 60)} and log.total == (120, 60)
    assert log.errors == (0, 5) and log.output_bits == {0: 0x3F800000} and log.predicted_class == 3
    nntool = parse_counter_log(gvsoc_log(["S4_Conv2d_8x1x3x3", "S7_MatMul"], [1000, 3000], [500, 9000]))
    assert nntool.unit == "Cycles"
    assert nntool.layers == {"S4_Conv2d_8x1x3x3": (1000, 500), "S7_MatMul": (3000, 9000)}
    assert nntool.total == (4000, 9500)


def test_parse_refuses_mixed_units_and_empty_logs():
    with pytest.raises(TinyMyoError, match="mix"):
        parse_counter_log("a: Cycles: 1, Operations: 1, Operations/Cycle: 1.00\n"
                          "b: Nanoseconds: 1, Operations: 1, Operations/Nanosecond: 1.00\n")
    with pytest.raises(TinyMyoError, match="run.log: no per-layer counter lines"):
        parse_counter_log("hello\n", "run.log")


def test_profile_estimate_is_labelled_and_its_cycles_do_not_depend_on_the_clock(app):
    _, outdir = app
    fast = profile(outdir, operating_point="370MHz")
    slow = profile(outdir, operating_point="240MHz")
    assert [r.layer for r in fast.rows] == layer_names(outdir)
    assert fast.macs == json.loads((outdir / "build.json").read_text())["macs"]
    # the same cycles at every operating point, layer by layer (a frequency once leaked in through an L3 term)
    assert [r.est_cycles for r in fast.rows] == [r.est_cycles for r in slow.rows]
    assert fast.est_cycles == slow.est_cycles > 0
    for p in (fast, slow):  # latency = cycles / cluster frequency; energy = latency x average power
        for r in p.rows:
            assert r.est_us == pytest.approx(r.est_cycles / p.operating_point.cluster_hz * 1e6)
        assert p.est_energy_j == pytest.approx(p.est_latency_s * p.est_power_w)
    assert slow.est_latency_s / fast.est_latency_s == pytest.approx(370 / 240)
    # power: ARES's 44.91 mJ / 0.785 s at 370 MHz / 0.8 V, scaled by f x V^2 to 240 MHz / 0.65 V (GAP9.md)
    assert fast.est_power_w == pytest.approx(44.91e-3 / 0.785)
    assert slow.est_power_w == pytest.approx(44.91e-3 / 0.785 * (240 / 370) * (0.65 / 0.8) ** 2)
    doc = to_json(fast)
    assert doc["estimate"]["kind"] == "estimated" and "pulp-open" in doc["estimate"]["assumptions"]["gap9_cycles"]
    assert doc["estimate"]["energy_j"] == pytest.approx(fast.est_energy_j)
    table = format_table(fast)
    assert "ESTIMATED" in table and "assumptions of the estimate" in table and "ESTIMATED energy" in table


def test_every_kind_of_the_cost_model_names_its_source():
    model = COST_MODELS["pulp-open-128k"]
    kinds = set(model.cycles_per_mac) | set(model.cycles_per_element)
    assert kinds == set(model.sources)
    assert all(model.sources[k] for k in kinds)
    assert all("assumed" in model.sources[k] for k in ("conv1d", "rel_attention", "lut", "transpose"))


def test_bytes_per_level_follow_the_memory_plan(app):
    program, outdir = app
    memory = {m["name"]: m for m in json.loads((outdir / "memory" / "report.json").read_text())["layers"]}
    rows = {r.node: r for r in profile(outdir).rows}
    for name, row in rows.items():
        assert row.work.l3_bytes == memory[name]["weight_bytes"]
    # a linear layer held in one L1 tile moves its input, its weights and its output once
    single = [r for r in rows.values() if r.work.kind == "linear" and r.work.tiles == 1]
    assert single
    for r in single:
        op = next(op for op in program.ops if op.name == r.node)
        rows_, k = program.tensors[op.inputs[0]].shape
        m = op.weight.shape[0]
        assert r.work.l1_bytes == rows_ * k + memory[r.node]["weight_bytes"] + rows_ * m


def test_measured_columns_from_logs(app):
    _, outdir = app
    names = layer_names(outdir)
    rows = profile(outdir).rows
    cycles = [1000 + 17 * i for i in range(len(names))]
    gap9 = parse_counter_log(gvsoc_log(names + ["S99_Unknown"], cycles + [5], [r.work.macs for r in rows] + [1]))
    host = run_app(outdir, "host").counters
    p = profile(outdir, logs=[gap9, host])
    assert [r.measured["gap9_cycles"] for r in p.rows] == cycles
    assert all(r.measured["host_ns"] > 0 for r in p.rows)
    assert p.unmatched["gap9_cycles"] == ["S99_Unknown"]
    assert p.measured_total("gap9_cycles") == sum(cycles) + 5
    table = format_table(p)
    assert "GAP9 cycles" in table and "host ns" in table and "measured latency" in table


def test_profile_cli_writes_json_and_png_and_refuses_to_overwrite(app, tmp_path, capsys):
    _, outdir = app
    names = layer_names(outdir)
    log = tmp_path / "gvsoc.log"
    log.write_text(gvsoc_log(names, [2000] * len(names), [1] * len(names)))
    cli_main(["profile", str(outdir), "--log", str(log), "--operating-point", "240MHz", "--json", "--png"])
    assert "ESTIMATED" in capsys.readouterr().out
    doc = json.loads((outdir / "profile.json").read_text())
    assert doc["operating_point"]["name"] == "240MHz"
    assert doc["measured"]["gap9_cycles"]["kind"] == "measured"
    assert doc["measured"]["gap9_cycles"]["total"] == 2000 * len(names)
    assert (outdir / "profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit) as again:
        cli_main(["profile", str(outdir), "--json"])
    assert again.value.code == 2
    assert "--force" in capsys.readouterr().err


def test_profile_of_a_folder_that_is_not_a_build(tmp_path):
    with pytest.raises(TinyMyoError, match="not a build folder"):
        profile(tmp_path)


def test_cycles_of_a_pulp_open_run_are_not_labelled_gap9(app):
    _, outdir = app
    names = layer_names(outdir)
    text = "TinyMyo on pulp-open: operating point 370MHz\n" + gvsoc_log(names, [900] * len(names), [1] * len(names))
    log = parse_counter_log(text)
    assert log.platform == "pulp-open" and log.kind == "pulp_open_cycles"
    table = format_table(profile(outdir, logs=[log]))
    assert "pulp-open cycles" in table and "pulp-open MAC/cycle" in table
    assert "GAP9 cycles" not in table and "measured latency" not in table
    assert parse_counter_log(gvsoc_log(names, [900] * len(names), [1] * len(names))).kind == "gap9_cycles"
