"""Strict checkpoint I/O with upstream key names: load, infer sizes, report every bad key by name, round-trip."""

import json

import pytest
import torch
from safetensors.torch import save_file

from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.model import TinyMyo, TinyMyoConfig
from tinymyo_edge.model.checkpoint import infer_config, load_checkpoint, read_checkpoint, save_checkpoint


def upstream_keys(model: TinyMyo) -> dict[str, torch.Tensor]:
    """What an upstream checkpoint holds: every weight under 'model.' (built here independently of checkpoint.py)."""
    return {f"model.{k}": v.clone() for k, v in model.state_dict().items()}


def write_upstream(state: dict, path, fmt: str):
    if fmt == "safetensors":
        save_file(state, str(path))
    else:
        torch.save({"state_dict": state, "epoch": 3, "global_step": 1200}, path)  # Lightning-like
    return path


def comparable(cfg: TinyMyoConfig) -> TinyMyoConfig:
    """classes means nothing to a reconstruction head (and is not recorded by it)."""
    return cfg.replace(classes=TinyMyoConfig().classes) if cfg.head == "reconstruction" else cfg


def same_weights(a: TinyMyo, b: TinyMyo) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture
def model(tiny_config):
    torch.manual_seed(1)
    return TinyMyo(tiny_config)


@pytest.mark.parametrize("fmt", ["ckpt", "safetensors"])
def test_upstream_named_checkpoint_loads_with_inferred_sizes(model, tiny_config, tmp_path, fmt):
    path = write_upstream(upstream_keys(model), tmp_path / f"up.{fmt}", fmt)
    loaded = load_checkpoint(path, samples=tiny_config.samples, heads=tiny_config.heads)
    assert loaded.cfg == tiny_config
    assert same_weights(loaded, model)
    assert not loaded.training


def test_upstream_key_list_of_the_published_model_is_what_is_expected():
    """TINYMYO.md's key list: mask token, patch conv, 8 blocks, final norm, a head."""
    keys = set(upstream_keys(TinyMyo(TinyMyoConfig(channels=16, head="reconstruction"))))
    assert "model.mask_token" in keys and "model.patch_embedding.patch_embed.proj.weight" in keys
    assert "model.blocks.7.mlp.fc2.bias" in keys and "model.model_head.decoder_pred.weight" in keys
    assert len(keys) == 1 + 2 + 8 * 12 + 2 + 2


@pytest.mark.parametrize(
    "changes",
    [dict(head="regression", classes=5, reg_hidden=16), dict(reduction="mean"), dict(head="reconstruction"),
     dict(channels=6, mlp_ratio=2, patch_size=10, depth=3, dim=32)],
)
def test_sizes_are_inferred_for_every_head(tiny_config, changes):
    cfg = tiny_config.replace(**changes)
    state = upstream_keys(TinyMyo(cfg))
    channels = cfg.channels if cfg.head == "reconstruction" or cfg.reduction == "mean" else None
    assert infer_config(state, samples=cfg.samples, heads=cfg.heads, channels=channels) == comparable(cfg)


@pytest.mark.parametrize("head,reduction", [("reconstruction", "concat"), ("classification", "mean")])
def test_channels_not_recorded_must_be_given(tiny_config, tmp_path, head, reduction):
    cfg = tiny_config.replace(head=head, reduction=reduction)
    path = write_upstream(upstream_keys(TinyMyo(cfg)), tmp_path / "m.safetensors", "safetensors")
    with pytest.raises(TinyMyoError, match="--channels"):
        load_checkpoint(path, samples=cfg.samples, heads=cfg.heads)
    loaded = load_checkpoint(path, samples=cfg.samples, heads=cfg.heads, expect={"channels": cfg.channels})
    assert loaded.cfg == comparable(cfg)


@pytest.mark.parametrize("fmt", ["ckpt", "safetensors"])
@pytest.mark.parametrize("key", ["model.blocks.1.attn.qkv.weight", "model.patch_embedding.patch_embed.proj.weight",
                                 "model.norm.weight", "model.blocks.0.mlp.fc1.weight"])
def test_renamed_key_is_reported_as_missing_and_unexpected(model, tmp_path, fmt, key):
    state = upstream_keys(model)
    renamed = key.replace(".weight", "_renamed.weight")
    state[renamed] = state.pop(key)
    path = write_upstream(state, tmp_path / f"bad.{fmt}", fmt)
    with pytest.raises(TinyMyoError) as err:
        load_checkpoint(path, samples=200, heads=2)
    message = str(err.value)
    assert f"missing keys (1): {key}" in message
    assert f"unexpected keys (1): {renamed}" in message
    assert str(path) in message


def test_renamed_head_is_named(model, tmp_path):
    state = upstream_keys(model)
    state["model.model_head.fc.weight"] = state.pop("model.model_head.classifier.weight")
    path = write_upstream(state, tmp_path / "bad.safetensors", "safetensors")
    with pytest.raises(TinyMyoError, match="cannot tell the head.*other head keys: .*model.model_head.fc.weight"):
        load_checkpoint(path, samples=200, heads=2)


