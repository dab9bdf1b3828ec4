"""The speech family (issue 16): the authors' EMGTransformer, strict checkpoints, BatchNorm-folded export, the integer
ops (conv1d, rel_attention, transpose) == independent references, onnxruntime == golden, C == golden on every layer,
greedy CTC in C == Python, memory planning of a 4 s utterance, and a model trained on a synthetic CTC task going
checkpoint -> export -> quantize -> build -> app with Errors: 0 and the decoded text."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import onnx
import pytest
import torch

from test_build import assert_c_equals_golden, extreme_inputs
from tinymyo_edge import numerics as nx
from tinymyo_edge.build import build, build_program
from tinymyo_edge.cli import main
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.export_speech import export_speech_onnx
from tinymyo_edge.memory import BOARDS, plan_memory
from tinymyo_edge.model.speech import (CTC_BLANK, CTC_CHARS, LearnedRelativePositionalEmbedding, SpeechConfig,
                                       SpeechModel)
from tinymyo_edge.model.speech_checkpoint import load_speech_checkpoint, save_speech_checkpoint
from tinymyo_edge.passes import run_passes
from tinymyo_edge.quant.encoding import program_to_onnx
from tinymyo_edge.quant.runtime import LEVELS, run_int8
from tinymyo_edge.quant.speech_api import quantize_speech
from tinymyo_edge.quant.speech_builder import build_speech_program
from tinymyo_edge.resources import resource_dir
from tinymyo_edge.speech.ctc import character_error_rate, greedy_decode
from tinymyo_edge.speech.synthetic import make_utterances, train_ctc
from tinymyo_edge.targets.app_run import run_app

TINY = SpeechConfig(channels=8, samples=160, dim=12, depth=1, heads=2, max_relative_pos=6)


def _tiny_model(cfg=TINY, seed=0) -> SpeechModel:
    torch.manual_seed(seed)
    model = SpeechModel(cfg)
    for m in model.modules():  # non-trivial BatchNorm statistics, so folding is exercised
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    return model.eval()


# ------------------------------------------------------------------------------------------------ the model
def _authors_keys(cfg: SpeechConfig) -> set[str]:
    """Key names as silent_speech architecture.py (@2962d19) produces them, written out from that file."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = set()
    for b in range(3):
        p = f"conv_blocks.{b}."
        for conv, aliases in (("conv1", ("block.0",)), ("conv2", ("block.3",)), ("residual_path", ("skip.0",))):
            keys |= {p + f"{n}.{w}" for n in (conv, *aliases) for w in ("weight", "bias")}
        for norm, aliases in (("norm1", ("block.1",)), ("norm2", ("block.4",)), ("res_norm", ("skip.1",))):
            keys |= {p + f"{n}.{w}" for n in (norm, *aliases) for w in bn}
    for i in range(cfg.depth):
        p = f"blocks.{i}."
        keys.add(p + "attn.relative_positional.embeddings")
        keys |= {p + f"{m}.{w}" for m in ("attn.qkv", "attn.proj", "norm1", "mlp.fc1", "mlp.fc2", "norm2")
                 for w in ("weight", "bias")}
    return keys | {f"{m}.{w}" for m in ("w_raw_in", "w_out") for w in ("weight", "bias")}


def test_keys_and_shapes_are_the_authors():
    model = SpeechModel(TINY)
    state = model.state_dict()
    assert set(state) == _authors_keys(TINY)
    assert tuple(state["blocks.0.attn.relative_positional.embeddings"].shape) == (2, 11, 6, 1)
    assert tuple(state["conv_blocks.0.conv1.weight"].shape) == (12, 8, 3)
    assert tuple(state["w_out.weight"].shape) == (38, 12) and CTC_BLANK == 37 and len(CTC_CHARS) == 37
    with torch.no_grad():
        assert model(torch.zeros(2, 8, 160)).shape == (2, 20, 38)  # x8 downsampling


