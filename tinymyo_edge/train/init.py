"""The model to fine-tune: fresh (upstream initialisation) or a pretrained backbone loaded strictly.

TinyMyo's backbone (patch embedding, blocks, final norm, mask token) has no channel- or length-dependent parameter, so
a backbone pretrained at 16 channels x 1000 samples loads into a model of any channel count and window length. The head
is copied only when its kind and every shape match; otherwise it keeps its fresh initialisation and a note says so.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import TinyMyoError
from ..model import TinyMyo, TinyMyoConfig

HEAD_PREFIX = "model_head."


def _split_head(state: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    backbone = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIX)}
    head = {k: v for k, v in state.items() if k.startswith(HEAD_PREFIX)}
    return backbone, head


def load_pretrained_backbone(model: TinyMyo, pretrained: TinyMyo, source: str) -> list[str]:
    """Copy `pretrained`'s backbone into `model` (every key and shape must match); the head only when compatible.

    Returns human-readable notes on what was done with the head."""
    mine_backbone, mine_head = _split_head(model.state_dict())
    theirs_backbone, theirs_head = _split_head(pretrained.state_dict())
    missing = sorted(set(mine_backbone) - set(theirs_backbone))
    unexpected = sorted(set(theirs_backbone) - set(mine_backbone))
    if missing or unexpected:
        raise TinyMyoError(
            f"{source}: backbone keys do not match the model to fine-tune "
            f"(missing: {', '.join('model.' + k for k in missing) or 'none'}; "
            f"unexpected: {', '.join('model.' + k for k in unexpected) or 'none'})"
        )
    for key, value in mine_backbone.items():
        if value.shape != theirs_backbone[key].shape:
            raise TinyMyoError(
                f"{source}: model.{key} has shape {tuple(theirs_backbone[key].shape)}, "
                f"the model to fine-tune needs {tuple(value.shape)}"
            )
    model.load_state_dict(theirs_backbone, strict=False)
    same_head = pretrained.cfg.head == model.cfg.head and set(theirs_head) == set(mine_head) and all(
        theirs_head[k].shape == v.shape for k, v in mine_head.items()
    )
    if same_head:
        model.load_state_dict(theirs_head, strict=False)
        return [f"{source}: backbone and {model.cfg.head} head loaded"]
    return [
        f"{source}: backbone loaded; its {pretrained.cfg.head} head "
        f"({pretrained.cfg.classes if pretrained.cfg.head != 'reconstruction' else 'patch'} outputs, "
        f"{pretrained.cfg.channels} channels) does not fit a {model.cfg.head} head with "
        f"{model.cfg.classes} outputs over {model.cfg.channels} channels: the head is re-initialised"
    ]


BACKBONE_SIZES = ("dim", "depth", "heads", "patch_size", "mlp_ratio")


def load_pretrained(checkpoint: str | Path, sizes: dict, channels: int) -> TinyMyo:
    """The pretrained model, loaded strictly; sizes the user gave explicitly must match the checkpoint's.

    A reconstruction (pretraining) checkpoint does not record its channel count; the backbone does not depend on it,
    so the fine-tuning data's count is used."""
    from ..model.checkpoint import K_DECODER, load_checkpoint, read_checkpoint

    expect = {k: v for k, v in sizes.items() if k in BACKBONE_SIZES and k != "heads" and v is not None}
    if K_DECODER in read_checkpoint(checkpoint)[0]:
        expect["channels"] = channels
    return load_checkpoint(checkpoint, heads=sizes.get("heads"), expect=expect or None)


def backbone_sizes(sizes: dict, pretrained: TinyMyo | None) -> dict:
    """dim/depth/heads/patch/mlp: the user's, else the pretrained checkpoint's, else TinyMyoConfig's defaults."""
    base = pretrained.cfg if pretrained is not None else TinyMyoConfig()
    return {k: sizes[k] if sizes.get(k) is not None else getattr(base, k) for k in BACKBONE_SIZES}


def build_model(cfg: TinyMyoConfig, seed: int, pretrained: TinyMyo | None, source: str) -> tuple[TinyMyo, list[str]]:
    """A seeded fresh model of `cfg`, with `pretrained`'s backbone (and head when it fits) copied in."""
    torch.manual_seed(seed)
    model = TinyMyo(cfg)
    if pretrained is None:
        return model, []
    return model, load_pretrained_backbone(model, pretrained, source)
