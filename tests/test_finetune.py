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


# ---------------------------------------------------------------- --max-minutes and --device (issue 14 item 3)

BUDGET_DATA = dict(n=64, seed=1)


def test_a_tiny_budget_stops_after_one_step_and_keeps_a_validated_checkpoint(tmp_path):
    recipe = Recipe(epochs=50, batch_size=8, warmup_epochs=0.5, threads=1, max_minutes=1e-6)
    result = finetune(_synthetic(**BUDGET_DATA), tmp_path / "m.safetensors", sizes=TINY, recipe=recipe,
                      echo=lambda s: None, progress=False)
    assert result.stop_reason == "budget" and not result.stopped_early
    assert len(result.history) == 1 and result.history[0].steps == 1  # one step of a 6-step epoch, then stop
    assert result.best_epoch == 1 and "accuracy" in result.val
    log = json.loads(log_path_for(result.checkpoint).read_text())
    assert log["stop_reason"] == "budget" and log["recipe"]["max_minutes"] == 1e-6 and log["device"] == "cpu"
    x = _synthetic(8, seed=3).x
    assert np.array_equal(predict(load_checkpoint(result.checkpoint), x), predict(result.model, x))


def test_a_budget_that_is_not_reached_changes_nothing(tmp_path):
    data = _synthetic(**BUDGET_DATA)
    plain = finetune(data, tmp_path / "a.safetensors", sizes=TINY, recipe=QUICK, echo=lambda s: None, progress=False)
    budget = finetune(data, tmp_path / "b.safetensors", sizes=TINY, recipe=Recipe(**{**QUICK.to_dict(), "max_minutes": 60}),
                      echo=lambda s: None, progress=False)
    assert plain.stop_reason == budget.stop_reason == "completed"
    train_idx, _ = validation_split(data.y, None, 0.2, QUICK.seed, len(data.y))
    assert [r.steps for r in budget.history] == [-(-len(train_idx) // QUICK.batch_size)] * 2  # every epoch whole
    a, b = plain.model.state_dict(), budget.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_budget_must_be_positive():
    with pytest.raises(TinyMyoError, match="max_minutes must be > 0"):
        Recipe(max_minutes=0)


def _cli_args(tmp_path, *extra):
    d = _synthetic(48, seed=0)
    data = _save(tmp_path / "train.npz", d.x, d.y)
    return ["finetune", "--data", str(data), "--dim", "24", "--depth", "1", "--heads", "2", "--epochs", "2",
            "--batch-size", "16", "--threads", "1", "--no-progress", "-o", str(tmp_path / "m.safetensors"), *extra]


def test_cli_device_cpu_trains_and_records_the_device(tmp_path, capsys):
    main(_cli_args(tmp_path, "--device", "cpu"))
    assert "trained on cpu)" in capsys.readouterr().out
    assert json.loads(log_path_for(tmp_path / "m.safetensors").read_text())["device"] == "cpu"


def test_cli_max_minutes_says_the_budget_ended_training(tmp_path, capsys):
    main(_cli_args(tmp_path, "--device", "cpu", "--max-minutes", "1e-7"))
    out = capsys.readouterr().out
    assert "budget: --max-minutes 1e-07 ran out" in out and "the --max-minutes budget ended training" in out


def test_cli_device_cuda_without_cuda_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same on a machine that has one
    with pytest.raises(SystemExit) as exc:
        main(_cli_args(tmp_path, "--device", "cuda"))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "error: --device cuda" in err and "sees no CUDA device" in err
    assert not (tmp_path / "m.safetensors").exists()


def test_device_auto_is_cuda_exactly_when_torch_sees_one(monkeypatch):
    from tinymyo_edge.train.loop import resolve_device

    for available, want in ((False, "cpu"), (True, "cuda")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
        assert resolve_device("auto").type == want
    with pytest.raises(TinyMyoError, match="--device must be one of"):
        resolve_device("tpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)")
def test_cuda_training_is_reproducible_and_writes_a_cpu_checkpoint(tmp_path):
    data = _synthetic(**BUDGET_DATA)
    runs = [finetune(data, tmp_path / f"{i}.safetensors", sizes=TINY, recipe=QUICK, echo=lambda s: None,
                     progress=False, device="cuda") for i in range(2)]
    assert runs[0].device.startswith("cuda")
    a, b = (r.model.state_dict() for r in runs)
    assert all(v.device.type == "cpu" and torch.equal(v, b[k]) for k, v in a.items())
