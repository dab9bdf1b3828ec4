"""Strict checkpoint I/O of the speech model, where upstream loads with strict=False.

Formats read: the authors' own `torch.save(model.state_dict(), "model_<run>_best.pt")` (a bare state dict, keys
without prefix: conv_blocks.0.conv1.weight, blocks.3.attn.relative_positional.embeddings, w_out.weight, ...), a
Lightning-style {"state_dict": ...} whose keys all carry "model.", and .safetensors with either naming. Sizes come
from the weights (channels, dim, depth, MLP ratio, outputs, aux outputs, max relative position); heads and samples
do not show in the weights and come from the caller, the file's tinymyo_edge metadata, or the defaults (3, 1600).
Every missing, unexpected, mis-shaped or wrongly typed key is named at once; nothing loads unless all match.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Mapping

import torch

from ..errors import TinyMyoError
from ..fileio import atomic_path
from .checkpoint import CONFIG_METADATA_KEY, SAFETENSORS_SUFFIX, TORCH_SUFFIXES, read_checkpoint
from .speech import SpeechConfig, SpeechModel

PREFIX = "model."
K_CONV_IN = "conv_blocks.0.conv1.weight"
K_NORM = "blocks.0.norm1.weight"
K_FC1 = "blocks.0.mlp.fc1.weight"
K_REL = "blocks.0.attn.relative_positional.embeddings"
K_OUT = "w_out.weight"
K_AUX = "w_aux.weight"
_BLOCK = re.compile(r"^blocks\.(\d+)\.")
_COUNTERS = re.compile(r"\.num_batches_tracked$")  # BatchNorm step counters: integer tensors, unused at inference


def _strip_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if state and all(k.startswith(PREFIX) for k in state):
        return {k[len(PREFIX):]: v for k, v in state.items()}
    return dict(state)


def _shape(state, key) -> tuple[int, ...] | None:
    v = state.get(key)
    return tuple(v.shape) if isinstance(v, torch.Tensor) else None


def infer_speech_config(state: Mapping[str, torch.Tensor], *, heads: int | None = None, samples: int = 1600,
                        head: str | None = None, where: str = "checkpoint") -> SpeechConfig:
    """Sizes read from the weights; the keys that decide them are named when they are missing or mis-shaped."""
    need = {K_CONV_IN: 3, K_NORM: 1, K_FC1: 2, K_REL: 4, K_OUT: 2}
    bad = [f"{k} {list(_shape(state, k)) if _shape(state, k) else 'missing'}"
           for k, rank in need.items() if len(_shape(state, k) or ()) != rank]
    if bad:
        raise TinyMyoError(f"{where}: not a speech (EMGTransformer) checkpoint: cannot read its sizes from "
                           + ", ".join(bad))
    dim = _shape(state, K_CONV_IN)[0]
    hidden = _shape(state, K_FC1)[0]
    if hidden % dim:
        raise TinyMyoError(f"{where}: {K_FC1} {list(_shape(state, K_FC1))}: MLP width is not a multiple of dim {dim}")
    rel = _shape(state, K_REL)
    if heads is not None and rel[0] != heads:  # the relative embeddings are per head: they record the count
        raise TinyMyoError(f"{where}: {K_REL} {list(rel)} has {rel[0]} heads, but {heads} were asked for")
    heads = rel[0]
    depth = 1 + max(int(m.group(1)) for k in state if (m := _BLOCK.match(k)))
    aux = _shape(state, K_AUX)
    outputs = _shape(state, K_OUT)[0]
    if head is None:
        head = "speech-features" if aux is not None or outputs != 38 else "ctc"
    try:
        return SpeechConfig(channels=_shape(state, K_CONV_IN)[1], samples=samples, dim=dim, depth=depth, heads=heads,
                            mlp_ratio=hidden // dim, outputs=outputs, head=head, aux_outputs=aux[0] if aux else 0,
                            max_relative_pos=(rel[1] + 1) // 2)
    except TinyMyoError as exc:
        raise TinyMyoError(f"{where}: sizes read from the checkpoint do not form a valid model: {exc}") from None


def check_speech_keys(where: str, state: Mapping[str, torch.Tensor], model: SpeechModel) -> dict[str, torch.Tensor]:
    """All problems at once; returns the state dict to load (float32 parameters, integer BatchNorm counters)."""
    wanted = {k: v for k, v in model.state_dict().items()}
    missing = sorted(set(wanted) - set(state))
    unexpected = sorted(set(state) - set(wanted))
    common = sorted(set(wanted) & set(state))
    misshaped = [f"{k} {list(state[k].shape)} (expected {list(wanted[k].shape)})" for k in common
                 if tuple(state[k].shape) != tuple(wanted[k].shape)]
    wrong_type = [f"{k} ({state[k].dtype})" for k in common
                  if state[k].is_floating_point() == bool(_COUNTERS.search(k))]
    problems = [f"{label} ({len(items)}): " + ", ".join(items)
                for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                                     ("mis-shaped keys", misshaped), ("wrongly typed keys", wrong_type)) if items]
    if problems:
        cfg = model.cfg
        raise TinyMyoError(f"{where}: checkpoint does not match a speech model ({cfg.head}, dim {cfg.dim}, depth "
                           f"{cfg.depth}, {cfg.channels} channels, {cfg.outputs} outputs): " + "; ".join(problems))
    return {k: (state[k] if _COUNTERS.search(k) else state[k].to(torch.float32)) for k in wanted}


def load_speech_checkpoint(path: str | os.PathLike, *, samples: int | None = None, heads: int | None = None,
                           head: str | None = None) -> SpeechModel:
    """A SpeechModel (eval mode) from the authors' state dict, strictly."""
    path = Path(path)
    state, meta = read_checkpoint(path)
    state = _strip_prefix(state)
    meta = meta or {}
    cfg = infer_speech_config(state, heads=heads or meta.get("heads"), samples=samples or meta.get("samples", 1600),
                              head=head or meta.get("head"), where=str(path))
    model = SpeechModel(cfg)
    model.load_state_dict(check_speech_keys(str(path), state, model), strict=True)
    return model.eval()


def save_speech_checkpoint(model: SpeechModel, path: str | os.PathLike, *, force: bool = False) -> Path:
    """The authors' format (.pt/.ckpt: a bare state dict, plus tinymyo_edge config) or .safetensors."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    config_json = json.dumps(model.cfg.to_dict(), sort_keys=True)
    suffix = path.suffix.lower()
    if suffix not in TORCH_SUFFIXES + (SAFETENSORS_SUFFIX,):
        raise TinyMyoError(f"{path}: unknown checkpoint suffix {path.suffix!r} (use .pt, .ckpt or .safetensors)")
    with atomic_path(path, force=force) as tmp:
        if suffix == SAFETENSORS_SUFFIX:
            from safetensors.torch import save_file

            # safetensors refuses tensors sharing memory: the block/skip views alias conv1/norm1/...
            save_file({k: v.clone() for k, v in state.items()}, str(tmp), metadata={CONFIG_METADATA_KEY: config_json})
        else:
            torch.save({"state_dict": state, CONFIG_METADATA_KEY: json.loads(config_json)}, tmp)
    return path
