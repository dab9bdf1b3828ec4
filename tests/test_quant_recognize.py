"""Recognising TinyMyo in float ONNX: sizes and weights recovered from the graph (both LayerNorm forms, every head,
with and without the Mul/Add/bias nodes onnxsim drops), and graphs outside the pattern refused naming the node."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import helper as oh

from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.quant.recognize import recognize

from test_quant_support import export_float, make_model, small_config

FORMS = [
    ("classification", "concat", 13, True), ("classification", "mean", 17, False),
    ("regression", "concat", 17, True), ("regression", "mean", 13, False),
    ("reconstruction", "concat", 13, False), ("reconstruction", "concat", 17, True),
]


@pytest.mark.parametrize("head,reduction,opset,trained_like", FORMS)
def test_recovers_config_and_every_weight(tmp_path, head, reduction, opset, trained_like):
    cfg = small_config(head=head, reduction=reduction, depth=2, heads=3, dim=24, channels=2)
    model = make_model(cfg, seed=3, trained_like=trained_like)
    rec = recognize(export_float(model, tmp_path / "m.onnx", opset=opset))
    unused = {"classification": ("reg_hidden", "reg_target_len"), "regression": (),
              "reconstruction": ("classes", "reg_hidden", "reg_target_len")}[head]  # not in the graph
    assert rec.config == cfg.replace(**{k: getattr(rec.config, k) for k in unused})
    want, got = model.state_dict(), rec.model.state_dict()
    for key in want:
        if key != "mask_token":  # pretraining only, not in an inference graph
            assert torch.equal(want[key], got[key]), key


def _insert_after(model: onnx.ModelProto, producer_suffix: str, node: onnx.NodeProto) -> onnx.ModelProto:
    """Insert `node` (1 input -> 1 output) on the output of the first node whose name ends with producer_suffix."""
    graph = model.graph
    idx = next(i for i, n in enumerate(graph.node) if n.name.endswith(producer_suffix))
    old = graph.node[idx].output[0]
    for n in graph.node:
        for j, name in enumerate(n.input):
            if name == old:
                n.input[j] = node.output[0]
    node.input[0] = old
    graph.node.insert(idx + 1, node)
    return model


def test_an_op_outside_the_pattern_is_named(tmp_path):
    cfg = small_config()
    path = export_float(make_model(cfg), tmp_path / "m.onnx")
    bad = _insert_after(onnx.load(str(path)), "act/Erf", oh.make_node("Relu", ["?"], ["relu_out"], name="sneaky_relu"))
    onnx.save(bad, str(tmp_path / "bad.onnx"))
    with pytest.raises(TinyMyoError, match=r"sneaky_relu.*Relu"):
        recognize(tmp_path / "bad.onnx")


def test_a_graph_that_is_not_tinymyo_is_refused(tmp_path):
    graph = oh.make_graph([oh.make_node("Relu", ["emg"], ["y"], name="only_relu")], "g",
                          [oh.make_tensor_value_info("emg", onnx.TensorProto.FLOAT, [1, 2, 40])],
                          [oh.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 2, 40])])
    onnx.save(oh.make_model(graph), str(tmp_path / "relu.onnx"))
    with pytest.raises(TinyMyoError, match=r"only_relu.*Relu"):
        recognize(tmp_path / "relu.onnx")


def test_weights_that_do_not_reproduce_the_graph_are_caught(tmp_path, monkeypatch):
    cfg = small_config()
    path = export_float(make_model(cfg), tmp_path / "m.onnx")
    import tinymyo_edge.quant.recognize as rz

    real = rz._match_layernorm

    def swapped(g, x, dim):  # a recogniser bug: gamma and beta exchanged
        gamma, beta, out = real(g, x, dim)
        return beta, gamma, out

    monkeypatch.setattr(rz, "_match_layernorm", swapped)
    with pytest.raises(TinyMyoError, match="differs from onnxruntime"):
        recognize(path)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(TinyMyoError, match="no such file"):
        recognize(tmp_path / "absent.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf at all" * 3)
    with pytest.raises(TinyMyoError, match="not a readable ONNX"):
        recognize(tmp_path / "junk.onnx")


def test_an_int8_model_is_not_taken_for_a_float_one(tmp_path):
    from tinymyo_edge.quant import quantize_model

    cfg = small_config()
    path = export_float(make_model(cfg), tmp_path / "m.onnx")
    quantize_model(path, np.random.default_rng(0).standard_normal((4, 3, 100)).astype(np.float32),
                   tmp_path / "q.onnx", progress=False)
    with pytest.raises(TinyMyoError, match="already an int8 model"):
        recognize(tmp_path / "q.onnx")


def test_a_dynamic_batch_export_is_refused_with_the_fix(tmp_path):
    from tinymyo_edge.export import export_onnx

    export_onnx(make_model(small_config()), tmp_path / "dyn.onnx", dynamic_batch=True, opset=14)
    with pytest.raises(TinyMyoError, match="dynamic shape.*without --dynamic-batch"):
        recognize(tmp_path / "dyn.onnx")
