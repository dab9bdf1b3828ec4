"""Recognise TinyMyo in a float ONNX graph: recover its TinyMyoConfig and float weights by following the graph.

The walk starts at the graph input and matches, in order, the patch embedding, each encoder block (LayerNorm,
q/k/v from the qkv linear's Slices, per-head attention, projection, residual, LayerNorm, MLP with erf-GELU,
residual), the final LayerNorm and one head. Every node must be claimed by a pattern: a node left over, or met where
the pattern expects something else, is an error naming it. Weights come from the initializers the matched nodes
read (never from their names). The recovered PyTorch model is then checked against onnxruntime on the float graph.

Accepted forms: torch.onnx (dynamo=False) export of `TinyMyo` in export form, simplified by onnxsim, opset 13
(decomposed LayerNorm) or 17 (LayerNormalization); Linear as Gemm, MatMul[+Add] or Reshape-Gemm-Reshape; affine
LayerNorm Mul/Add optional (onnxsim removes identity ones); biases optional (zero biases are folded away).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from ..errors import TinyMyoError
from ..model import TinyMyo, TinyMyoConfig

VIEW_OPS = {"Unsqueeze", "Squeeze", "Reshape", "Flatten", "Gather"}
HEAD_OUTPUTS = {"classification": "logits", "regression": "kinematics", "reconstruction": "reconstruction"}


@dataclass
class Recovered:
    """What the float graph holds: sizes, the reference model with its weights, and the graph's I/O names."""

    config: TinyMyoConfig
    model: TinyMyo
    input_name: str
    output_name: str


def _node_label(node: onnx.NodeProto) -> str:
    return f"node {node.name or '<unnamed>'!r} ({node.op_type})"


class _Graph:
    """Indexed view of an ONNX graph for pattern matching: producers, consumers, constants, inferred shapes."""

    def __init__(self, model: onnx.ModelProto, path: Path):
        self.path = path
        self.nodes = list(model.graph.node)
        self.consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        for node in self.nodes:
            if node.op_type == "Constant":
                self.consts[node.output[0]] = numpy_helper.to_array(_attr(node, "value"))
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.shapes: dict[str, tuple[int, ...]] = {}
        inferred = onnx.shape_inference.infer_shapes(model)
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
            dims = vi.type.tensor_type.shape.dim
            if all(d.HasField("dim_value") for d in dims):
                self.shapes[vi.name] = tuple(d.dim_value for d in dims)
        self.claimed: set[int] = {id(n) for n in self.nodes if n.op_type == "Constant"}
        self.graph_outputs = {o.name for o in model.graph.output}

    # ---------------------------------------------------------------------------------------------- primitives
    def fail(self, node: onnx.NodeProto, why: str) -> TinyMyoError:
        return TinyMyoError(f"{self.path}: {_node_label(node)} is not part of the TinyMyo pattern: {why}")

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def users(self, tensor: str) -> list[onnx.NodeProto]:
        return [n for n in self.consumers.get(tensor, []) if id(n) not in self.claimed]

    def claim(self, node: onnx.NodeProto) -> onnx.NodeProto:
        self.claimed.add(id(node))
        return node

    def sole_user(self, tensor: str, op_types: set[str], what: str) -> onnx.NodeProto:
        users = self.users(tensor)
        if len(users) != 1:
            names = ", ".join(_node_label(n) for n in users) or "nothing"
            raise TinyMyoError(f"{self.path}: expected one {what} reading tensor {tensor!r}, found {names}")
        if users[0].op_type not in op_types:
            raise self.fail(users[0], f"expected {what} ({'/'.join(sorted(op_types))})")
        return users[0]

    def user_of_type(self, tensor: str, op_types: set[str]) -> onnx.NodeProto | None:
        found = [n for n in self.users(tensor) if n.op_type in op_types]
        return found[0] if len(found) == 1 else None

    def other_input(self, node: onnx.NodeProto, tensor: str) -> str:
        others = [i for i in node.input if i != tensor]
        if len(others) != 1:
            raise self.fail(node, "expected a binary op with one other operand")
        return others[0]

    def shape(self, tensor: str) -> tuple[int, ...]:
        if tensor not in self.shapes:
            raise TinyMyoError(f"{self.path}: the shape of tensor {tensor!r} could not be inferred (static shapes needed)")
        return self.shapes[tensor]

    # -------------------------------------------------------------------------------------------------- views
    def skip_views(self, tensor: str) -> str:
        """Follow ops that only add or drop leading unit (batch) axes."""
        while True:
            users = self.users(tensor)
            if len(users) != 1 or users[0].op_type not in VIEW_OPS:
                return tensor
            node = users[0]
            if node.op_type == "Gather":
                idx = self.const(node.input[1])
                if idx is None or idx.ndim != 0 or int(idx) != 0 or _attr_int(node, "axis", 0) != 0:
                    return tensor
            if _strip_ones(self.shape(node.output[0])) != _strip_ones(self.shape(tensor)) or not _is_batch_view(
                self.shape(tensor), self.shape(node.output[0])
            ):
                return tensor
            self.claim(node)
            tensor = node.output[0]


