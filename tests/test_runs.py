"""Run folders and checkpoints: atomic writes, clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from kdlib import CheckpointError, RunDir, load_checkpoint, load_weights, save_checkpoint
from kdlib.runs import _atomic_write


def test_checkpoint_round_trip(tmp_path):
    model = torch.nn.Linear(3, 2)
    save_checkpoint(tmp_path / "m.pt", {"model": model.state_dict(), "epoch": 4})
    other = torch.nn.Linear(3, 2)
    state = load_weights(other, tmp_path / "m.pt")
    assert state["epoch"] == 4 and torch.equal(other.weight, model.weight)


def test_failed_write_keeps_previous_file(tmp_path):
    target = tmp_path / "m.pt"
    save_checkpoint(target, {"step": 1})

    def broken(tmp):
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _atomic_write(target, broken)
    assert load_checkpoint(target) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left


def test_truncated_checkpoint_raises_clear_error(tmp_path):
    target = tmp_path / "m.pt"
    save_checkpoint(target, {"model": torch.nn.Linear(30, 20).state_dict()})
    target.write_bytes(target.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(target)


def test_missing_checkpoint_names_hint(tmp_path):
    with pytest.raises(FileNotFoundError, match="run notebook 01"):
        load_checkpoint(tmp_path / "none.pt", hint="run notebook 01")


def test_mismatched_architecture_names_tensors(tmp_path):
    save_checkpoint(tmp_path / "m.pt", {"model": torch.nn.Linear(3, 2).state_dict()})
    with pytest.raises(CheckpointError, match=r"weight: shape \[2, 3\] in file, \[4, 3\] in model"):
        load_weights(torch.nn.Linear(3, 4), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="missing 0.weight"):
        load_weights(torch.nn.Sequential(torch.nn.Linear(3, 2)), tmp_path / "m.pt")


def test_run_dir_metrics_and_missing_inputs(tmp_path):
    run = RunDir(tmp_path / "run")
    path = run.write_metrics("00_overview", {"b": 2, "a": 1})
    assert json.loads(path.read_text()) == {"a": 1, "b": 2}
    assert run.read_metrics("00_overview") == {"a": 1, "b": 2}
    with pytest.raises(FileNotFoundError, match=r"run notebooks/02_gan_teacher.ipynb"):
        run.read_metrics("02_gan_teacher")