@pytest.mark.parametrize("length", [4, 13])
def test_relative_logits_follow_the_definition(length):
    """q[i] . E[j - i + W - 1] inside the window, -1e8 added outside (length 13 > W = 5): a direct loop."""
    torch.manual_seed(0)
    rel = LearnedRelativePositionalEmbedding(5, 2, 3)
    q = torch.randn(length, 2, 3)
    got = rel(q).detach()
    e = rel.embeddings[..., 0].detach()
    for h in range(2):
        for i in range(length):
            for j in range(length):
                want = float(q[i, h] @ e[h, j - i + 4]) if abs(j - i) < 5 else -1e8
                assert abs(float(got[h, i, j]) - want) <= 1e-5 * max(1.0, abs(want))


def test_strict_loading_names_every_problem(tmp_path):
    model = _tiny_model()
    state = model.state_dict()
    torch.save(state, tmp_path / "authors.pt")  # the authors' own format: a bare state dict
    assert load_speech_checkpoint(tmp_path / "authors.pt", samples=160).cfg == TINY
    torch.save({"state_dict": {"model." + k: v for k, v in state.items()}}, tmp_path / "lightning.ckpt")
    assert load_speech_checkpoint(tmp_path / "lightning.ckpt", samples=160).cfg == TINY
    save_speech_checkpoint(model, tmp_path / "m.safetensors")
    loaded = load_speech_checkpoint(tmp_path / "m.safetensors")
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    bad = dict(state)
    del bad["blocks.0.attn.proj.bias"]
    bad["blocks.0.attn.extra"] = torch.zeros(1)
    bad["w_raw_in.weight"] = torch.zeros(12, 5)
    bad["conv_blocks.1.norm1.num_batches_tracked"] = torch.zeros(())
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(TinyMyoError) as err:
        load_speech_checkpoint(tmp_path / "bad.pt")
    text = str(err.value)
    for key in ("blocks.0.attn.proj.bias", "blocks.0.attn.extra", "w_raw_in.weight [12, 5]",
                "conv_blocks.1.norm1.num_batches_tracked"):
        assert key in text
    with pytest.raises(TinyMyoError, match="heads"):
        load_speech_checkpoint(tmp_path / "authors.pt", heads=3)


def test_export_folds_batchnorm_with_parity(tmp_path):
    model = _tiny_model()
    report = export_speech_onnx(model, tmp_path / "f.onnx")
    ops = {n.op_type for n in onnx.load(str(tmp_path / "f.onnx")).graph.node}
    assert "BatchNormalization" not in ops and "Conv" in ops
    assert all(p.ok for p in report.parity) and report.parity[0].max_abs_error < 1e-4
    with pytest.raises(TinyMyoError, match="exists"):
        export_speech_onnx(model, tmp_path / "f.onnx")


# ------------------------------------------------------------------------------------- integer references
def test_conv1d_reference_equals_torch_conv():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (19, 5)).astype(np.uint8)
    w = rng.integers(-127, 128, (7, 3, 5)).astype(np.int8)
    b = rng.integers(-1000, 1000, 7).astype(np.int32)
    for stride, padding, k in ((2, 1, 3), (1, 1, 3), (2, 0, 1)):
        wk = w[:, :k]
        acc = nx.conv1d_acc(x, wk, b, stride, padding)
        xt = torch.from_numpy(x.astype(np.float64) - 128).T[None]  # (1, Cin, T)
        wt = torch.from_numpy(wk.astype(np.float64)).permute(0, 2, 1)  # (M, Cin, k)
        want = torch.nn.functional.conv1d(xt, wt, torch.from_numpy(b.astype(np.float64)), stride, padding)
        assert np.array_equal(acc, want[0].T.numpy().astype(np.int64))


