"""`tinymyo-edge finetune`: learns, keeps the best epoch, reloads exactly, is deterministic, loads pretrained
backbones strictly, and refuses bad inputs with a TinyMyoError."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tinymyo_edge.cli import main
from tinymyo_edge.errors import TinyMyoError
from tinymyo_edge.model import TinyMyo, TinyMyoConfig
from tinymyo_edge.model.checkpoint import load_checkpoint, save_checkpoint
from tinymyo_edge.synthetic import synthetic_emg
from tinymyo_edge.train import Data, Recipe, evaluate, finetune, log_path_for, predict
from tinymyo_edge.train.loop import Split
from tinymyo_edge.train.recipe import learning_rate
from tinymyo_edge.train.split import validation_split

TINY = dict(dim=24, depth=1, heads=2)
QUICK = Recipe(epochs=2, batch_size=16, warmup_epochs=0.5, threads=1)


def _synthetic(n, seed, channels=4, samples=100, classes=3, start=0):
    """Windows start..start+n of one synthetic set (the seed fixes the class patterns)."""
    x, y = synthetic_emg(start + n, channels=channels, samples=samples, classes=classes, seed=seed)
    return Data(x[start:], y[start:], f"synthetic seed {seed}")


TRAIN_RECIPE = Recipe(epochs=8, batch_size=16, warmup_epochs=1, lr=2e-3, threads=1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("ft") / "model.safetensors"
    return finetune(_synthetic(240, seed=0), out, val_fraction=0.25, sizes=TINY, recipe=TRAIN_RECIPE,
                    echo=lambda s: None, progress=False)


def test_learns_separable_data_well_above_chance(trained):
    held_out = _synthetic(150, seed=0, start=240)  # the training set's class patterns, windows not trained on
    accuracy = float((predict(trained.model, held_out.x).argmax(1) == held_out.y).mean())
    chance = np.bincount(held_out.y).max() / len(held_out.y)
    assert accuracy > chance + 0.5 * (1 - chance), (accuracy, chance)


def test_checkpoint_reloads_and_predicts_identically(trained):
    x = _synthetic(20, seed=3).x
    reloaded = load_checkpoint(trained.checkpoint)
    assert reloaded.cfg == trained.model.cfg
    assert np.array_equal(predict(reloaded, x), predict(trained.model, x))


def test_kept_epoch_is_the_best_validation_epoch(trained):
    losses = [r.val["loss"] for r in trained.history]
    assert trained.best_epoch == 1 + int(np.argmin(losses))
    data = _synthetic(240, seed=0)
    _, val_idx = validation_split(data.y, None, 0.25, TRAIN_RECIPE.seed, len(data.y))
    kept = evaluate(trained.model, Split(data.x[val_idx], data.y[val_idx]), TRAIN_RECIPE)
    best = trained.history[trained.best_epoch - 1].val  # the weights written are the best epoch's
    assert kept["loss"] == pytest.approx(best["loss"], rel=1e-5) and kept["accuracy"] == best["accuracy"]
    log = json.loads(log_path_for(trained.checkpoint).read_text())
    assert log["best_epoch"] == trained.best_epoch and len(log["history"]) == len(trained.history)
    assert log["config"] == trained.model.cfg.to_dict()


def test_early_stopping_stops_patience_epochs_after_the_best(tmp_path):
    rng = np.random.default_rng(0)
    data = Data(rng.standard_normal((96, 2, 40)).astype(np.float32), rng.integers(0, 2, 96), "noise")
    recipe = Recipe(epochs=30, batch_size=16, warmup_epochs=0, lr=3e-3, patience=2, threads=1)
    result = finetune(data, tmp_path / "m.safetensors", sizes=TINY, recipe=recipe, echo=lambda s: None, progress=False)
    assert result.stopped_early  # random labels: validation cannot keep improving for 30 epochs
    assert len(result.history) == result.best_epoch + recipe.patience


def test_same_seed_same_weights(tmp_path):
    data = _synthetic(64, seed=1)
    runs = [finetune(data, tmp_path / f"{i}.safetensors", sizes=TINY, recipe=QUICK, echo=lambda s: None,
                     progress=False) for i in range(2)]
    a, b = (r.model.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = finetune(data, tmp_path / "o.safetensors", sizes=TINY, recipe=Recipe(**{**QUICK.to_dict(), "seed": 1}),
                     echo=lambda s: None, progress=False)
    assert not torch.equal(other.model.state_dict()["model_head.classifier.weight"], a["model_head.classifier.weight"])


def test_warmup_then_cosine_schedule():
    recipe = Recipe(epochs=10, warmup_epochs=2, lr=1e-3, warmup_lr=1e-5, min_lr=1e-6)
    lrs = [learning_rate(recipe, s, 5) for s in range(50)]
    assert lrs[0] == recipe.warmup_lr and max(lrs) == pytest.approx(recipe.lr)
    assert all(b > a for a, b in zip(lrs[:10], lrs[1:10])) and all(b < a for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[-1] > recipe.min_lr and learning_rate(recipe, 50, 5) == pytest.approx(recipe.min_lr)


def test_validation_split_is_stratified_and_keeps_groups_whole():
    labels = np.repeat(np.arange(3), 40)
    groups = np.repeat(np.arange(12), 10)  # 4 segments per class
    tr, va = validation_split(labels, groups, 0.25, seed=0, n=len(labels))
    assert np.bincount(labels[va]).tolist() == [10, 10, 10]
    assert not set(groups[tr]) & set(groups[va]) and len(tr) + len(va) == len(labels)


def _pretrained(tmp_path, classes=3, channels=4, head="classification"):
    torch.manual_seed(5)
    model = TinyMyo(TinyMyoConfig(channels=channels, samples=100, classes=classes, head=head, **TINY))
    path = tmp_path / "pre.safetensors"
    save_checkpoint(model, path)
    return model, path


FROZEN = Recipe(epochs=1, lr=0.0, warmup_lr=0.0, min_lr=0.0, warmup_epochs=0, threads=1)


@pytest.mark.parametrize("head", ["classification", "reconstruction"])
def test_pretrained_backbone_loads_and_a_mismatched_head_is_reinitialised(tmp_path, head):
    pre, path = _pretrained(tmp_path, classes=3, head=head)
    notes = []
    result = finetune(_synthetic(40, seed=2, classes=5), tmp_path / "m.safetensors", checkpoint=path,
                      recipe=FROZEN, echo=notes.append, progress=False, val_fraction=0)
    mine, theirs = result.model.state_dict(), pre.state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs if not k.startswith("model_head."))
    assert mine["model_head.classifier.weight"].shape == (5, 4 * 24)
    assert any("re-initialised" in n for n in notes)


def test_pretrained_head_is_kept_when_it_fits(tmp_path):
    pre, path = _pretrained(tmp_path, classes=3)
    result = finetune(_synthetic(40, seed=2, classes=3), tmp_path / "m.safetensors", checkpoint=path,
                      recipe=FROZEN, echo=lambda s: None, progress=False, val_fraction=0)
    assert all(torch.equal(v, pre.state_dict()[k]) for k, v in result.model.state_dict().items())


def test_pretrained_sizes_that_contradict_the_user_are_refused(tmp_path):
    _, path = _pretrained(tmp_path)
    with pytest.raises(TinyMyoError, match="dim"):
        finetune(_synthetic(40, seed=2), tmp_path / "m.safetensors", checkpoint=path, sizes={"dim": 48},
                 recipe=FROZEN, echo=lambda s: None, progress=False)
    assert not (tmp_path / "m.safetensors").exists()


def test_regression_head_trains_and_reloads(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 2, 40)).astype(np.float32)
    y = np.repeat(x[:, :, ::8].mean(axis=1, keepdims=True), 2, axis=1).transpose(0, 2, 1).astype(np.float32)  # (N, 5, 2)
    result = finetune(Data(x, y, "reg"), tmp_path / "r.safetensors", head="regression", sizes=TINY, recipe=QUICK,
                      echo=lambda s: None, progress=False)
    assert result.model.cfg.reg_target_len == 5 and result.model.cfg.classes == 2 and "mae" in result.val
    reloaded = load_checkpoint(result.checkpoint)
    assert np.array_equal(predict(reloaded, x), predict(result.model, x))


@pytest.mark.parametrize(
    "make,match",
    [(lambda d: Data(d.x, None, "nolabels.npz"), "no labels"),
     (lambda d: Data(d.x, d.y + 10, "big.npz"), "outside 0..2"),
     (lambda d: Data(d.x[:, :, :90], d.y, "short.npz"), "samples"),
     (lambda d: Data(d.x, np.zeros_like(d.y), "oneclass.npz"), ">= 2 classes")],
)
def test_bad_training_data_is_refused(tmp_path, make, match):
    data = make(_synthetic(30, seed=0))
    sizes = {"classes": 3, "samples": 100} if "big" in data.name or "short" in data.name else {}
    with pytest.raises(TinyMyoError, match=match):
        finetune(data, tmp_path / "m.safetensors", sizes=sizes, recipe=QUICK, echo=lambda s: None, progress=False)
    assert not (tmp_path / "m.safetensors").exists()


def test_validation_data_must_match_the_training_windows(tmp_path):
    val = _synthetic(20, seed=1, channels=3)
    with pytest.raises(TinyMyoError, match="3 channels, the model has 4"):
        finetune(_synthetic(30, seed=0), tmp_path / "m.safetensors", val_data=val, sizes=TINY, recipe=QUICK,
                 echo=lambda s: None, progress=False)


def _save(path, x, y=None, **extra):
    np.savez(path, x=x, **({} if y is None else {"y": y}), **extra)
    return path


def test_cli_trains_writes_checkpoint_and_log_and_refuses_overwrite(tmp_path, capsys):
    d = _synthetic(48, seed=0)
    data = _save(tmp_path / "train.npz", d.x, d.y, group=np.arange(48) // 4)
    out = tmp_path / "m.safetensors"
    args = ["finetune", "--data", str(data), "--dim", "24", "--depth", "1", "--heads", "2", "--epochs", "1",
            "--batch-size", "16", "--threads", "1", "--no-progress", "-o", str(out)]
    main(args)
    printed = capsys.readouterr().out
    assert "epoch   1/1" in printed and "val acc" in printed and "stratified by segment" in printed
    assert load_checkpoint(out).cfg.classes == 3 and log_path_for(out).is_file()
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2 and "--force" in capsys.readouterr().err


def test_cli_reports_missing_labels(tmp_path, capsys):
    data = _save(tmp_path / "x.npz", _synthetic(8, seed=0).x)
    with pytest.raises(SystemExit) as exc:
        main(["finetune", "--data", str(data), "-o", str(tmp_path / "m.safetensors")])
    assert exc.value.code == 2 and "no labels" in capsys.readouterr().err


def test_finetunes_on_real_3dc_windows(shared_dir, tmp_path):
    from tinymyo_edge.data import WindowParams, make_windows

    params = WindowParams(window=200, hop=200, fs_out=200, normalisation="recording", split="train")
    ws = make_windows(shared_dir / "data" / "3dc" / "participant05.npz", "3dc", params)
    result = finetune(Data(ws.x, ws.y, "p5", ws.groups), tmp_path / "m.safetensors", sizes=TINY, recipe=QUICK,
                      echo=lambda s: None, progress=False)
    assert result.model.cfg.channels == 10 and result.model.cfg.classes == 11
    assert all(np.isfinite(r.train_loss) for r in result.history) and 0 <= result.val["accuracy"] <= 1
