"""Training loops: progress bar, per-epoch history, and a stop on NaN or inf."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from kdlib.batches import Batches
from kdlib.losses import discriminator_loss, generator_loss, vae_losses
from kdlib.models import VAE
from kdlib.progress import progress
from kdlib.runs import CheckpointError, apply_weights, load_trained_with, save_checkpoint


Step = Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]


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


def fit_epochs(modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer], step: Step,
               batches: Batches, epochs: int, checkpoint: Path, settings: dict[str, Any],
               snapshot: Callable[[], torch.Tensor] | None = None, snapshots_per_epoch: int = 1,
               fresh: bool = False, schedulers: dict[str, LRScheduler] | None = None,
               description: str = "training") -> dict[str, Any]:
    """Train epoch by epoch with a checkpoint after each, resuming an unfinished run.

    ``step(images, targets)`` makes one optimisation step (of any number of
    optimisers, e.g. a GAN's two) and returns its losses, which the history keeps
    per step (``history["steps"]``) and as means per epoch (``history["epochs"]``).
    ``snapshot()`` (e.g. a fixed latent batch rendered in [-1, 1]) is stored as
    uint8 images in ``history["snapshots"]`` before training and
    ``snapshots_per_epoch`` times per epoch, its time in epochs in
    ``history["snapshot_epochs"]``. ``schedulers`` (learning-rate schedules) step
    once per step. After every epoch the modules, optimisers, schedulers, history
    and random state are written atomically to ``checkpoint``.

    Started again, the loop continues after the last finished epoch and ends with
    the same weights, bit for bit, as an uninterrupted run on the same machine and
    thread count; a finished checkpoint is simply loaded (``fresh=True`` deletes
    it and trains again). A NaN or infinite loss stops it with ``DivergedError``
    naming the step, leaving the last good checkpoint in place.
    """
    schedulers = schedulers or {}
    history: dict[str, Any] = {"epochs": [], "steps": {}, "seconds": 0.0, "snapshots": [], "snapshot_epochs": []}
    first_epoch = 0
    if fresh:
        checkpoint.unlink(missing_ok=True)
    if checkpoint.is_file():
        state = load_trained_with(checkpoint, settings)
        if state["epoch"] > epochs:
            raise CheckpointError(f"{checkpoint} holds {state['epoch']} epochs, more than the {epochs} asked for.")
        for name, module in modules.items():
            apply_weights(module, {"model": state["modules"][name]}, checkpoint)
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        for name, scheduler in schedulers.items():
            scheduler.load_state_dict(state["schedulers"][name])
        _set_rng_state(state["rng"])
        first_epoch, history = state["epoch"], state["history"]

    def take_snapshot(when: float) -> None:
        if snapshot is not None:
            history["snapshots"].append(_as_uint8(snapshot()))
            history["snapshot_epochs"].append(round(when, 3))

    if first_epoch == 0:
        take_snapshot(0.0)
    steps = len(batches)
    snapshot_steps = {max(0, round((k + 1) * steps / snapshots_per_epoch) - 1) for k in range(snapshots_per_epoch)}
    for epoch in progress(range(first_epoch, epochs), desc=description, unit="epoch",
                          initial=first_epoch, total=epochs):
        start, totals, count = time.perf_counter(), {}, 0
        for module in modules.values():
            module.train()
        for index, (images, targets) in enumerate(batches.epoch(epoch)):
            for name, loss in step(images, targets).items():
                value = check_finite(loss, epoch, index)
                history["steps"].setdefault(name, []).append(value)
                totals[name] = totals.get(name, 0.0) + value * len(images)
            count += len(images)
            for scheduler in schedulers.values():
                scheduler.step()
            if index in snapshot_steps:
                take_snapshot(epoch + (index + 1) / steps)
        history["epochs"].append({name: total / count for name, total in totals.items()})
        history["seconds"] = round(history["seconds"] + time.perf_counter() - start, 2)
        save_checkpoint(checkpoint, {
            "modules": {name: m.state_dict() for name, m in modules.items()},
            "optimizers": {name: o.state_dict() for name, o in optimizers.items()},
            "schedulers": {name: sc.state_dict() for name, sc in schedulers.items()},
            "rng": _rng_state(), "epoch": epoch + 1, "history": history, "settings": settings})
    for module in modules.values():
        module.eval()
    return history


def _rng_state() -> dict[str, Any]:
    """torch's random state on the CPU and on every CUDA device (latents are drawn where training runs)."""
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] as uint8 on the CPU (compact enough to keep one batch per epoch)."""
    return ((images.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


@torch.no_grad()
def render(generator: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """``generator(z)`` in evaluation mode (batch norm uses its running statistics), then back to training mode."""
    was_training = generator.training
    generator.eval()
    images = generator(z)
    generator.train(was_training)
    return images


def gan_step(generator: nn.Module, discriminator: nn.Module, g_optimizer: torch.optim.Optimizer,
             d_optimizer: torch.optim.Optimizer) -> Step:
    """One GAN update per batch of real images: the discriminator on real vs detached fakes, then the generator.

    Both see the same fakes; the generator's loss is the non-saturating one.
    """
    def step(real: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
        fake = generator(torch.randn(len(real), generator.latent_dim, device=real.device))
        real_logits, fake_logits = discriminator(real), discriminator(fake.detach())
        d_loss = discriminator_loss(real_logits, fake_logits)
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optimizer.step()
        g_loss = generator_loss(discriminator(fake))
        g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        g_optimizer.step()
        return {"discriminator": d_loss.detach(), "generator": g_loss.detach(),
                "D(real)": torch.sigmoid(real_logits.detach()).mean(),
                "D(fake)": torch.sigmoid(fake_logits.detach()).mean()}
    return step


def vae_step(vae: VAE, optimizer: torch.optim.Optimizer) -> Step:
    """One step on the negative ELBO (images in [0, 1]), logging its two terms separately."""
    def step(images: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
        logits, mean, log_variance = vae(images)
        reconstruction, kl = vae_losses(logits, images, mean, log_variance)
        loss = reconstruction + kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"negative ELBO": loss.detach(), "reconstruction": reconstruction.detach(), "KL": kl.detach()}
    return step


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Logits for float images (already scaled), in evaluation mode, in batches."""
    model.eval()
    return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