def test_relative_scores_and_masked_softmax_follow_loops():
    rng = np.random.default_rng(1)
    n, hd, w = 9, 4, 3
    qc, kc = rng.integers(-128, 128, (n, hd)), rng.integers(-128, 128, (n, hd))
    rel = rng.integers(-3000, 3000, (2 * w - 1, hd))
    acc = nx.relative_scores_acc(qc, kc, rel, w)
    mask = nx.relative_window_mask(n, w)
    s = rng.integers(0, 256, (n, n))
    lut = nx.exp_lut(0.05, 16)
    p = nx.softmax_int_masked(s, lut, mask, 4095)
    for i in range(n):
        inside = [j for j in range(n) if abs(j - i) < w]
        for j in inside:
            assert acc[i, j] == sum(int(qc[i, d]) * (int(kc[j, d]) + int(rel[j - i + w - 1, d])) for d in range(hd))
        top = max(int(s[i, j]) for j in inside)
        e = {j: int(lut[top - s[i, j]]) for j in inside}
        total = sum(e.values())
        for j in range(n):
            assert p[i, j] == ((2 * 4095 * e[j] + total) // (2 * total) if j in inside else 0)


@pytest.fixture(scope="module")
def tiny_program():
    model = _tiny_model()
    x = np.random.default_rng(0).standard_normal((3, 8, 160)).astype(np.float32)
    return build_speech_program(model, x, progress=False), x


def test_onnxruntime_equals_golden_at_every_level(tiny_program):
    program, x = tiny_program
    kinds = {op.kind for op in program.ops}
    assert {"conv1d", "rel_attention", "transpose", "layernorm", "lut", "residual_add"} <= kinds
    model = program_to_onnx(program, "emg", "ctc_logits", (1, 20, 38))
    windows = np.concatenate([x, extreme_inputs(program, np.random.default_rng(2), (8, 160))[[0, 3, 6, 7]]])
    for w in windows:
        want = program.run(w)[program.output]
        for level in LEVELS:
            for threads in (1, 2):
                got = run_int8(model, w, level=level, threads=threads).reshape(want.shape)
                assert np.array_equal(got, want, equal_nan=True), (level, threads)


def test_c_equals_golden_on_every_layer(tiny_program, tmp_path):
    program, x = tiny_program
    build_program(program, tmp_path / "out")
    windows = np.concatenate([x, extreme_inputs(program, np.random.default_rng(3), (8, 160))])
    assert_c_equals_golden(tmp_path / "out", program, windows, "dump")
    build_program(program, tmp_path / "out8", board="gap9")  # scratch for 8 cores: the 8-core split, ASan+UBSan,
    assert_c_equals_golden(tmp_path / "out8", program, windows[:4], "check", cores=8)  # the checking build (issue 12)


@pytest.mark.parametrize("sizes", [dict(channels=4, samples=64, dim=6, heads=1, max_relative_pos=20),
                                   dict(channels=2, samples=96, dim=12, heads=3, max_relative_pos=5, mlp_ratio=2,
                                        depth=2)])
def test_model_grid_c_equals_golden_and_onnxruntime(sizes, tmp_path):
    """Window longer and shorter than the sequence, 1 and 3 heads, 1 and 2 blocks, 2 and 4 channels: C == golden
    (every layer) and onnxruntime == golden."""
    cfg = SpeechConfig(**{"depth": 1, **sizes})
    program = build_speech_program(_tiny_model(cfg, seed=3), np.random.default_rng(5).standard_normal(
        (2, cfg.channels, cfg.samples)).astype(np.float32), progress=False)
    x = extreme_inputs(program, np.random.default_rng(6), (cfg.channels, cfg.samples))[[0, 1, 3, 6, 8]]
    build_program(program, tmp_path / "out")
    assert_c_equals_golden(tmp_path / "out", program, x, "dump")
    model = program_to_onnx(program, "emg", "ctc_logits", (1, cfg.tokens, cfg.outputs))
    for w in x[:2]:
        assert np.array_equal(run_int8(model, w).reshape(cfg.tokens, cfg.outputs), program.run(w)[program.output])


# ---------------------------------------------------------------------------------------------- decoding
def _c_decoder(tmp_path):
    inc, src = resource_dir("gap9_app") / "inc", resource_dir("gap9_app") / "src"
    harness = tmp_path / "ctc_main.c"
    harness.write_text(
        '#include <stdio.h>\n#include "tm_speech_kernels.h"\n'
        "int main(void) {\n"
        "    static float logits[4096]; static char text[512]; int n, v;\n"
        "    if (scanf(\"%d %d\", &n, &v) != 2 || n * v > 4096) return 2;\n"
        "    for (int i = 0; i < n * v; i++) if (scanf(\"%a\", &logits[i]) != 1) return 2;\n"
        f'    tm_ctc_greedy(logits, n, v, v - 1, "{CTC_CHARS}", text, (int)sizeof text);\n'
        '    printf("[%s]\\n", text); return 0; }\n')
    exe = tmp_path / "ctc"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined", f"-I{inc}",
                    str(harness), str(src / "tm_ctc.c"), "-o", str(exe)], check=True)
    return exe