def _strip_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    i = 0
    while i < len(shape) and shape[i] == 1:
        i += 1
    return shape[i:]


def _is_batch_view(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """True when a and b differ only by leading 1s (data order unchanged)."""
    return _strip_ones(a) == _strip_ones(b)


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _attr_int(node: onnx.NodeProto, name: str, default: int) -> int:
    return int(_attr(node, name, default))


# ------------------------------------------------------------------------------------------------------ patterns
def _match_linear(g: _Graph, x: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Linear on tensor x: Gemm, MatMul[+Add(bias)], possibly wrapped in batch views. Returns W (M,K), b (M), out."""
    x = g.skip_views(x)
    node = g.claim(g.sole_user(x, {"Gemm", "MatMul"}, "a linear layer"))
    wname = node.input[1]
    w = g.const(wname)
    if w is None or w.ndim != 2 or node.input[0] != x:
        raise g.fail(node, "expected a constant 2-D weight as the second input")
    if node.op_type == "Gemm":
        if _attr_int(node, "transA", 0) or float(_attr(node, "alpha", 1.0)) != 1.0 or float(_attr(node, "beta", 1.0)) != 1.0:
            raise g.fail(node, "Gemm with transA/alpha/beta is not a plain linear layer")
        weight = w if _attr_int(node, "transB", 0) else w.T
        bias = g.const(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(weight.shape[0])
        if bias is None:
            raise g.fail(node, "bias is not a constant")
        out = node.output[0]
    else:
        weight, out = w.T, node.output[0]
        bias = np.zeros(weight.shape[0], dtype=np.float32)
        add = g.user_of_type(out, {"Add"})
        if add is not None and len(g.users(out)) == 1:
            b = g.const(g.other_input(add, out))
            if b is not None and b.shape == (weight.shape[0],):
                g.claim(add)
                bias, out = b, add.output[0]
    return np.asarray(weight, np.float32), np.broadcast_to(np.asarray(bias, np.float32), (weight.shape[0],)).copy(), out


def _match_layernorm(g: _Graph, x: str, dim: int) -> tuple[np.ndarray, np.ndarray, str]:
    """LayerNormalization, or ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul gamma][/Add beta]. Returns gamma, beta, out."""
    node = g.user_of_type(x, {"LayerNormalization", "ReduceMean"})
    if node is None:
        users = ", ".join(_node_label(n) for n in g.users(x)) or "nothing"
        raise TinyMyoError(f"{g.path}: expected a LayerNorm reading tensor {x!r}, found {users}")
    ones, zeros = np.ones(dim, np.float32), np.zeros(dim, np.float32)
    if node.op_type == "LayerNormalization":
        g.claim(node)
        if _attr_int(node, "axis", -1) not in (-1, len(g.shape(x)) - 1):
            raise g.fail(node, "LayerNormalization must normalise the last axis")
        gamma = g.const(node.input[1])
        beta = g.const(node.input[2]) if len(node.input) > 2 and node.input[2] else zeros
        if gamma is None or beta is None:
            raise g.fail(node, "gamma/beta must be constants")
        return np.asarray(gamma, np.float32), np.asarray(beta, np.float32), node.output[0]
    mean = g.claim(node)
    sub = g.claim(g.sole_user(mean.output[0], {"Sub"}, "LayerNorm centring"))
    if list(sub.input) != [x, mean.output[0]]:
        raise g.fail(sub, "expected x - mean(x)")
    pow_ = g.claim(g.user_of_type(sub.output[0], {"Pow"}) or g.sole_user(sub.output[0], {"Pow"}, "LayerNorm square"))
    var = g.claim(g.sole_user(pow_.output[0], {"ReduceMean"}, "LayerNorm variance"))
    add = g.claim(g.sole_user(var.output[0], {"Add"}, "LayerNorm epsilon"))
    sqrt = g.claim(g.sole_user(add.output[0], {"Sqrt"}, "LayerNorm sqrt"))
    div = g.claim(g.sole_user(sqrt.output[0], {"Div"}, "LayerNorm division"))
    if list(div.input) != [sub.output[0], sqrt.output[0]]:
        raise g.fail(div, "expected (x - mean) / sqrt(var + eps)")
    for n in (mean, var):
        if list(_attr(n, "axes", [-1])) not in ([-1], [len(g.shape(x)) - 1]):
            raise g.fail(n, "LayerNorm must reduce the last axis")
    out, gamma, beta = div.output[0], ones, zeros
    users = g.users(out)
    if len(users) == 1 and users[0].op_type == "Mul" and _const_vector(g, users[0], out, dim) is not None:
        gamma = _const_vector(g, users[0], out, dim)
        out = g.claim(users[0]).output[0]
        users = g.users(out)
    if len(users) == 1 and users[0].op_type == "Add" and _const_vector(g, users[0], out, dim) is not None:
        beta = _const_vector(g, users[0], out, dim)
        out = g.claim(users[0]).output[0]
    return gamma, beta, out


def _const_vector(g: _Graph, node: onnx.NodeProto, x: str, dim: int) -> np.ndarray | None:
    c = g.const(g.other_input(node, x)) if len(node.input) == 2 else None
    if c is None or c.size != dim or c.shape[-1:] != (dim,):
        return None
    return np.asarray(c, np.float32).reshape(dim)


def _match_elementwise(g: _Graph, x: str, allowed: set[str], required: str, what: str) -> str:
    """An elementwise activation region starting at x (GELU via Erf, SiLU via Sigmoid*x): claim every node of an
    allowed type whose inputs are x, constants or region outputs; the region must have exactly one exit tensor and
    exactly one `required` node."""
    region, produced, changed = [], [x], True
    while changed:
        changed = False
        for t in list(produced):
            for u in g.users(t):
                if u.op_type in allowed and all(i in produced or g.const(i) is not None for i in u.input):
                    region.append(g.claim(u))
                    produced.append(u.output[0])
                    changed = True
    exits = [t for t in produced[1:] if g.users(t) or t in g.graph_outputs]
    if len(exits) != 1 or sum(r.op_type == required for r in region) != 1 or len(region) > 6:
        strangers = [u for t in produced for u in g.users(t) if u.op_type not in allowed | {"MatMul", "Gemm", "Conv",
                                                                                            "Reshape"}]
        if strangers:
            raise g.fail(strangers[0], f"unexpected inside {what}")
        raise TinyMyoError(f"{g.path}: could not recognise {what} after tensor {x!r}")
    return exits[0]


def _match_attention(g: _Graph, x: str, dim: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Per-head attention from the qkv linear's column Slices. Returns heads, qkv W/b, proj W/b, output tensor."""
    w_qkv, b_qkv, qkv = _match_linear(g, x)
    if w_qkv.shape[0] != 3 * dim:
        raise TinyMyoError(f"{g.path}: qkv linear producing {qkv!r} has {w_qkv.shape[0]} outputs, expected 3 x {dim}")
    slices = {}
    for s in g.users(qkv):
        if s.op_type != "Slice":
            raise g.fail(s, "expected Slices of the qkv output")
        starts, ends = g.const(s.input[1]), g.const(s.input[2])
        axes = g.const(s.input[3]) if len(s.input) > 3 and s.input[3] else np.array([0])
        steps = g.const(s.input[4]) if len(s.input) > 4 and s.input[4] else np.array([1])
        rank = len(g.shape(qkv))
        if starts is None or ends is None or axes is None or steps is None or starts.size != 1 \
                or int(axes.ravel()[0]) % rank != rank - 1 or int(steps.ravel()[0]) != 1:
            raise g.fail(s, "expected a constant slice of the last axis")
        slices[s.output[0]] = (int(starts.ravel()[0]), min(int(ends.ravel()[0]), 3 * dim), g.claim(s))
    heads = len(slices) // 3
    if heads < 1 or len(slices) != 3 * heads or dim % heads:
        raise TinyMyoError(f"{g.path}: qkv output {qkv!r} is read by {len(slices)} Slices; expected 3 per head")
    hd = dim // heads
    head_out = {}
    for qname, (q0, q1, _) in slices.items():
        if not q0 < dim:
            continue
        mm = g.claim(g.sole_user(qname, {"MatMul"}, "q.k^T"))
        tr = g.claim(_producer_of(g, mm.input[1], "Transpose"))
        k0 = slices.get(tr.input[0], (None,))[0]
        scale = g.claim(g.sole_user(mm.output[0], {"Mul", "Div"}, "score scaling"))
        c = g.const(g.other_input(scale, mm.output[0]))
        c = None if c is None else float(c.ravel()[0]) if c.size == 1 else None
        if c is not None and scale.op_type == "Div":
            c = 1.0 / c
        if c is None or not math.isclose(c, 1.0 / math.sqrt(hd), rel_tol=1e-4):
            raise g.fail(scale, f"expected scores scaled by 1/sqrt({hd})")
        sm = g.claim(g.sole_user(scale.output[0], {"Softmax"}, "softmax"))
        if _attr_int(sm, "axis", -1) not in (-1, 1):
            raise g.fail(sm, "softmax must run over the last axis")
        pv = g.claim(g.sole_user(sm.output[0], {"MatMul"}, "p.v"))
        v0 = slices.get(pv.input[1], (None,))[0]
        h = q0 // hd
        if q1 - q0 != hd or q0 % hd or k0 != dim + q0 or v0 != 2 * dim + q0 or pv.input[0] != sm.output[0]:
            raise g.fail(pv, f"head {h}: q/k/v column ranges are not those of one head")
        head_out[pv.output[0]] = h
    first = next(iter(head_out))
    if heads == 1 and g.user_of_type(first, {"Concat"}) is None:
        merged = first  # torch.cat of one tensor is elided
    else:
        concat = g.claim(g.sole_user(first, {"Concat"}, "head concatenation"))
        if [head_out.get(t) for t in concat.input] != list(range(heads)):
            raise g.fail(concat, "heads are not concatenated in order")
        merged = concat.output[0]
    w_proj, b_proj, out = _match_linear(g, merged)
    return heads, w_qkv, b_qkv, w_proj, b_proj, g.skip_views(out)


def _producer_of(g: _Graph, tensor: str, op_type: str) -> onnx.NodeProto:
    for n in g.nodes:
        if tensor in n.output:
            if n.op_type != op_type:
                raise g.fail(n, f"expected {op_type}")
            return n
    raise TinyMyoError(f"{g.path}: tensor {tensor!r} has no producer")


def _match_residual(g: _Graph, skip: str, branch: str) -> str:
    add = g.sole_user(branch, {"Add"}, "residual add")
    if set(add.input) != {skip, branch}:
        raise g.fail(add, "expected block input + branch output")
    return g.claim(add).output[0]


def _match_patch_embedding(g: _Graph, x: str, channels: int, samples: int):
    x = g.skip_views(x)
    conv = g.claim(g.sole_user(x, {"Conv"}, "patch embedding Conv"))
    w = g.const(conv.input[1])
    kernel, strides = list(_attr(conv, "kernel_shape", [])), list(_attr(conv, "strides", [1, 1]))
    if w is None or w.ndim != 4 or w.shape[1:3] != (1, 1) or kernel != [1, w.shape[3]] or strides != [1, w.shape[3]] \
            or any(_attr(conv, "pads", [0, 0, 0, 0])) or _attr_int(conv, "group", 1) != 1:
        raise g.fail(conv, "expected Conv2d(1, D, (1, patch), stride (1, patch)) on the channel-major input")
    dim, patch = w.shape[0], w.shape[3]
    b = g.const(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else np.zeros(dim, np.float32)
    reshape = g.claim(g.sole_user(conv.output[0], {"Reshape", "Flatten"}, "patch flattening"))
    tr = g.claim(g.sole_user(reshape.output[0], {"Transpose"}, "patch transpose"))
    tokens = channels * (samples // patch)
    if g.shape(tr.output[0]) != (1, tokens, dim) or list(_attr(tr, "perm", [])) != [0, 2, 1]:
        raise g.fail(tr, f"expected tokens (1, {tokens}, {dim}) in channel-major order")
    return np.asarray(w, np.float32), np.asarray(b, np.float32), tr.output[0]


def _match_head(g: _Graph, x: str, cfg: dict, output: str) -> dict[str, np.ndarray]:
    """The head after the final norm: shape ops (Reshape/Transpose/ReduceMean), then Linear or Conv1d stack."""
    chans, dim = cfg["channels"], cfg["dim"]
    patches = cfg["samples"] // cfg["patch_size"]
    t, reduced = x, False
    while True:
        users = g.users(t)
        if len(users) != 1:
            raise TinyMyoError(f"{g.path}: expected one consumer of {t!r} in the head")
        node = users[0]
        if node.op_type in {"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze"}:
            t = g.claim(node).output[0]
        elif node.op_type == "ReduceMean":
            reduced = True
            t = g.claim(node).output[0]
        elif node.op_type in {"Gemm", "MatMul", "Conv"}:
            break
        else:
            raise g.fail(node, "unexpected in the head")
    state: dict[str, np.ndarray] = {}
    if node.op_type == "Conv":
        return _match_regression_head(g, t, cfg, output)
    w, b, out = _match_linear(g, t)
    if g.skip_views(out) != output:
        raise TinyMyoError(f"{g.path}: the head's linear output {out!r} does not reach the graph output {output!r}")
    if reduced:
        cfg["head"] = "classification"
        cfg["classes"] = w.shape[0]
        cfg["reduction"] = "concat" if w.shape[1] == chans * dim else "mean"
        if w.shape[1] not in (chans * dim, dim):
            raise TinyMyoError(f"{g.path}: classifier has {w.shape[1]} inputs; expected {chans}x{dim} or {dim}")
        state["model_head.classifier.weight"], state["model_head.classifier.bias"] = w, b
    else:
        cfg["head"] = "reconstruction"
        if w.shape != (cfg["patch_size"], dim) or g.shape(output)[-2:] != (chans * patches, cfg["patch_size"]):
            raise TinyMyoError(f"{g.path}: reconstruction decoder of shape {w.shape} does not fit the patch size")
        state["model_head.decoder_pred.weight"], state["model_head.decoder_pred.bias"] = w, b
    return state


def _match_conv1d(g: _Graph, x: str, kernel: int, depthwise: bool) -> tuple[np.ndarray, np.ndarray, str]:
    conv = g.claim(g.sole_user(x, {"Conv"}, f"Conv1d kernel {kernel}"))
    w = g.const(conv.input[1])
    pads = list(_attr(conv, "pads", [0, 0]))
    want_pads = [kernel // 2, kernel // 2]
    if w is None or w.ndim != 3 or w.shape[2] != kernel or pads != want_pads \
            or list(_attr(conv, "strides", [1])) != [1] or list(_attr(conv, "dilations", [1])) != [1] \
            or (_attr_int(conv, "group", 1) == w.shape[0]) != depthwise or (depthwise and w.shape[1] != 1):
        raise g.fail(conv, f"expected a {'depthwise ' if depthwise else ''}Conv1d with kernel {kernel}")
    b = g.const(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else np.zeros(w.shape[0], np.float32)
    return np.asarray(w, np.float32), np.asarray(b, np.float32), conv.output[0]


def _match_regression_head(g: _Graph, x: str, cfg: dict, output: str) -> dict[str, np.ndarray]:
    chans, dim = cfg["channels"], cfg["dim"]
    state = {}
    w0, b0, t = _match_conv1d(g, x, 1, False)
    t = _match_elementwise(g, t, {"Sigmoid", "Mul"}, "Sigmoid", "SiLU")
    w3, b3, t = _match_conv1d(g, t, 3, True)
    t = _match_elementwise(g, t, {"Sigmoid", "Mul"}, "Sigmoid", "SiLU")
    w5, b5, t = _match_conv1d(g, t, 1, False)
    resize = g.user_of_type(t, {"Resize"})
    if resize is not None:
        if _attr(resize, "mode", b"") != b"linear" or _attr(resize, "coordinate_transformation_mode", b"") != b"half_pixel":
            raise g.fail(resize, "expected linear interpolation with half_pixel coordinates (align_corners=False)")
        t = g.claim(resize).output[0]
    tr = g.claim(g.sole_user(t, {"Transpose"}, "output transpose"))
    if tr.output[0] != output or list(_attr(tr, "perm", [])) != [0, 2, 1]:
        raise g.fail(tr, "expected the (B, K, L) -> (B, L, K) transpose onto the graph output")
    if w0.shape[1] not in (chans * dim, dim):
        raise TinyMyoError(f"{g.path}: regression head reads {w0.shape[1]} features; expected {chans}x{dim} or {dim}")
    cfg.update(head="regression", classes=w5.shape[0], reg_hidden=w0.shape[0], reg_target_len=g.shape(output)[1],
               reduction="concat" if w0.shape[1] == chans * dim else "mean")
    for idx, (w, b) in {"0": (w0, b0), "3": (w3, b3), "5": (w5, b5)}.items():
        state[f"model_head.regressor.{idx}.weight"], state[f"model_head.regressor.{idx}.bias"] = w, b
    return state


# ------------------------------------------------------------------------------------------------------- the walk
def _walk(g: _Graph, model: onnx.ModelProto) -> tuple[dict, dict[str, np.ndarray], str, str]:
    graph_inputs = [i for i in model.graph.input if i.name not in g.consts]
    if len(graph_inputs) != 1 or len(model.graph.output) != 1:
        raise TinyMyoError(f"{g.path}: expected one input (B, C, T) and one output; found "
                           f"{len(graph_inputs)} inputs and {len(model.graph.output)} outputs")
    inp, out = graph_inputs[0].name, model.graph.output[0].name
    if inp not in g.shapes:
        raise TinyMyoError(f"{g.path}: input {inp!r} has a dynamic shape; quantize a static (1, C, T) export "
                           "(export without --dynamic-batch)")
    in_shape = g.shape(inp)
    if len(in_shape) != 3 or in_shape[0] != 1:
        raise TinyMyoError(f"{g.path}: input {inp!r} has shape {in_shape}; expected a static (1, C, T) window")
    channels, samples = in_shape[1], in_shape[2]
    w_pe, b_pe, x = _match_patch_embedding(g, inp, channels, samples)
    dim = w_pe.shape[0]
    cfg = dict(channels=channels, samples=samples, patch_size=w_pe.shape[3], dim=dim)
    state = {"patch_embedding.patch_embed.proj.weight": w_pe, "patch_embedding.patch_embed.proj.bias": b_pe}
    depth, heads, hidden = 0, None, None
    while True:
        g1, b1, y = _match_layernorm(g, x, dim)
        if not _reads_slices(g, y):
            state["norm.weight"], state["norm.bias"] = g1, b1
            break
        p = f"blocks.{depth}."
        h, wqkv, bqkv, wp, bp, a = _match_attention(g, y, dim)
        if heads not in (None, h):
            raise TinyMyoError(f"{g.path}: block {depth} has {h} heads, earlier blocks {heads}")
        heads = h
        x = _match_residual(g, x, a)
        g2, b2, y = _match_layernorm(g, x, dim)
        w1, bb1, t = _match_linear(g, y)
        t = _match_elementwise(g, t, {"Div", "Mul", "Erf", "Add"}, "Erf", "GELU")
        w2, bb2, t = _match_linear(g, t)
        x = _match_residual(g, x, g.skip_views(t))
        if hidden not in (None, w1.shape[0]) or w1.shape[0] % dim:
            raise TinyMyoError(f"{g.path}: block {depth} MLP hidden size {w1.shape[0]} is not a multiple of dim {dim}")
        hidden = w1.shape[0]
        state.update({p + "norm1.weight": g1, p + "norm1.bias": b1, p + "attn.qkv.weight": wqkv,
                      p + "attn.qkv.bias": bqkv, p + "attn.proj.weight": wp, p + "attn.proj.bias": bp,
                      p + "norm2.weight": g2, p + "norm2.bias": b2, p + "mlp.fc1.weight": w1, p + "mlp.fc1.bias": bb1,
                      p + "mlp.fc2.weight": w2, p + "mlp.fc2.bias": bb2})
        depth += 1
    if depth == 0:
        raise TinyMyoError(f"{g.path}: no encoder block found after the patch embedding")
    cfg.update(depth=depth, heads=heads, mlp_ratio=hidden // dim)
    state.update(_match_head(g, y, cfg, out))
    leftover = [n for n in g.nodes if id(n) not in g.claimed]
    if leftover:
        raise g.fail(leftover[0], "left over after matching the whole TinyMyo pattern")
    return cfg, state, inp, out


def _reads_slices(g: _Graph, y: str) -> bool:
    """A block's LayerNorm feeds the qkv linear whose output is read by Slices; the final norm does not."""
    t = y
    for n in g.consumers.get(t, []):
        if n.op_type in VIEW_OPS:
            t = n.output[0]
    for n in g.consumers.get(t, []):
        if n.op_type in {"Gemm", "MatMul"}:
            return any(u.op_type == "Slice" for u in g.consumers.get(n.output[0], []))
    return False


def load_onnx_file(path: str | Path) -> onnx.ModelProto:
    """Any ONNX file the user names: a missing or unparsable file is a TinyMyoError naming it."""
    path = Path(path)
    if not path.is_file():
        raise TinyMyoError(f"{path}: no such file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad input file
        raise TinyMyoError(f"{path}: not a readable ONNX model ({exc})") from exc
    return model


def recognize(path: str | Path, *, verify: bool = True) -> Recovered:
    """Float ONNX -> Recovered (config, PyTorch reference with the graph's weights). Raises TinyMyoError if the graph
    is not TinyMyo-shaped or the recovered model does not reproduce onnxruntime's output."""
    path = Path(path)
    model = load_onnx_file(path)
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise TinyMyoError(f"{path}: {_node_label(node)} in domain {node.domain!r}: not a float TinyMyo graph "
                               "(is this already an int8 model?)")
    g = _Graph(model, path)
    cfg_values, state, inp, out = _walk(g, model)
    cfg = TinyMyoConfig.from_dict(cfg_values)
    ref = TinyMyo(cfg).eval()
    full = ref.state_dict()
    for key, value in state.items():
        full[key] = torch.from_numpy(np.array(value, np.float32).reshape(full[key].shape))
    ref.load_state_dict(full, strict=True)
    if verify:
        verify_against_onnx(path, ref, inp)
    return Recovered(cfg, ref, inp, out)


def verify_against_onnx(path: Path, ref: TinyMyo, input_name: str, windows: np.ndarray | None = None) -> float:
    """Run the float graph in onnxruntime and the recovered reference; refuse a mismatch beyond float tolerance."""
    import onnxruntime as ort

    cfg = ref.cfg
    if windows is None:
        windows = np.random.default_rng(0).standard_normal((2, cfg.channels, cfg.samples)).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for w in windows:
        want = sess.run(None, {input_name: w[None]})[0]
        with torch.no_grad():
            got = ref(torch.from_numpy(w[None])).numpy()
        if got.shape != want.shape:
            raise TinyMyoError(f"{path}: recovered model gives shape {got.shape}, the graph {want.shape}")
        err = float(np.max(np.abs(got - want)) / max(1.0, float(np.max(np.abs(want)))))
        worst = max(worst, err)
    if worst > 1e-3:
        raise TinyMyoError(f"{path}: the TinyMyo recovered from the graph differs from onnxruntime by {worst:.2e} "
                           "(relative to the output range); the graph's structure was not understood")
    return worst
