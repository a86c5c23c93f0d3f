"""The run folder: where a notebook writes checkpoints, metrics and figures for the next.

Every write is atomic (a temporary file in the same folder, then ``os.replace``),
so an interrupted run never leaves a half-written checkpoint in place of a good one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch


def project_root() -> Path:
    """The source checkout holding kdlib (editable install), else the current folder."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable or does not fit the model it is loaded into."""


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, numbers, strings, nested dicts/lists) atomically."""
    _atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | Path, hint: str = "") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; clear errors when missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist. {hint}".strip())
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises several types for a damaged file
        raise CheckpointError(f"checkpoint {path} is unreadable (truncated or corrupt: "
                              f"{type(err).__name__}: {err}). Delete it and run again. {hint}".strip()
                              ) from err


def load_weights(model: torch.nn.Module, path: str | Path, hint: str = "") -> dict[str, Any]:
    """Load ``path``'s ``"model"`` entry into ``model``; a mismatch names the differing tensors."""
    state = load_checkpoint(path, hint)
    apply_weights(model, state, Path(path))
    return state


def apply_weights(model: torch.nn.Module, state: dict[str, Any], path: Path) -> None:
    """Load ``state["model"]`` into ``model``; a mismatch names the differing tensors."""
    if "model" not in state:
        raise CheckpointError(f"checkpoint {path} has no 'model' entry (keys: {sorted(state)}).")
    expected = model.state_dict()
    found = state["model"]
    problems = [f"missing {k}" for k in expected if k not in found]
    problems += [f"unexpected {k}" for k in found if k not in expected]
    problems += [f"{k}: shape {list(found[k].shape)} in file, {list(v.shape)} in model"
                 for k, v in expected.items() if k in found and found[k].shape != v.shape]
    if problems:
        raise CheckpointError(f"checkpoint {path} does not match {type(model).__name__} "
                              f"({'; '.join(problems[:5])}). Delete it to retrain, or build the "
                              f"model with the settings it was trained with.")
    model.load_state_dict(found)


def load_module(module: torch.nn.Module, path: str | Path, name: str, hint: str = "") -> torch.nn.Module:
    """``module`` with the weights of ``name`` from a training checkpoint (``fit_epochs``), in evaluation mode."""
    state = load_checkpoint(path, hint)
    modules = state.get("modules", {})
    if name not in modules:
        raise CheckpointError(f"checkpoint {path} has no module {name!r} (it has {sorted(modules)}). {hint}".strip())
    apply_weights(module, {"model": modules[name]}, Path(path))
    return module.eval()


def settings_digest(settings: dict[str, Any]) -> str:
    """A short, stable name for a set of training settings."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


def load_trained_with(path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's contents, refusing one saved with other ``settings``."""
    state = load_checkpoint(path)
    if state.get("settings") != settings:
        raise CheckpointError(f"{path} was trained with {state.get('settings')}, not {settings}. "
                              f"Delete it to retrain.")
    return state


def load_or_train(path: Path, model: torch.nn.Module, settings: dict[str, Any],
                  train: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Load ``model`` from ``path`` when it exists, else run ``train()`` and save the result.

    ``train`` returns the training history, which is stored beside the weights and
    returned either way, so a re-run shows the same curves without training.
    ``settings`` are stored too and must match on loading: name the file after
    them (``settings_digest``) so that other settings get their own checkpoint.
    """
    if path.is_file():
        state = load_trained_with(path, settings)
        apply_weights(model, state, path)
        return state["history"]
    history = train()
    save_checkpoint(path, {"model": model.state_dict(), "settings": settings, "history": history})
    return history


class RunDir:
    """A run folder: ``checkpoints/``, ``metrics/`` and ``figures/`` under one path."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def file(self, *parts: str) -> Path:
        """A path inside the run folder, its parent folder created."""
        target = self.path.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_metrics(self, notebook: str, metrics: dict[str, Any]) -> Path:
        """Write ``metrics/<notebook>.json`` atomically; return its path."""
        target = self.file("metrics", f"{notebook}.json")
        text = json.dumps(metrics, indent=2, sort_keys=True)
        _atomic_write(target, lambda tmp: tmp.write_text(text + "\n"))
        return target

    def read_metrics(self, notebook: str) -> dict[str, Any]:
        """Metrics an earlier notebook wrote, or an error saying which notebook to run."""
        return json.loads(self.require(("metrics", f"{notebook}.json"), notebook).read_text())

    def require(self, parts: tuple[str, ...], notebook: str) -> Path:
        """A file an earlier notebook must have written; the error names that notebook."""
        target = self.path.joinpath(*parts)
        if not target.is_file():
            raise FileNotFoundError(
                f"{target} is missing: run notebooks/{notebook}.ipynb with run_dir={str(self.path)!r} "
                f"first (or `make run`, which runs the notebooks in order).")
        return target

    def save_figure(self, figure: Any, name: str) -> Path:
        """Save a matplotlib figure as ``figures/<name>.png``."""
        target = self.file("figures", f"{name}.png")
        _atomic_write(target, lambda tmp: figure.savefig(tmp, format="png", dpi=120,
                                                          bbox_inches="tight"))
        return target
