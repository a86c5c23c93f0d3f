"""Training loops: progress bar, per-epoch history, and a stop on NaN or inf."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdlib.batches import Batches
from kdlib.progress import progress
from kdlib.runs import CheckpointError, apply_weights, load_trained_with, save_checkpoint


class DivergedError(RuntimeError):
    """A loss became NaN or infinite."""


def check_finite(loss: torch.Tensor | float, epoch: int, step: int) -> float:
    """The loss as a float, or ``DivergedError`` naming the epoch and step."""
    value = loss.detach().item() if isinstance(loss, torch.Tensor) else float(loss)
    if not math.isfinite(value):
        raise DivergedError(f"loss became {value} at epoch {epoch}, step {step}: lower the learning "
                            f"rate or check the inputs; the last checkpoint (if any) is kept.")
    return value


def fit_classifier(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], epochs: int,
                   loss_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
                   learning_rate: float, description: str = "training") -> dict[str, Any]:
    """Train ``model`` with Adam; ``loss_fn(logits, images, targets)`` gives each batch's loss.

    Returns the history: mean training loss per epoch and wall time in seconds.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    history: dict[str, Any] = {"loss": [], "seconds": 0.0}
    start = time.perf_counter()
    model.train()
    for epoch in progress(range(epochs), desc=description, unit="epoch"):
        total, count = 0.0, 0
        for step, (images, targets) in enumerate(batches):
            loss = loss_fn(model(images), images, targets)
            total += check_finite(loss, epoch, step) * len(images)
            count += len(images)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        schedule.step()
        history["loss"].append(total / count)
    history["seconds"] = round(time.perf_counter() - start, 2)
    model.eval()
    return history


def fit_epochs(modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
               step: Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor | float]],
               batches: Batches, epochs: int, checkpoint: Path, settings: dict[str, Any],
               on_epoch_end: Callable[[int], None] | None = None, description: str = "training") -> dict[str, Any]:
    """Train epoch by epoch with a checkpoint after each, resuming an unfinished run.

    ``step(images, targets)`` makes one optimisation step (of any number of
    optimisers, e.g. a GAN's two) and returns its losses. After every epoch the
    mean losses go into the history, ``on_epoch_end(epoch)`` runs (e.g. to render a
    fixed latent batch), and the modules, optimisers, history and random state are
    written atomically to ``checkpoint``. Started again, the loop continues after
    the last finished epoch and ends with the same weights, bit for bit, as an
    uninterrupted run on the same machine and thread count; a finished checkpoint
    is simply loaded. A NaN or infinite loss stops it with ``DivergedError``,
    leaving the last good checkpoint in place.
    """
    history: dict[str, Any] = {"epochs": [], "seconds": 0.0}
    first_epoch = 0
    if checkpoint.is_file():
        state = load_trained_with(checkpoint, settings)
        if state["epoch"] > epochs:
            raise CheckpointError(f"{checkpoint} holds {state['epoch']} epochs, more than the {epochs} asked for.")
        for name, module in modules.items():
            apply_weights(module, {"model": state["modules"][name]}, checkpoint)
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        torch.set_rng_state(state["rng"])
        first_epoch, history = state["epoch"], state["history"]
    for epoch in progress(range(first_epoch, epochs), desc=description, unit="epoch",
                          initial=first_epoch, total=epochs):
        start, totals, count = time.perf_counter(), {}, 0
        for module in modules.values():
            module.train()
        for index, (images, targets) in enumerate(batches.epoch(epoch)):
            for name, loss in step(images, targets).items():
                totals[name] = totals.get(name, 0.0) + check_finite(loss, epoch, index) * len(images)
            count += len(images)
        history["epochs"].append({name: total / count for name, total in totals.items()})
        history["seconds"] = round(history["seconds"] + time.perf_counter() - start, 2)
        if on_epoch_end is not None:
            on_epoch_end(epoch)
        save_checkpoint(checkpoint, {
            "modules": {name: m.state_dict() for name, m in modules.items()},
            "optimizers": {name: o.state_dict() for name, o in optimizers.items()},
            "rng": torch.get_rng_state(), "epoch": epoch + 1, "history": history, "settings": settings})
    for module in modules.values():
        module.eval()
    return history


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Logits for float images (already scaled), in evaluation mode, in batches."""
    model.eval()
    return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
