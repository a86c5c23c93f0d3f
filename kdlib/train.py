"""Training loops: progress bar, per-epoch history, and a stop on NaN or inf."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from kdlib.progress import progress


class DivergedError(RuntimeError):
    """A loss became NaN or infinite."""


def check_finite(loss: torch.Tensor, epoch: int, step: int) -> float:
    """The loss as a float, or ``DivergedError`` naming the epoch and step."""
    value = loss.detach().item()
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


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Logits for float images (already scaled), in evaluation mode, in batches."""
    model.eval()
    return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