def test_greedy_ctc_in_c_equals_python(tmp_path):
    exe = _c_decoder(tmp_path)
    rng = np.random.default_rng(4)
    cases = [rng.standard_normal((30, 38)).astype(np.float32) for _ in range(3)]
    blank = np.zeros((5, 38), np.float32)
    blank[:, CTC_BLANK] = 1.0
    cases.append(blank)  # all blank: empty text
    spell = np.full((7, 38), -1.0, np.float32)
    for t, c in enumerate([0, 0, CTC_BLANK, 0, 36, 36, 1]):  # "a a _ a | | b" -> "aa|b"
        spell[t, c] = 2.0
    cases.append(spell)
    ties = np.zeros((4, 38), np.float32)  # all equal: the first index (a) wins, as numpy's argmax
    cases.append(ties)
    for logits in cases:
        stdin = f"{logits.shape[0]} {logits.shape[1]}\n" + " ".join(float(v).hex() for v in logits.ravel())
        out = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, check=True).stdout
        assert out.strip() == f"[{greedy_decode(logits)}]"
    assert greedy_decode(spell) == "aa|b" and greedy_decode(blank) == "" and greedy_decode(ties) == "a"
    assert character_error_rate(["abc", "de"], ["abd", "de"]) == pytest.approx(1 / 5)


# ------------------------------------------------------------------------------------------------- memory
def test_four_second_utterance_is_planned_or_refused_with_the_reason():
    """4 s at 1 kHz -> 500 tokens at dim 192 (one block, the same per-block buffers as eight): the front end's
    full-rate activations (three live 2000 x 192 tensors) exceed GAP9's usable L2 once the runtime's reserves are
    kept (memory/board.py), so the planner refuses it naming the layer and L2; 3 s (375 tokens) fits."""
    def program_of(samples):
        cfg = SpeechConfig(samples=samples, depth=1)
        torch.manual_seed(0)
        program = build_speech_program(SpeechModel(cfg).eval(), np.random.default_rng(0).standard_normal(
            (1, 8, samples)).astype(np.float32), progress=False)
        return run_passes(program)[0]

    with pytest.raises(TinyMyoError, match=r"layer 'conv_blocks\.0\.\w+' does not fit L2 of board gap9"):
        plan_memory(program_of(4000), BOARDS["gap9"])
    plan = plan_memory(program_of(3000), BOARDS["gap9"])
    assert plan.l2_bytes <= BOARDS["gap9"].l2_bytes and plan.l1_peak <= BOARDS["gap9"].l1_bytes


