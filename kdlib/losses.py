"""Distillation losses for classifiers (Hinton et al., 2015), exact and numerically stable.

Conventions used throughout the course:

- a *student* gives logits ``z``; its probabilities at temperature ``T`` are
  ``q = softmax(z / T)``;
- a *teacher* gives probabilities ``p`` (soft labels), e.g. ``softmax(v / T)``
  of its logits ``v``;
- every loss is a mean over the batch (PyTorch's ``batchmean`` for KL), in nats.

All log-probabilities come from ``log_softmax``; ``0 * log 0`` counts as 0, so a
one-hot target is fine and nothing ever takes ``log(0)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_TOLERANCE = 1e-4


def _check_temperature(temperature: float) -> None:
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature T must be a finite number > 0, got {temperature}")


def _check_logits(logits: torch.Tensor, name: str) -> None:
    if logits.dim() != 2:
        raise ValueError(f"{name} must be batch x classes, got shape {list(logits.shape)}")


def _check_distribution(probs: torch.Tensor, logits: torch.Tensor) -> None:
    """Targets must match the logits' shape, be >= 0 and sum to 1 in each row."""
    if probs.shape != logits.shape:
        raise ValueError(f"target probabilities have shape {list(probs.shape)} but the student's "
                         f"logits have shape {list(logits.shape)}")
    if (probs < 0).any() or not torch.allclose(probs.sum(-1), torch.ones(()).to(probs), atol=_TOLERANCE):
        raise ValueError("targets are not probability distributions (each row must be >= 0 and sum "
                         "to 1); pass probabilities, e.g. softmax(teacher_logits / T), not logits")


def soften(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Softmax at temperature T: ``softmax(logits / T)``; a higher T gives softer labels."""
    _check_temperature(temperature)
    return F.softmax(logits / temperature, dim=-1)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """``H(p) = -sum_i p_i log p_i`` per row, in nats (``0 log 0 = 0``)."""
    return -torch.special.xlogy(probs, probs).sum(-1)


def cross_entropy(target_probs: torch.Tensor, student_logits: torch.Tensor, temperature: float = 1.0,
                  reduction: str = "mean") -> torch.Tensor:
    """``H(p, q) = -sum_i p_i log q_i`` with ``q = softmax(z / T)``: soft-target cross-entropy.

    ``reduction="none"`` gives one value per sample. Equals ``F.cross_entropy`` with
    probability targets applied to ``z / T``.
    """
    _check_temperature(temperature)
    _check_logits(student_logits, "student logits")
    _check_distribution(target_probs, student_logits)
    per_sample = -(target_probs * F.log_softmax(student_logits / temperature, dim=-1)).sum(-1)
    return per_sample if reduction == "none" else per_sample.mean()


def kl_divergence(target_probs: torch.Tensor, student_logits: torch.Tensor, temperature: float = 1.0,
                  reduction: str = "mean") -> torch.Tensor:
    """``KL(p || q) = sum_i p_i (log p_i - log q_i) = H(p, q) - H(p)``, batch mean.

    Zero exactly when the student's softened distribution equals the target.
    Equals ``F.kl_div(log q, p, reduction="batchmean")``.
    """
    _check_temperature(temperature)
    _check_logits(student_logits, "student logits")
    _check_distribution(target_probs, student_logits)
    log_q = F.log_softmax(student_logits / temperature, dim=-1)
    per_sample = (torch.special.xlogy(target_probs, target_probs) - target_probs * log_q).sum(-1)
    return per_sample if reduction == "none" else per_sample.mean()


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      temperature: float, alpha: float) -> torch.Tensor:
    """Hinton's loss: ``alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE(labels, p_student)``.

    ``alpha`` is the weight of the soft (teacher) term: 1 learns from the teacher
    alone, 0 from the hard labels alone. The hard term uses the student at T = 1.
    ``T^2`` keeps the soft term's gradients the same size whatever T is, because
    they scale as ``1 / T^2``.
    """
    _check_temperature(temperature)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha (the weight of the soft term) must be in [0, 1], got {alpha}")
    _check_logits(student_logits, "student logits")
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(f"teacher logits have shape {list(teacher_logits.shape)} but the student's "
                         f"have shape {list(student_logits.shape)}")
    num_classes = student_logits.shape[-1]
    if labels.shape != student_logits.shape[:1] or labels.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"labels must be {student_logits.shape[0]} integer class ids, got "
                         f"{labels.dtype} of shape {list(labels.shape)}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes - 1}], got values from "
                         f"{int(labels.min())} to {int(labels.max())}")
    soft = kl_divergence(soften(teacher_logits.detach(), temperature), student_logits, temperature)
    hard = F.cross_entropy(student_logits, labels.long())
    return alpha * temperature**2 * soft + (1.0 - alpha) * hard


def _check_gan_logits(*logits: torch.Tensor) -> None:
    if any(t.dim() != 1 for t in logits):
        raise ValueError(f"expected one logit per image, got shapes {[list(t.shape) for t in logits]}")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's GAN loss ``-log D(x) - log(1 - D(G(z)))`` from its logits (Goodfellow et al. 2014).

    ``D = sigmoid(logit)``; computed with ``softplus``, stable for any logit:
    ``-log sigmoid(a) = softplus(-a)`` and ``-log(1 - sigmoid(a)) = softplus(a)``.
    Pass detached fakes, so that this loss does not train the generator.
    """
    _check_gan_logits(real_logits, fake_logits)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss ``-log D(G(z))``.

    The minimax game's ``log(1 - D(G(z)))`` has a vanishing gradient exactly when
    the generator is bad (D(G(z)) near 0) and needs it most; this one does not.
    """
    _check_gan_logits(fake_logits)
    return F.softplus(-fake_logits).mean()


def vae_losses(logits: torch.Tensor, images: torch.Tensor, mean: torch.Tensor,
               log_variance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two terms of the negative ELBO, in nats per image (summed over pixels and latents).

    Reconstruction: ``-log p(x | z)`` under a Bernoulli likelihood per pixel with
    ``p = sigmoid(logits)``, for images in [0, 1] (grey values act as soft targets:
    a pixel-wise soft-label cross-entropy). KL: ``KL(N(mean, exp(log_variance)) || N(0, I))``
    in closed form, ``0.5 * sum(mean^2 + var - 1 - log var)``.
    """
    if logits.shape != images.shape:
        raise ValueError(f"logits {list(logits.shape)} and images {list(images.shape)} differ in shape")
    if mean.shape != log_variance.shape:
        raise ValueError(f"mean {list(mean.shape)} and log_variance {list(log_variance.shape)} differ in shape")
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError("the Bernoulli likelihood needs images in [0, 1]; scale them with value_range=(0, 1)")
    batch = len(images)
    reconstruction = F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / batch
    kl = 0.5 * (mean.square() + log_variance.exp() - 1 - log_variance).sum() / batch
    return reconstruction, kl
