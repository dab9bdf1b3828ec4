"""The lowering end to end: C host build == golden executor (np.array_equal, every layer) on random, real and
extreme inputs, for a grid of model sizes and every head; sanitizers; hostile node names; atomic output; the CLI;
int8 ONNX -> build -> validate against onnxruntime."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess

import numpy as np
import pytest

from program_factory import make_random_program, small_config
from tinymyo_edge.build import build, build_program, run_host, validate
from tinymyo_edge.build.program_io import load_program, save_program
from tinymyo_edge.cli import main
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.memory import BOARDS
from tinymyo_edge.model.config import TinyMyoConfig
from tinymyo_edge.targets.host import compile_host, run_binary
from tinymyo_edge.validate import _split_dump

HEADS = [("classification", "concat"), ("classification", "mean"), ("regression", "concat"),
         ("regression", "mean"), ("reconstruction", "concat")]


def extreme_inputs(program, rng, shape) -> np.ndarray:
    """Random, zero, constant, +-1e6, saturating, NaN/inf and exact rounding ties of the input quantizer."""
    scale = program.ops[0].scale
    ties = ((rng.integers(-130, 130, shape) + 0.5) * scale).astype(np.float32)
    nan = rng.normal(0, 1, shape).astype(np.float32)
    nan.flat[::7], nan.flat[1::11], nan.flat[2::13] = np.nan, np.inf, -np.inf
    return np.stack([rng.normal(0, 1, shape), np.zeros(shape), np.full(shape, 0.3), np.full(shape, 1e6),
                     np.full(shape, -1e6), np.where(rng.random(shape) < 0.5, -1e6, 1e6), ties, nan,
                     rng.normal(0, 50 * scale, shape)]).astype(np.float32)


def assert_c_equals_golden(outdir, program, x, variant="dump", cores=None):
    """Final outputs AND every layer's dump of the C build are == the golden executor's."""
    manifest = json.loads((outdir / "build.json").read_text())
    exe = compile_host(outdir, variant, cores=cores)
    y, blob = run_binary(exe, x, tuple(manifest["output"]["shape"]), dump=True)
    for w, dumped in enumerate(_split_dump(blob, manifest["layers"], len(x))):
        golden = program.run(x[w], keep=True)
        assert np.array_equal(y[w], golden[program.output], equal_nan=True), f"window {w}: output differs"
        for layer in manifest["layers"]:
            want = golden[layer["tensor"]]
            assert np.array_equal(dumped[layer["tensor"]], want, equal_nan=True), f"window {w}: {layer['layer']}"
    return y


@pytest.mark.parametrize("head,reduction", HEADS)
def test_every_head_exact_on_extreme_inputs(tmp_path, head, reduction):
    cfg = small_config(head=head, reduction=reduction, channels=3, samples=30, patch_size=5, dim=12, heads=3)
    program = make_random_program(cfg, seed=11)
    build_program(program, tmp_path / "out")
    x = extreme_inputs(program, np.random.default_rng(0), (cfg.channels, cfg.samples))
    assert_c_equals_golden(tmp_path / "out", program, x, "dump")  # -march=native: the host's SIMD path
    assert_c_equals_golden(tmp_path / "out", program, x, "portable")  # plain C dot products


GRID = [  # channels, samples, patch, dim, heads, depth, classes, head, reduction
    (1, 20, 20, 8, 1, 1, 1, "classification", "concat"),
    (16, 40, 10, 12, 4, 1, 7, "classification", "mean"),
    (5, 63, 7, 9, 3, 2, 2, "regression", "concat"),
    (2, 48, 8, 20, 5, 1, 3, "regression", "mean"),
    (7, 33, 11, 6, 2, 1, 1, "reconstruction", "concat"),
    (4, 80, 4, 32, 2, 1, 5, "classification", "concat"),
    (12, 20, 5, 16, 4, 1, 3, "classification", "concat"),
]


@pytest.mark.parametrize("cfg", GRID, ids=lambda c: "x".join(map(str, c[:7])) + f"-{c[7]}-{c[8]}")
def test_size_grid_exact(tmp_path, cfg):
    c, t, patch, dim, heads, depth, classes, head, red = cfg
    config = TinyMyoConfig(channels=c, samples=t, patch_size=patch, dim=dim, heads=heads, depth=depth,
                           classes=classes, head=head, reduction=red, reg_hidden=12, reg_target_len=17)
    program = make_random_program(config, seed=sum(cfg[:7]))
    build_program(program, tmp_path / "out", target="gap9")
    x = np.random.default_rng(1).normal(0, 1, (3, c, t)).astype(np.float32)
    assert_c_equals_golden(tmp_path / "out", program, x, "dump")
    assert_c_equals_golden(tmp_path / "out", program, x, "portable")


def test_real_3dc_windows_exact(tmp_path, real_windows):
    x = real_windows(10, 200, 6) * np.float32(0.5)
    cfg = small_config(channels=10, samples=200, patch_size=20, dim=16, heads=2, classes=11)
    program = make_random_program(cfg, seed=3)
    build_program(program, tmp_path / "out")
    result = validate(tmp_path / "out", _save(tmp_path / "in.npz", x), per_layer=True)
    assert result.errors == 0 and result.layer_diffs == []
    assert "Errors: 0 out of" in result.report()


@pytest.mark.parametrize("head", ["classification", "regression", "reconstruction"])
def test_asan_ubsan_with_eight_core_split(tmp_path, head):
    cfg = small_config(head=head, channels=3, samples=30, patch_size=5, dim=12, heads=3)
    program = make_random_program(cfg, seed=5)
    build_program(program, tmp_path / "out", board=BOARDS["host"].with_changes(cores=8))
    x = extreme_inputs(program, np.random.default_rng(2), (cfg.channels, cfg.samples))[:4]
    assert_c_equals_golden(tmp_path / "out", program, x, variant="sanitize", cores=8)


def test_inference_path_has_no_malloc_vla_or_double(tmp_path):
    program = make_random_program(small_config(head="regression"), seed=6)
    build_program(program, tmp_path / "out")
    out = tmp_path / "out"
    for path in [out / "network" / "network.c", out / "network" / "weights.c", *(out / "kernels" / "src").glob("*.c")]:
        code = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
        assert not re.search(r"\bdouble\b|\bmalloc\b|\bcalloc\b|\brealloc\b", code), path.name
    exe = compile_host(out, "validate")  # -Wvla -Wdouble-promotion -Werror are in every host build
    objs = [p for p in exe.parent.glob("*.o") if not p.name.startswith("host_")]
    symbols = subprocess.run(["nm", "-u", *map(str, objs)], capture_output=True, text=True).stdout
    assert not re.search(r"\b(malloc|calloc|realloc|free)\b", symbols)


HOSTILE = ["../x y;{}", "*/ int evil; /*", "", "1abc", "double", "a\nb\"c\\", "../x y;{}"]


def test_hostile_node_names_are_sanitised(tmp_path):
    import dataclasses

    program = make_random_program(small_config(), seed=7)
    ops = list(program.ops)
    for i, name in enumerate(HOSTILE):
        ops[i + 2] = dataclasses.replace(ops[i + 2], name=name)
    program = dataclasses.replace(program, ops=tuple(ops))
    build_program(program, tmp_path / "out")
    out = tmp_path / "out"
    network = (out / "network" / "network.c").read_text()
    assert "int evil" not in re.sub(r"/\*.*?\*/", "", network, flags=re.S)  # no code smuggled out of a comment
    assert network.count("/*") == network.count("*/")
    names = re.findall(r'TM_LAYER_BEGIN\("([^"]*)"', network)
    assert len(names) == len(set(names)) and all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names)
    assert all(".." not in p.name and " " not in p.name for p in out.rglob("*"))
    x = np.random.default_rng(3).normal(0, 1, (2, 2, 40)).astype(np.float32)
    assert_c_equals_golden(out, program, x)


def test_per_layer_names_the_first_differing_layer(tmp_path):
    import dataclasses

    program = make_random_program(small_config(), seed=8)
    build_program(program, tmp_path / "out")
    target = next(i for i, op in enumerate(program.ops) if op.name == "blocks.0.attn.v")
    ops = list(program.ops)
    ops[target] = dataclasses.replace(ops[target], bias=ops[target].bias + 5000)  # the golden side now differs
    save_program(dataclasses.replace(program, ops=tuple(ops)), tmp_path / "out" / "program.json",
                 tmp_path / "out" / "program.npz")
    x = np.random.default_rng(4).normal(0, 1, (2, 2, 40)).astype(np.float32)
    result = validate(tmp_path / "out", _save(tmp_path / "in.npz", x), per_layer=True)
    assert result.errors > 0
    assert result.layer_diffs and result.layer_diffs[0].node == "blocks.0.attn.v"
    assert "blocks_0_attn_v" in result.report()


def test_outdir_is_atomic_and_not_overwritten(tmp_path):
    program = make_random_program(small_config(), seed=9)
    out = tmp_path / "out"
    build_program(program, out)
    first = (out / "network" / "network.c").read_text()
    with pytest.raises(TinyMyoError, match="already exists"):
        build_program(program, out)
    build_program(program, out, force=True)
    assert (out / "network" / "network.c").read_text() == first  # deterministic
    assert sorted(p.name for p in (out / "passes").iterdir())[0] == "00_input.txt"
    assert load_program(out / "program.json", out / "program.npz").macs() == program.macs()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary left behind


def test_cli_build_validate_run_from_int8_onnx(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    import torch

    from tinymyo_edge.export import export_onnx
    from tinymyo_edge.model.tinymyo import TinyMyo
    from tinymyo_edge.quant import quantize_model

    cfg = TinyMyoConfig(channels=3, samples=60, patch_size=10, dim=24, depth=1, heads=2, classes=4)
    torch.manual_seed(0)
    export_onnx(TinyMyo(cfg).eval(), tmp_path / "f.onnx")
    x = np.random.default_rng(0).normal(0, 1, (4, cfg.channels, cfg.samples)).astype(np.float32)
    quantize_model(tmp_path / "f.onnx", x, tmp_path / "q.onnx", progress=False)
    out = tmp_path / "build"
    main(["build", str(tmp_path / "q.onnx"), "--target", "gap9", "-o", str(out)])
    assert (out / "model.int8.onnx").is_file()
    inputs = _save(tmp_path / "in.npz", x)
    main(["validate", str(out), "--inputs", str(inputs), "--per-layer"])
    text = capsys.readouterr().out
    assert "onnxruntime" in text and "CPU path" in text and text.rstrip().endswith("Errors: 0 out of 32")
    main(["run", str(out), "--inputs", str(inputs), "-o", str(tmp_path / "y.npz")])
    from tinymyo_edge.quant import run_int8

    y = np.load(tmp_path / "y.npz")["y"]
    assert np.array_equal(y[0].reshape(-1), run_int8(tmp_path / "q.onnx", x[0]).reshape(-1))
    with pytest.raises(SystemExit) as exc:
        main(["build", str(tmp_path / "q.onnx"), "-o", str(out)])
    assert exc.value.code == 2
    with pytest.raises(TinyMyoError, match="no such"):
        build(tmp_path / "missing.onnx", tmp_path / "b2")
    assert run_host(out, inputs, tmp_path / "y2.npz").shape == (4, *y.shape[1:])


def _save(path, x):
    np.savez(path, x=x)
    return path


@pytest.mark.slow
def test_full_size_default_model_exact(tmp_path, real_windows):
    """The deployed size (8 x 1000, 400 tokens, dim 192, 8 blocks): every layer == golden on real windows."""
    cfg = TinyMyoConfig()
    program = make_random_program(cfg, seed=12)
    result = build_program(program, tmp_path / "out", target="gap9")
    assert result.plan.arena_bytes <= 1.05 * result.plan.lower_bound
    assert_c_equals_golden(tmp_path / "out", program, real_windows(8, 1000, 2))


@pytest.mark.parametrize("prob_bits", [12, 16])
def test_wide_softmax_probabilities_exact(tmp_path, prob_bits):
    """prob_bits 9..16 (uint16 probabilities, int32 p.v): C host == golden, final output and every layer, on the
    native, portable and ASan/UBSan (8-core split) builds; 129 tokens (4-row blocks, a 1-row tail) and head_dim 5
    (a 4-column block and a leftover column)."""
    cfg = small_config(channels=3, samples=43, patch_size=1, dim=15, heads=3)
    program = make_random_program(cfg, seed=prob_bits, prob_bits=prob_bits)
    assert all(op.prob_bits == prob_bits for op in program.ops if op.kind == "attention")
    x = extreme_inputs(program, np.random.default_rng(prob_bits), (cfg.channels, cfg.samples))
    build_program(program, tmp_path / "out")
    assert_c_equals_golden(tmp_path / "out", program, x, "dump")
    assert_c_equals_golden(tmp_path / "out", program, x, "portable")
    build_program(program, tmp_path / "out8", board=BOARDS["host"].with_changes(cores=8))
    assert_c_equals_golden(tmp_path / "out8", program, x[:4], variant="sanitize", cores=8)


@pytest.mark.parametrize("shape", [dict(channels=3, samples=43, patch_size=1, dim=15, heads=3),
                                   dict(channels=2, samples=60, patch_size=1, dim=48, heads=2)])
def test_deferred_softmax_exact(tmp_path, shape):
    """The deferred softmax (int16 scores, u8 numerators, one reciprocal per row): C host == golden, final output and
    every layer, on the native, portable and ASan/UBSan (8-core split) builds; 129 tokens and head_dim 5 (4-row
    blocks with a 1-row tail, a 4-column block and a leftover column), and 120 tokens of head_dim 24."""
    cfg = small_config(**shape)
    program = make_random_program(cfg, seed=5)
    assert all(op.softmax == "deferred" for op in program.ops if op.kind == "attention")
    x = extreme_inputs(program, np.random.default_rng(5), (cfg.channels, cfg.samples))
    build_program(program, tmp_path / "out")
    assert_c_equals_golden(tmp_path / "out", program, x, "dump")
    assert_c_equals_golden(tmp_path / "out", program, x, "portable")
    build_program(program, tmp_path / "out8", board=BOARDS["host"].with_changes(cores=8))
    assert_c_equals_golden(tmp_path / "out8", program, x[:4], variant="sanitize", cores=8)


def test_deferred_values_in_the_score_rows_exact(tmp_path):
    """Small L1, short key chunks: the chunk's (v - 128)^T lives in the first halves of the score rows and the
    numerators in their second halves (no kv_s8 scratch); ASan/UBSan, 8-core split, every layer == golden."""
    from tinymyo_edge.memory.tiling import tile_op

    cfg = small_config(channels=2, samples=100, patch_size=1, dim=16, heads=2)
    program = make_random_program(cfg, seed=9)
    board = BOARDS["host"].with_changes(l1_bytes=12288, cores=8)  # the tiler picks 24 rows x 40-key chunks
    op = next(op for op in program.ops if op.kind == "attention")
    tile = tile_op(op, {n: t.shape for n, t in program.tensors.items()}, board)
    assert "kv_s8" not in [name for name, _, _ in tile.buffers] and tile.dims["kv_chunk"] < 200
    x = extreme_inputs(program, np.random.default_rng(9), (cfg.channels, cfg.samples))
    build_program(program, tmp_path / "out", board=board)
    assert_c_equals_golden(tmp_path / "out", program, x[:4], variant="sanitize", cores=8)


def test_build_refuses_broken_deferred_constants(tmp_path):
    """A deferred attention whose score product could leave int32 is refused at build time, naming the layer."""
    program = make_random_program(small_config(), seed=3)
    ops = tuple(dataclasses.replace(op, score_fixed=np.full(op.heads, 2**20, np.int32)) if op.kind == "attention"
                else op for op in program.ops)
    with pytest.raises(TinyMyoError, match=r"blocks.0.attn.*score product"):
        build_program(dataclasses.replace(program, ops=ops), tmp_path / "out")


def test_build_refuses_softmax_precision_the_kernels_lack(tmp_path):
    program = make_random_program(small_config(), seed=3, prob_bits=8)
    ops = tuple(dataclasses.replace(op, prob_bits=17) if op.kind == "attention" else op for op in program.ops)
    wide = dataclasses.replace(program, ops=ops)
    with pytest.raises(TinyMyoError, match="8..16-bit softmax probabilities"):
        build_program(wide, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _with_zero_point(program, tensor: str, zero_point: int, producer_too: bool = True):
    """The tensor declared with another zero point (and its producer, a Linear, writing it, unless not producer_too)."""
    tensors = dict(program.tensors)
    tensors[tensor] = dataclasses.replace(tensors[tensor], zero_point=zero_point)
    ops = tuple(dataclasses.replace(op, zero_point=zero_point) if producer_too and op.output == tensor else op
                for op in program.ops)
    assert not producer_too or any(op.output == tensor and op.kind == "linear" for op in program.ops)
    return dataclasses.replace(program, tensors=tensors, ops=ops)


def test_build_refuses_zero_points_the_kernels_do_not_read_or_write(tmp_path):
    """Attention computes with (q - 128): a q of zero point 20 would mean other values; a residual whose zero_a is not
    its input's, or a Linear output declared with another zero point than the kernel writes, likewise. The build
    names the node and refuses."""
    program = make_random_program(small_config(), seed=3)
    attn = next(op for op in program.ops if op.kind == "attention")
    res = next(op for op in program.ops if op.kind == "residual_add")
    fc = next(op for op in program.ops if op.kind == "linear")
    cases = [(_with_zero_point(program, attn.inputs[0], 20), f"node '{attn.name}'.*zero point 20"),
             (_with_zero_point(program, res.inputs[0], 20), f"node '{res.name}': zero_a = 128 but .* zero point 20"),
             (_with_zero_point(program, fc.output, 20, producer_too=False),
              f"node '{fc.name}': output .* zero point 20, .* writes zero point 128")]
    for bad, reason in cases:
        with pytest.raises(TinyMyoError, match=reason):
            build_program(bad, tmp_path / "out")
        assert not (tmp_path / "out").exists()