def test_one_misshaped_block_is_named_not_the_others(model, tmp_path):
    state = upstream_keys(model)
    state["model.blocks.0.mlp.fc1.weight"] = torch.zeros(48, 24)
    path = write_upstream(state, tmp_path / "bad.safetensors", "safetensors")
    with pytest.raises(TinyMyoError, match=r"mis-shaped keys \(1\): model.blocks.0.mlp.fc1.weight \[48, 24\] "
                                           r"\(expected \[96, 24\]\)"):
        load_checkpoint(path, samples=200, heads=2)


def test_every_problem_is_reported_in_one_error(model, tmp_path):
    state = upstream_keys(model)
    del state["model.norm.bias"]
    del state["model.mask_token"]
    state["model.blocks.0.mlp.fc2.weight"] = torch.zeros(24, 90)
    state["model.extra.weight"] = torch.zeros(3)
    path = write_upstream(state, tmp_path / "bad.safetensors", "safetensors")
    with pytest.raises(TinyMyoError) as err:
        load_checkpoint(path, samples=200, heads=2)
    message = str(err.value)
    for name in ("model.norm.bias", "model.mask_token", "model.extra.weight"):
        assert name in message
    assert "model.blocks.0.mlp.fc2.weight [24, 90] (expected [24, 96])" in message


def test_keys_without_the_model_prefix_get_a_hint(model, tmp_path):
    path = write_upstream({k[len("model."):]: v for k, v in upstream_keys(model).items()}, tmp_path / "p.ckpt", "ckpt")
    with pytest.raises(TinyMyoError, match="no key starts with 'model.'"):
        load_checkpoint(path, samples=200, heads=2)


def test_sizes_asked_for_that_contradict_the_checkpoint_name_key_and_both_values(model, tmp_path):
    path = write_upstream(upstream_keys(model), tmp_path / "m.safetensors", "safetensors")
    with pytest.raises(TinyMyoError) as err:
        load_checkpoint(path, samples=200, heads=2, expect={"channels": 8, "dim": 192})
    message = str(err.value)
    assert "channels: model.model_head.classifier.weight [3, 96]" in message and "gives 4, but 8 was asked" in message
    assert "dim: model.patch_embedding.patch_embed.proj.weight [24, 1, 1, 20] gives 24, but 192 was asked" in message


def test_sizes_asked_for_that_agree_are_accepted(model, tiny_config, tmp_path):
    path = write_upstream(upstream_keys(model), tmp_path / "m.ckpt", "ckpt")
    loaded = load_checkpoint(path, samples=200, heads=2, expect={"channels": 4, "dim": 24, "classes": 3})
    assert loaded.cfg == tiny_config


@pytest.mark.parametrize("suffix", [".ckpt", ".safetensors"])
def test_save_then_load_round_trips_exactly(model, tmp_path, suffix):
    path = save_checkpoint(model, tmp_path / f"m{suffix}")
    loaded = load_checkpoint(path)  # samples/heads come back from the file's metadata
    assert loaded.cfg == model.cfg
    assert same_weights(loaded, model)
    state, meta = read_checkpoint(path)
    assert set(state) == {f"model.{k}" for k in model.state_dict()}
    assert TinyMyoConfig.from_dict(meta) == model.cfg


def test_safetensors_metadata_holds_the_config_json(model, tmp_path):
    from safetensors import safe_open

    path = save_checkpoint(model, tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as f:
        assert json.loads(f.metadata()["tinymyo_edge.config"]) == model.cfg.to_dict()


def test_save_refuses_to_overwrite_without_force(model, tmp_path):
    path = save_checkpoint(model, tmp_path / "m.ckpt")
    before = path.read_bytes()
    with pytest.raises(TinyMyoError, match="already exists"):
        save_checkpoint(TinyMyo(model.cfg), path)
    assert path.read_bytes() == before
    save_checkpoint(TinyMyo(model.cfg), path, force=True)
    assert path.read_bytes() != before


def test_lightning_checkpoint_with_python_objects_loads_without_running_them(model, tmp_path):
    """Lightning pickles hyper-parameter objects; they are stubbed, never imported or executed."""
    path = tmp_path / "lightning.ckpt"
    torch.save({"state_dict": upstream_keys(model), "hyper_parameters": _HyperParams(), "loops": [_HyperParams()]}, path)
    assert same_weights(load_checkpoint(path, samples=200, heads=2), model)


class _HyperParams:
    def __init__(self):
        self.lr, self.callback = 1e-4, print


def test_a_pickle_that_would_run_code_is_refused(model, tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": upstream_keys(model), "x": _RunsCode()}, path)
    with pytest.raises(TinyMyoError, match="evil.ckpt: not a readable PyTorch checkpoint"):
        load_checkpoint(path, samples=200, heads=2)


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("true",))


@pytest.mark.parametrize(
    "name,content,message",
    [("junk.ckpt", b"hello, not a checkpoint", "not a PyTorch checkpoint"),
     ("zip.ckpt", b"PK\x03\x04broken", "not a readable PyTorch checkpoint"),
     ("junk.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}", "not a readable .safetensors"),
     ("weights.bin", b"", "unknown checkpoint suffix")],
)
def test_corrupt_or_foreign_files_are_named(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(TinyMyoError, match=message) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)


def test_missing_file_and_non_checkpoint_dicts(tmp_path):
    with pytest.raises(TinyMyoError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "absent.ckpt")
    path = tmp_path / "opt.ckpt"
    torch.save({"optimizer_states": [1, 2]}, path)
    with pytest.raises(TinyMyoError, match="no 'state_dict' entry"):
        load_checkpoint(path)
