"""Checkpoints and files: atomic writes that honour the umask, clear errors."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from kdlib.store import CheckpointError, load_checkpoint, save_checkpoint
from kdlib.store import apply_weights, atomic_write, file_sha256, write_json


def test_checkpoint_round_trip(tmp_path):
    model = torch.nn.Linear(3, 2)
    save_checkpoint(tmp_path / "m.pt", {"model": model.state_dict(), "epoch": 4})
    other = torch.nn.Linear(3, 2)
    state = load_checkpoint(tmp_path / "m.pt")
    apply_weights(other, state, tmp_path / "m.pt")
    assert state["epoch"] == 4 and torch.equal(other.weight, model.weight)


def test_the_same_state_saves_to_the_same_bytes_under_any_name(tmp_path):
    state = {"model": torch.nn.Linear(3, 2).state_dict(), "epoch": 4}
    save_checkpoint(tmp_path / "a.pt", state)
    save_checkpoint(tmp_path / "b.pt", state)  # torch.save to a path would name its archive "a" and "b"
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_failed_write_keeps_previous_file(tmp_path):
    target = tmp_path / "m.pt"
    save_checkpoint(target, {"step": 1})

    def broken(tmp):
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, broken)
    assert load_checkpoint(target) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_are_readable_as_the_umask_says(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        save_checkpoint(tmp_path / "m.pt", {"step": 1})
        write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    for name in ("m.pt", "r.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode


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
        apply_weights(torch.nn.Linear(3, 4), load_checkpoint(tmp_path / "m.pt"), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="missing 0.weight"):
        apply_weights(torch.nn.Sequential(torch.nn.Linear(3, 2)), load_checkpoint(tmp_path / "m.pt"), tmp_path / "m.pt")


def test_file_sha256_against_a_known_digest(tmp_path):
    (tmp_path / "abc").write_bytes(b"abc")
    assert file_sha256(tmp_path / "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
