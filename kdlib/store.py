"""Files that training leaves behind: atomic writes, checkpoints loaded safely, settings digests.

Every write goes to a temporary file in the same folder, then ``os.replace``, so
an interrupted run never leaves a half-written file in place of a good one. The
temporary file is created with mode 0666 minus the umask, as ``open`` would.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def project_root() -> Path:
    """The source checkout holding kdlib (editable install), else the current folder."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable or does not fit the model it is loaded into."""


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Create ``path`` whole or not at all: ``write(tmp)`` fills a temporary file that then replaces it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # honours the umask
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON, atomically."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` (tensors, numbers, strings, nested dicts/lists) atomically. The same state gives the same
    bytes (saved through a buffer: ``torch.save`` to a path names its archive after the temporary file)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(Path(path), lambda tmp: tmp.write_bytes(buffer.getvalue()))


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


def apply_weights(model: torch.nn.Module, state: dict[str, Any], path: Path) -> None:
    """Load ``state["model"]`` into ``model``; a mismatch names the differing tensors."""
    if "model" not in state:
        raise CheckpointError(f"checkpoint {path} has no 'model' entry (keys: {sorted(state)}).")
    expected, found = model.state_dict(), state["model"]
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
    """``module`` with the weights of ``name`` from a training checkpoint (``kdlib.train.fit``), in evaluation mode."""
    state = load_checkpoint(path, hint)
    modules = state.get("modules", {})
    if name not in modules:
        raise CheckpointError(f"checkpoint {path} has no module {name!r} (it has {sorted(modules)}). {hint}".strip())
    apply_weights(module, {"model": modules[name]}, Path(path))
    return module.eval()


def settings_digest(settings: dict[str, Any]) -> str:
    """A short, stable name for a set of training settings."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
