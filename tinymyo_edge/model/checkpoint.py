"""Strict checkpoint I/O with upstream key names ("model." prefix), where the upstream loader is silent.

Formats: a Lightning .ckpt (torch.load(weights_only=True), weights under "state_dict"; .pt/.pth read the same way)
and .safetensors (the same keys, optional metadata "tinymyo_edge.config" with the JSON of a TinyMyoConfig).

Sizes come from the weights: dim, patch size, depth, MLP ratio, head kind, classes, reduction and, for concatenating
heads, channels. What the weights cannot say (samples, heads, reg_target_len; channels for a reconstruction or "mean"
head) comes from the caller, else from the file's tinymyo_edge metadata, else the defaults (1000 samples, 3 heads).
Every problem is reported at once, by key name; nothing is loaded unless everything matches.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Mapping

import torch

from ..errors import TinyMyoError
from ..fileio import atomic_path
from .config import TinyMyoConfig
from .tinymyo import TinyMyo

PREFIX = "model."
CONFIG_METADATA_KEY = "tinymyo_edge.config"
TORCH_SUFFIXES = (".ckpt", ".pt", ".pth")
SAFETENSORS_SUFFIX = ".safetensors"
DEFAULT_SAMPLES = 1000
DEFAULT_HEADS = 3
_NOT_INFERABLE = ("samples", "heads", "reg_target_len")

# The keys that decide each inferred size (named in errors).
K_PATCH = PREFIX + "patch_embedding.patch_embed.proj.weight"
K_NORM = PREFIX + "norm.weight"
K_CLASSIFIER = PREFIX + "model_head.classifier.weight"
K_REG_IN = PREFIX + "model_head.regressor.0.weight"
K_REG_OUT = PREFIX + "model_head.regressor.5.weight"
K_DECODER = PREFIX + "model_head.decoder_pred.weight"
_BLOCK_KEY = re.compile(r"^model\.blocks\.(\d+)\.")


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------------- reading


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict | None]:
    """Return (state dict with the file's key names, tinymyo_edge config dict or None). Errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise TinyMyoError(f"{path}: no such checkpoint file")
    suffix = path.suffix.lower()
    if suffix == SAFETENSORS_SUFFIX:
        state, meta = _read_safetensors(path)
    elif suffix in TORCH_SUFFIXES:
        state, meta = _read_torch(path)
    else:
        raise TinyMyoError(f"{path}: unknown checkpoint suffix {path.suffix!r} (expected .ckpt, .pt, .pth or .safetensors)")
    bad = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor))
    if bad:
        raise TinyMyoError(f"{path}: not a checkpoint: entries that are not tensors: {', '.join(bad)}")
    if not state:
        raise TinyMyoError(f"{path}: the checkpoint holds no weights")
    return state, meta


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers/truncation
        raise TinyMyoError(f"{path}: not a readable .safetensors file ({exc})") from None
    return state, _parse_config_metadata(path, metadata.get(CONFIG_METADATA_KEY))


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since 1.6
_PICKLE_MAGIC = b"\x80"  # legacy torch.save: a pickle stream (protocol >= 2)
_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
_MAX_STUBS = 64


