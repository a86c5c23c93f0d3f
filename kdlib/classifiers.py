"""Hinton et al.'s (2015) classifier experiment: a large regularised MLP teacher, a small MLP student trained on the
hard labels, and the same student trained on the teacher's soft labels. One load-or-train function trains all
three, so the teacher that ships with the course and the ones a notebook trains come from the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from kdlib.batches import Batches
from kdlib.losses import distillation_loss
from kdlib.models import MLP
from kdlib.train import Trained, classifier_training, fit, predict_logits, seed_everything

PIXELS = (0.0, 1.0)  # the classifiers see pixels in [0, 1]
TEACHER_MLP: dict[str, Any] = {"sizes": (784, 1200, 1200, 10), "dropout": 0.5, "input_dropout": 0.2}
STUDENT_MLP: dict[str, Any] = {"sizes": (784, 800, 800, 10), "dropout": 0.0, "input_dropout": 0.0}

Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, images, rows) -> loss


def hard_labels(labels: torch.Tensor) -> Loss:
    """Cross-entropy against the one-hot labels of the rows in the batch."""
    def loss(logits: torch.Tensor, images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels[rows])
    return loss


def soft_labels(teacher_logits: torch.Tensor, labels: torch.Tensor, temperature: float, alpha: float) -> Loss:
    """Hinton's distillation loss against the teacher's logits of the rows in the batch (``distillation_loss``)."""
    def loss(logits: torch.Tensor, images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return distillation_loss(logits, teacher_logits[rows], labels[rows], temperature, alpha)
    return loss


def teacher_soft_labels(teacher: torch.nn.Module, labels: torch.Tensor, temperature: float, alpha: float) -> Loss:
    """Hinton's distillation loss against the teacher's logits of the very images in the batch, computed as the
    student trains: when the images are shifted (``jitter``), the targets follow the shift. Beyer et al. (2022) call
    this *consistent* teaching; a table of logits of the unshifted images (``soft_labels``) would describe other
    images than the student sees."""
    teacher.eval()

    def loss(logits: torch.Tensor, images: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            targets = teacher(images)
        return distillation_loss(logits, targets, labels[rows], temperature, alpha)
    return loss


def train_classifier(name: str, architecture: dict[str, Any], images: torch.Tensor, loss: Loss, epochs: int,
                     checkpoints: Path, *, dataset: str, batch_size: int, learning_rate: float, seed: int,
                     jitter: int = 0, device: torch.device | str = "cpu", extra_settings: dict[str, Any] | None = None,
                     fresh: bool = False) -> tuple[MLP, Trained]:
    """An MLP of ``architecture`` built from ``seed`` and trained with Adam (cosine-annealed) on ``loss``, or
    loaded from ``checkpoints`` when a run of exactly these settings is there.

    ``images`` are the uint8 training images (all of them are used; pass a slice for fewer), shifted by up to
    ``jitter`` pixels; ``extra_settings`` (e.g. the temperature and the teacher's file) join the settings that
    name the checkpoint, so another teacher or temperature never loads this run.
    """
    settings = {"name": name, **architecture, "epochs": epochs, "jitter": jitter, "dataset": dataset,
                "train_size": len(images), "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed,
                **(extra_settings or {})}
    seed_everything(seed)
    model = MLP(**architecture).to(device)
    batches = Batches(images, torch.arange(len(images)), batch_size, seed=seed, jitter=jitter, value_range=PIXELS,
                      device=device)
    training = classifier_training(model, batches, epochs, learning_rate, loss)
    return model, fit(training, epochs, checkpoints, f"classifier_{name}", settings, fresh=fresh, description=name)


def misclassified(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> int:
    """How many of the (scaled) ``images`` the model classifies wrongly."""
    return int((predict_logits(model, images).argmax(1) != labels.to(images.device)).sum())
