"""Training: one load-or-train loop for every model, with per-epoch checkpoints and a stop on NaN or inf.

Every model is trained the same way: its settings name its checkpoint; ``fit`` loads
a finished run, resumes an unfinished one, or trains from the start, writing the
checkpoint atomically after every epoch.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from kdlib.losses import discriminator_loss, generator_loss, vae_losses
from kdlib.models import VAE
from kdlib.progress import progress
from kdlib.store import CheckpointError, apply_weights, load_checkpoint, save_checkpoint, settings_digest

Step = Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]


class EpochBatches(Protocol):  # replays epoch e's batches exactly: kdlib.Batches, kdlib.distill.LatentBatches
    def __len__(self) -> int: ...
    def epoch(self, index: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


class DivergedError(RuntimeError):
    """A loss became NaN or infinite, or blew up while staying finite (``check_blowup``)."""


BLOWUP = 1000.0  # an epoch mean this many times its lowest earlier one (or than 1, if that was lower) is a blow-up


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, so a run repeats exactly on the same machine and threads."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def check_finite(loss: torch.Tensor | float, epoch: int, step: int) -> float:
    """The loss as a float, or ``DivergedError`` naming the epoch and step."""
    value = loss.detach().item() if isinstance(loss, torch.Tensor) else float(loss)
    if not math.isfinite(value):
        raise DivergedError(f"loss became {value} at epoch {epoch}, step {step}: lower the learning "
                            f"rate or check the inputs; the last checkpoint (if any) is kept.")
    return value


def check_blowup(epochs: list[dict[str, float]], epoch: int) -> None:
    """``DivergedError`` if the last epoch's mean of any loss is more than ``BLOWUP`` times its lowest earlier
    epoch mean, in size (or than ``BLOWUP``, if that mean was below 1).

    A rate on the edge can throw the weights so far that a loss grows by millions yet stays finite: a scratch
    VAE's loss once rose from 222 to 8 x 10^9 in its last epoch, and ``check_finite`` let it through. The floor of
    1 keeps bounded values (a discriminator's probabilities, a loss that starts near 0) from ever triggering. No
    loss of the healthy runs checked rose more than 7-fold from its lowest epoch (``bench/loss_rises.py``)."""
    *earlier, last = epochs
    for loss_name, value in last.items():
        lowest = min((abs(means[loss_name]) for means in earlier if loss_name in means), default=None)
        if lowest is not None and abs(value) > BLOWUP * max(lowest, 1.0):
            raise DivergedError(f"loss {loss_name!r} rose to {value:.3g} at epoch {epoch}, more than "
                                f"{BLOWUP:,.0f} times its lowest earlier epoch mean ({lowest:.3g}): lower the "
                                f"learning rate or check the inputs; the last checkpoint (if any) is kept.")


def update(optimizer: torch.optim.Optimizer, loss: torch.Tensor, max_norm: float | None = None) -> torch.Tensor:
    """One optimiser step on ``loss`` (zero the gradients, back-propagate, step); the loss, detached.

    With ``max_norm``, a gradient longer than that (all the optimiser's parameters as one vector) is first scaled
    down to it (``torch.nn.utils.clip_grad_norm_``): a rare spike then moves the weights no further than an
    ordinary step. A shorter gradient is multiplied by exactly 1, so a run that never reaches the norm is
    the same, bit for bit, as a run without it."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], max_norm)
    optimizer.step()
    return loss.detach()


@dataclass
class Training:
    """What a training run updates and how. ``step(inputs, targets)`` makes one optimisation step (of any
    number of optimisers) and returns its losses; ``schedulers`` step after every step, ``epoch_schedulers``
    after every epoch."""

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    step: Step
    batches: EpochBatches
    schedulers: dict[str, LRScheduler] = field(default_factory=dict)
    epoch_schedulers: dict[str, LRScheduler] = field(default_factory=dict)


@dataclass(frozen=True)
class Trained:
    """A finished training run: its history, the checkpoint that holds it, the settings that named it."""

    history: dict[str, Any]
    checkpoint: Path
    settings: dict[str, Any]


def checkpoint_path(folder: Path, name: str, settings: dict[str, Any]) -> Path:
    """Where the run of ``name`` with ``settings`` keeps its checkpoint: other settings, another file."""
    return Path(folder) / f"{name}_{settings_digest(settings)}.pt"


def fit(training: Training, epochs: int, checkpoints: Path, name: str, settings: dict[str, Any],
        snapshot: Callable[[], torch.Tensor] | None = None, snapshots_per_epoch: int = 1,
        fresh: bool = False, description: str | None = None) -> Trained:
    """Train ``epochs`` epochs, or load / resume the run that ``settings`` name in the folder ``checkpoints``.

    The history keeps every step's losses (``"steps"``), their means per epoch
    (``"epochs"``), the training time and ``snapshot()`` (e.g. fixed latents rendered
    in [-1, 1]) as uint8 images before training and ``snapshots_per_epoch`` times per
    epoch. A resumed run ends with the same weights, bit for bit, as an uninterrupted
    one on the same machine and thread count. ``fresh=True`` trains again from the
    start into ``NAME.retrain.pt`` beside the checkpoint, which it replaces only once
    finished: an interrupted retrain keeps the old run. A NaN or infinite loss, or an epoch whose mean loss blew up
    (``check_blowup``), raises ``DivergedError``, the last good checkpoint kept; a run of zero steps is refused before anything is written.
    """
    steps = len(training.batches)
    if epochs < 1 or steps < 1:
        raise ValueError(f"{name}: {epochs} epoch(s) of {steps} step(s) would train nothing: "
                         f"give at least one epoch and more training images than one batch")
    checkpoint = checkpoint_path(checkpoints, name, settings)
    history: dict[str, Any] = {"epochs": [], "steps": {}, "seconds": 0.0, "snapshots": [], "snapshot_epochs": []}
    first_epoch = 0
    target = checkpoint.with_name(f"{checkpoint.stem}.retrain.pt") if fresh else checkpoint
    if fresh:
        target.unlink(missing_ok=True)  # an earlier retrain that was interrupted: this one starts over
    elif checkpoint.is_file():
        first_epoch, history = _resume(training, checkpoint, settings, epochs)

    def take_snapshot(when: float) -> None:
        if snapshot is not None:
            history["snapshots"].append(_as_uint8(snapshot()))
            history["snapshot_epochs"].append(round(when, 3))

    if first_epoch == 0:
        take_snapshot(0.0)
    snapshot_steps = {max(0, round((k + 1) * steps / snapshots_per_epoch) - 1) for k in range(snapshots_per_epoch)}
    for epoch in progress(range(first_epoch, epochs), desc=description or name, unit="epoch",
                          initial=first_epoch, total=epochs):
        start, totals, count = time.perf_counter(), {}, 0
        for module in training.modules.values():
            module.train()
        for index, (inputs, targets) in enumerate(training.batches.epoch(epoch)):
            for loss_name, loss in training.step(inputs, targets).items():
                value = check_finite(loss, epoch, index)
                history["steps"].setdefault(loss_name, []).append(value)
                totals[loss_name] = totals.get(loss_name, 0.0) + value * len(inputs)
            count += len(inputs)
            for scheduler in training.schedulers.values():
                scheduler.step()
            if index in snapshot_steps:
                take_snapshot(epoch + (index + 1) / steps)
        for scheduler in training.epoch_schedulers.values():
            scheduler.step()
        history["epochs"].append({loss_name: total / count for loss_name, total in totals.items()})
        check_blowup(history["epochs"], epoch)  # before the save: a blown-up epoch is never kept
        history["seconds"] = round(history["seconds"] + time.perf_counter() - start, 2)
        save_checkpoint(target, {
            "modules": {key: m.state_dict() for key, m in training.modules.items()},
            "optimizers": {key: o.state_dict() for key, o in training.optimizers.items()},
            "schedulers": {key: s.state_dict() for key, s in _schedulers(training).items()},
            "rng": _rng_state(), "epoch": epoch + 1, "history": history, "settings": settings})
    if fresh:
        target.replace(checkpoint)
    for module in training.modules.values():
        module.eval()
    return Trained(history, checkpoint, settings)


def _schedulers(training: Training) -> dict[str, LRScheduler]:
    return {**training.schedulers, **{f"epoch:{k}": s for k, s in training.epoch_schedulers.items()}}


def _resume(training: Training, checkpoint: Path, settings: dict[str, Any], epochs: int) -> tuple[int, dict]:
    """Load a checkpoint's state into ``training``; return its epoch count and history."""
    state = load_checkpoint(checkpoint)
    if state.get("settings") != settings:
        raise CheckpointError(f"{checkpoint} was trained with {state.get('settings')}, not {settings}. "
                              f"Delete it to retrain.")
    if state["epoch"] > epochs:
        raise CheckpointError(f"{checkpoint} holds {state['epoch']} epochs, more than the {epochs} asked for.")
    for key, module in training.modules.items():
        apply_weights(module, {"model": state["modules"][key]}, checkpoint)
    for key, optimizer in training.optimizers.items():
        optimizer.load_state_dict(state["optimizers"][key])
    for key, scheduler in _schedulers(training).items():
        scheduler.load_state_dict(state["schedulers"][key])
    torch.set_rng_state(state["rng"]["cpu"])
    if state["rng"]["cuda"]:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return state["epoch"], state["history"]


def _rng_state() -> dict[str, Any]:
    """torch's random state on the CPU and on every CUDA device (latents are drawn where training runs)."""
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


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


def classifier_training(model: nn.Module, batches: EpochBatches, epochs: int, learning_rate: float,
                        loss_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> Training:
    """Adam on ``loss_fn(logits, inputs, targets)``, the learning rate cosine-annealed to 0 epoch by epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)

    def step(inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": update(optimizer, loss_fn(model(inputs), inputs, targets))}
    return Training({"model": model}, {"model": optimizer}, step, batches, epoch_schedulers={"model": schedule})


def gan_step(generator: nn.Module, discriminator: nn.Module, g_optimizer: torch.optim.Optimizer,
             d_optimizer: torch.optim.Optimizer) -> Step:
    """One GAN update per batch of real images: the discriminator on real vs detached fakes, then the generator.

    Both see the same fakes; the generator's loss is the non-saturating one.
    """
    def step(real: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
        fake = generator(torch.randn(len(real), generator.latent_dim, device=real.device))
        real_logits, fake_logits = discriminator(real), discriminator(fake.detach())
        d_loss = update(d_optimizer, discriminator_loss(real_logits, fake_logits))
        g_loss = update(g_optimizer, generator_loss(discriminator(fake)))
        return {"discriminator": d_loss, "generator": g_loss,
                "D(real)": torch.sigmoid(real_logits.detach()).mean(),
                "D(fake)": torch.sigmoid(fake_logits.detach()).mean()}
    return step


def vae_step(vae: VAE, optimizer: torch.optim.Optimizer, kl_weight: float = 1.0, max_norm: float | None = None) -> Step:
    """One step on the negative ELBO (images in [0, 1]), logging its two terms separately; with ``kl_weight``
    (beta) != 1 on reconstruction + beta * KL (Higgins et al., ICLR 2017), which is then logged as "loss";
    ``max_norm`` clips the gradient's norm (``update``)."""
    if not kl_weight > 0:
        raise ValueError(f"kl_weight must be > 0 (1: the ELBO), got {kl_weight}")

    def step(images: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
        logits, mean, log_variance = vae(images)
        reconstruction, kl = vae_losses(logits, images, mean, log_variance)
        loss = update(optimizer, reconstruction + kl_weight * kl, max_norm)
        return {"negative ELBO" if kl_weight == 1 else "loss": loss, "reconstruction": reconstruction.detach(),
                "KL": kl.detach()}
    return step


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Logits for float images (already scaled), in evaluation mode, in batches."""
    model.eval()
    return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