def _read_torch(path: Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    with open(path, "rb") as f:
        magic = f.read(4)
    if not (magic.startswith(_ZIP_MAGIC) or magic.startswith(_PICKLE_MAGIC)):
        raise TinyMyoError(f"{path}: not a PyTorch checkpoint (neither a torch.save zip archive nor a pickle)")
    blob = _load_weights_only(path)
    if not isinstance(blob, Mapping):
        raise TinyMyoError(f"{path}: not a checkpoint (a {type(blob).__name__}, expected a dict with 'state_dict')")
    meta = blob.get(CONFIG_METADATA_KEY)
    if "state_dict" in blob:
        state = blob["state_dict"]
        if not isinstance(state, Mapping):
            raise TinyMyoError(f"{path}: 'state_dict' is a {type(state).__name__}, not a dict of tensors")
    elif blob and all(isinstance(v, torch.Tensor) for v in blob.values()):
        state = blob  # a bare state dict
    else:
        raise TinyMyoError(f"{path}: not a checkpoint: no 'state_dict' entry (top-level keys: {', '.join(map(str, blob))})")
    return dict(state), _parse_config_metadata(path, json.dumps(meta) if isinstance(meta, Mapping) else meta)


def _load_weights_only(path: Path):
    """torch.load(weights_only=True). Lightning checkpoints also pickle Python objects (hyper-parameters, callback
    states) that the safe unpickler refuses; each refused class is replaced by an inert stub (no foreign code runs,
    nothing is imported) so that the tensors under "state_dict" can still be read."""
    stubs: list[tuple[type, str]] = []
    while True:
        try:
            with torch.serialization.safe_globals(stubs):
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            text = str(exc)
            match = _UNSUPPORTED_GLOBAL.search(text)
            if match is None or len(stubs) >= _MAX_STUBS or any(name.endswith(match.group(1)) for _, name in stubs):
                detail = re.search(r"(?:WeightsUnpickler error: )?((?:Unsupported|Trying to load|Can only|Trying to call)[^\n]*)", text)
                reason = detail.group(1) if detail else (text.strip().splitlines() or [type(exc).__name__])[0]
                raise TinyMyoError(f"{path}: not a readable PyTorch checkpoint (torch.load(weights_only=True): {reason})") from None
            name = match.group(1) if "." in match.group(1) else f"builtins.{match.group(1)}"  # torch drops "builtins."
            stubs.append((_stub_class(name), name))


def _stub_class(qualified_name: str) -> type:
    """An inert stand-in for a pickled class or function: accepts any construction and state, holds nothing."""
    module, _, name = qualified_name.rpartition(".")

    def _accept(self, *args, **kwargs):
        pass

    return type(name, (), {"__module__": module, "__init__": _accept, "__setstate__": _accept,
                           "__call__": _accept, "__setitem__": _accept, "append": _accept, "extend": _accept})


def _parse_config_metadata(path: Path, text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        values = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise TinyMyoError(f"{path}: metadata {CONFIG_METADATA_KEY!r} is not JSON ({exc})") from None
    if not isinstance(values, dict):
        raise TinyMyoError(f"{path}: metadata {CONFIG_METADATA_KEY!r} is not a JSON object")
    return values


# ---------------------------------------------------------------------------------------------------- inference


def infer_config(
    state_dict: Mapping[str, torch.Tensor],
    *,
    samples: int = DEFAULT_SAMPLES,
    heads: int = DEFAULT_HEADS,
    channels: int | None = None,
    reduction: str | None = None,
    reg_target_len: int = 500,
) -> TinyMyoConfig:
    """Sizes of the model whose upstream-named weights are `state_dict`.

    `channels` is needed when the weights cannot tell (reconstruction head, "mean" reduction); when they can, a
    different value is an error naming the key. `reduction` only settles the 1-channel case, where both agree.
    """
    sizes, _ = _infer_sizes(state_dict, channels=channels, reduction=reduction)
    try:
        return TinyMyoConfig(samples=samples, heads=heads, reg_target_len=reg_target_len, **sizes)
    except TinyMyoError as exc:
        raise TinyMyoError(f"sizes read from the checkpoint do not form a valid model: {exc}") from None


def _shape(state: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...] | None:
    value = state.get(key)
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


def _infer_sizes(state, *, channels, reduction) -> tuple[dict, dict[str, str]]:
    """(sizes, field -> "key shape" that decided it). A size whose usual key is missing or renamed is read from
    another key, or left at its default: the strict key check then names the missing and the unexpected keys."""
    sizes: dict = {}
    origin: dict[str, str] = {}

    def take(field, value, key):
        sizes[field] = value
        origin[field] = f"{key} {list(_shape(state, key))}"

    patch = _shape(state, K_PATCH)
    if patch is not None and len(patch) == 4:
        take("dim", patch[0], K_PATCH)
        take("patch_size", patch[3], K_PATCH)
    else:
        norm = next((k for k in (K_NORM, "model.blocks.0.norm1.weight") if len(_shape(state, k) or ()) == 1), None)
        if norm is None:
            raise TinyMyoError(f"cannot infer the model width: none of {K_PATCH}, {K_NORM} holds it" + _naming_hint(state))
        take("dim", _shape(state, norm)[0], norm)
        if len(_shape(state, K_DECODER) or ()) == 2:
            take("patch_size", _shape(state, K_DECODER)[0], K_DECODER)
    blocks = sorted({int(m.group(1)) for k in state if (m := _BLOCK_KEY.match(k))})
    if not blocks:
        raise TinyMyoError("cannot infer the depth: no key model.blocks.{i}.*" + _naming_hint(state))
    sizes["depth"] = blocks[-1] + 1
    origin["depth"] = f"model.blocks.{blocks[-1]}.* (highest block index)"
    # MLP width: a vote of fc1.weight, fc1.bias and fc2.weight over all blocks, so that one mis-shaped tensor is
    # the one reported, not all the others.
    votes = collections.Counter()
    for i in blocks:
        for key, axis, rank in ((f"model.blocks.{i}.mlp.fc1.weight", 0, 2), (f"model.blocks.{i}.mlp.fc1.bias", 0, 1),
                                (f"model.blocks.{i}.mlp.fc2.weight", 1, 2)):
            shape = _shape(state, key)
            if shape is not None and len(shape) == rank:
                votes[shape[axis]] += 1
    if votes:
        hidden = votes.most_common(1)[0][0]
        if hidden % sizes["dim"] == 0:
            sizes["mlp_ratio"] = hidden // sizes["dim"]
            origin["mlp_ratio"] = f"model.blocks.*.mlp.fc1/fc2 (width {hidden} in {votes[hidden]} tensors)"
    sizes.update(_infer_head(state, sizes["dim"], channels, reduction, origin))
    return sizes, origin


def _infer_head(state, dim: int, channels: int | None, reduction: str | None, origin: dict) -> dict:
    present = [k for k in (K_CLASSIFIER, K_REG_IN, K_DECODER) if k in state]
    if len(present) != 1:
        found = ", ".join(present) if present else "none"
        head_keys = sorted(k for k in state if k.startswith(PREFIX + "model_head.") and k not in present)
        found += f"; other head keys: {', '.join(head_keys)}" if head_keys else ""
        raise TinyMyoError(
            f"cannot tell the head: expected exactly one of {K_CLASSIFIER}, {K_REG_IN}, {K_DECODER} (found: {found})"
            + _naming_hint(state)
        )
    key = present[0]
    shape = _shape(state, key)
    origin["head"] = key
    if len(shape) < 2:
        raise TinyMyoError(f"{key} {list(shape)}: a head weight has at least 2 dimensions")
    if key == K_DECODER:
        if channels is None:
            raise TinyMyoError(f"{K_DECODER}: a reconstruction checkpoint does not record the channel count; pass --channels")
        return {"head": "reconstruction", "channels": channels}
    if key == K_CLASSIFIER:
        head, out_features, in_features = "classification", shape[0], shape[1]
        origin["classes"] = f"{key} {list(shape)}"
    else:
        out_shape = _shape(state, K_REG_OUT)
        if out_shape is None or not out_shape:
            raise TinyMyoError(f"cannot tell the regression outputs: {K_REG_OUT} is missing" + _naming_hint(state))
        head, out_features, in_features = "regression", out_shape[0], shape[1]
        origin["classes"] = f"{K_REG_OUT} {list(out_shape)}"
    sizes = {"head": head, "classes": out_features}
    if head == "regression":
        sizes["reg_hidden"] = shape[0]
        origin["reg_hidden"] = f"{key} {list(shape)}"
    feature_origin = f"{key} {list(shape)} (in-features / dim {dim})"
    if in_features % dim:
        raise TinyMyoError(f"{key} {list(shape)}: head in-features {in_features} is not a multiple of dim {dim}")
    concat_channels = in_features // dim
    if concat_channels > 1:
        sizes.update(reduction="concat", channels=concat_channels)
        origin["channels"] = origin["reduction"] = feature_origin
        return sizes
    # in-features == dim: a "mean" head (channels averaged), which does not record the channel count; with one
    # channel "concat" is the same function, so that pair is accepted when asked for.
    if channels is None:
        raise TinyMyoError(f"{key} {list(shape)}: in-features == dim, a 'mean' head, which does not record the "
                           "channel count; pass --channels")
    sizes.update(reduction="concat" if (channels == 1 and reduction == "concat") else "mean", channels=channels)
    origin["reduction"] = f"{key} {list(shape)} (in-features == dim)"
    return sizes


def _naming_hint(state: Mapping[str, torch.Tensor]) -> str:
    if state and not any(k.startswith(PREFIX) for k in state):
        return f" (no key starts with {PREFIX!r}: upstream checkpoints name every weight 'model.<module>.<param>')"
    return ""


# ------------------------------------------------------------------------------------------------------ loading


def load_checkpoint(
    path: str | os.PathLike,
    *,
    samples: int | None = None,
    heads: int | None = None,
    expect: Mapping[str, object] | None = None,
) -> TinyMyo:
    """A TinyMyo (eval mode) from an upstream-named checkpoint, strictly: every key present, none extra, all shapes.

    samples / heads: not recorded by the weights; None = the file's tinymyo_edge metadata, else 1000 / 3.
    expect: sizes the user asked for (TinyMyoConfig field -> value); a value the weights contradict is an error
    naming the key and both values; values the weights cannot tell (channels of a reconstruction head) are used.
    """
    path = Path(path)
    state, meta = read_checkpoint(path)
    expect = dict(expect or {})
    unknown = sorted(set(expect) - set(TinyMyoConfig.__dataclass_fields__))
    if unknown:
        raise TinyMyoError(f"unknown size names in expect: {', '.join(unknown)}")
    cfg = _resolve_config(path, state, meta or {}, samples=samples, heads=heads, expect=expect)
    model = TinyMyo(cfg)
    tensors = _check_keys(path, state, model)
    model.load_state_dict({k[len(PREFIX):]: v for k, v in tensors.items()}, strict=True)
    return model.eval()


def _resolve_config(path: Path, state, meta: dict, *, samples, heads, expect: dict) -> TinyMyoConfig:
    def given(field, default):
        for source in (expect, meta):
            if source.get(field) is not None:
                return source[field]
        return default

    samples = samples if samples is not None else given("samples", DEFAULT_SAMPLES)
    heads = heads if heads is not None else given("heads", DEFAULT_HEADS)
    try:
        sizes, origin = _infer_sizes(
            state, channels=given("channels", None), reduction=given("reduction", None)
        )
        cfg = TinyMyoConfig(samples=samples, heads=heads, reg_target_len=given("reg_target_len", 500), **sizes)
    except TinyMyoError as exc:
        raise TinyMyoError(f"{path}: {exc}") from None
    conflicts = []
    for source_name, source in (("asked", expect), (f"recorded in its {CONFIG_METADATA_KEY} metadata", meta)):
        for field, wanted in source.items():
            if field in TinyMyoConfig.__dataclass_fields__ and field in origin and wanted != getattr(cfg, field):
                conflicts.append(f"{field}: {origin[field]} gives {getattr(cfg, field)}, but {wanted} was {source_name}")
    if conflicts:
        raise TinyMyoError(f"{path}: checkpoint does not match the sizes asked for: " + "; ".join(conflicts))
    return cfg


def _check_keys(path: Path, state: Mapping[str, torch.Tensor], model: TinyMyo) -> dict[str, torch.Tensor]:
    """All problems at once: missing, unexpected, mis-shaped and non-float keys. Returns float32 tensors."""
    wanted = {PREFIX + k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(wanted) - set(state))
    unexpected = sorted(set(state) - set(wanted))
    misshaped = sorted(
        f"{k} {list(state[k].shape)} (expected {list(wanted[k])})"
        for k in set(wanted) & set(state)
        if tuple(state[k].shape) != wanted[k]
    )
    not_float = sorted(f"{k} ({state[k].dtype})" for k in set(wanted) & set(state) if not state[k].is_floating_point())
    problems = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                         ("mis-shaped keys", misshaped), ("non-float keys", not_float)):
        if items:
            problems.append(f"{label} ({len(items)}): " + ", ".join(items))
    if problems:
        raise TinyMyoError(
            f"{path}: checkpoint does not match a TinyMyo {model.cfg.head} model "
            f"(dim {model.cfg.dim}, depth {model.cfg.depth}, channels {model.cfg.channels}): "
            + "; ".join(problems) + _naming_hint(state)
        )
    return {k: state[k].to(torch.float32) for k in wanted}


# ------------------------------------------------------------------------------------------------------ writing


def upstream_state_dict(model: TinyMyo) -> dict[str, torch.Tensor]:
    """The model's weights under upstream key names (contiguous CPU copies)."""
    return {PREFIX + k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


PREPROCESSING_METADATA_KEY = "tinymyo_edge.preprocessing"  # JSON of the data's preprocessing (data/pipeline.py)


def read_preprocessing(path: str | os.PathLike) -> str | None:
    """The preprocessing description (JSON text) recorded in a checkpoint by finetune, or None."""
    path = Path(path)
    if path.suffix.lower() == SAFETENSORS_SUFFIX:
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                return (f.metadata() or {}).get(PREPROCESSING_METADATA_KEY)
        except Exception as exc:
            raise TinyMyoError(f"{path}: not a readable .safetensors file ({exc})") from None
    blob = _load_weights_only(path) if path.suffix.lower() in TORCH_SUFFIXES else None
    value = blob.get(PREPROCESSING_METADATA_KEY) if isinstance(blob, Mapping) else None
    return value if isinstance(value, str) else None


def save_checkpoint(model: TinyMyo, path: str | os.PathLike, *, force: bool = False,
                    preprocessing: str | None = None) -> Path:
    """Write .ckpt ({"state_dict": ..., "tinymyo_edge.config": dict}) or .safetensors (same keys, config metadata);
    preprocessing: the training data's description (JSON text), recorded under PREPROCESSING_METADATA_KEY."""
    path = Path(path)
    state = upstream_state_dict(model)
    config_json = json.dumps(model.cfg.to_dict(), sort_keys=True)
    suffix = path.suffix.lower()
    if suffix not in TORCH_SUFFIXES + (SAFETENSORS_SUFFIX,):
        raise TinyMyoError(f"{path}: unknown checkpoint suffix {path.suffix!r} (use .ckpt or .safetensors)")
    with atomic_path(path, force=force) as tmp:
        if suffix == SAFETENSORS_SUFFIX:
            from safetensors.torch import save_file

            meta = {CONFIG_METADATA_KEY: config_json}
            if preprocessing is not None:
                meta[PREPROCESSING_METADATA_KEY] = preprocessing
            save_file(state, str(tmp), metadata=meta)
        else:
            blob = {"state_dict": state, CONFIG_METADATA_KEY: json.loads(config_json)}
            if preprocessing is not None:
                blob[PREPROCESSING_METADATA_KEY] = preprocessing
            torch.save(blob, tmp)
    return path