# ---------------------------------------------------------------------------------------- trained, end to end
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    cfg = SpeechConfig(samples=320, dim=24, depth=1, heads=2, max_relative_pos=8)
    # bounded by steps, not by the clock: on a loaded machine a 60 s budget stopped it at 308 steps, unlearned
    model, log = train_ctc(make_utterances(256, samples=320, max_len=3, seed=0), cfg, seconds=900, steps=500,
                           lr=4e-3)
    return model, log, tmp_path_factory.mktemp("trained")


def test_trained_ctc_model_through_the_pipeline(trained):
    model, log, tmp = trained
    assert log["last_loss"] < 0.2 * log["first_loss"]  # it learned
    test = make_utterances(24, samples=320, max_len=3, seed=1)
    with torch.no_grad():
        float_text = [greedy_decode(y) for y in model(torch.from_numpy(test.x)).numpy()]
    cer_float = character_error_rate(test.texts, float_text)
    assert cer_float < 0.2
    save_speech_checkpoint(model, tmp / "speech.pt")
    np.savez(tmp / "calib.npz", x=make_utterances(8, samples=320, max_len=3, seed=2).x)
    np.savez(tmp / "test.npz", x=test.x[:4])
    assert main(["export", "--head", "ctc", "--checkpoint", str(tmp / "speech.pt"), "-o", str(tmp / "f.onnx")]) \
        is None
    with pytest.raises(SystemExit):
        main(["quantize", str(tmp / "f.onnx"), "--calib", str(tmp / "calib.npz"), "-o", str(tmp / "q.onnx")])
    main(["quantize", str(tmp / "f.onnx"), "--checkpoint", str(tmp / "speech.pt"), "--calib", str(tmp / "calib.npz"),
          "-o", str(tmp / "q.onnx")])
    program = quantize_speech(tmp / "f.onnx", tmp / "speech.pt", make_utterances(8, samples=320, max_len=3,
                                                                                  seed=2).x, tmp / "q2.onnx")
    int8_text = [greedy_decode(program.run(x)[program.output]) for x in test.x]
    assert character_error_rate(test.texts, int8_text) <= cer_float + 0.1
    build(tmp / "q.onnx", tmp / "app", target="gap9")
    expected = program.run(test.x[0])[program.output]
    run = run_app(tmp / "app", "host", x=test.x[0], expected=expected)
    assert run.returncode == 0 and re.search(r"Errors: 0 out of \d+", run.log)
    assert np.array_equal(run.output, expected)
    assert f'Decoded (greedy CTC): "{int8_text[0]}"' in run.log
    main(["validate", str(tmp / "app"), "--inputs", str(tmp / "test.npz")])
    main(["run", str(tmp / "app"), "--inputs", str(tmp / "test.npz"), "-o", str(tmp / "y.npz"), "--text",
          str(tmp / "text.txt")])
    assert (tmp / "text.txt").read_text().splitlines() == int8_text[:4]


def test_speech_features_head_with_aux_output(tmp_path):
    """Transduction checkpoints carry w_aux (phonemes): loaded strictly, not exported; outputs (N, features)."""
    cfg = TINY.replace(head="speech-features", outputs=10, aux_outputs=5)
    model = _tiny_model(cfg)
    torch.save(model.state_dict(), tmp_path / "transduction.pt")
    loaded = load_speech_checkpoint(tmp_path / "transduction.pt", samples=160)
    assert loaded.cfg == cfg
    export_speech_onnx(loaded, tmp_path / "f.onnx")
    x = np.random.default_rng(0).standard_normal((2, 8, 160)).astype(np.float32)
    program = quantize_speech(tmp_path / "f.onnx", tmp_path / "transduction.pt", x, tmp_path / "q.onnx",
                              progress=False)
    assert program.tensors[program.output].shape == (20, 10)
    with pytest.raises(TinyMyoError, match="not exported from that checkpoint"):
        torch.save(_tiny_model(cfg, seed=5).state_dict(), tmp_path / "other.pt")
        quantize_speech(tmp_path / "f.onnx", tmp_path / "other.pt", x, tmp_path / "q3.onnx", progress=False)
