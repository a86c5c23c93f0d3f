"""Distilling generators: a small generator or VAE learns from a trained teacher.

GAN teacher -> student generator (Aguinaldo et al. 2019; Li et al. 2020):
``output`` (the student maps z to the teacher's image; no real images),
``output+adversarial`` (plus a discriminator trained on real images),
``output+features`` (plus the teacher's hidden feature maps, through learned 1x1 adaptors).
VAE teacher -> student VAE: the decoder on the same z, the encoder by the KL between posteriors.
Every step returns its losses for ``kdlib.train.fit_epochs``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from kdlib.losses import discriminator_loss, generator_loss
from kdlib.models import VAE, Generator
from kdlib.runs import RunDir, load_module
from kdlib.train import Step

GAN_OBJECTIVES = ("output", "output+adversarial", "output+features")
TEACHERS = {"gan": ("02_gan_teacher", "generator"), "vae": ("03_vae_teacher", "vae")}  # notebook, module


def load_teacher(run: RunDir, family: str, device: torch.device | str = "cpu") -> nn.Module:
    """The trained teacher of ``family`` ("gan" or "vae"), found through its notebook's metrics in ``run``.

    Notebooks 02 and 03 record the checkpoint's name and the model's settings;
    a missing file names the notebook to run first.
    """
    if family not in TEACHERS:
        raise ValueError(f"family {family!r} is not one of {list(TEACHERS)}")
    notebook, module_name = TEACHERS[family]
    metrics = run.read_metrics(notebook)
    settings = metrics["settings"]
    model = (Generator if family == "gan" else VAE)(settings["latent_dim"], settings["width"])
    path = run.require(("checkpoints", metrics["checkpoint"]), notebook)
    return load_module(model, path, module_name).to(device)


class LatentBatches:
    """Batches of latents z ~ N(0, I), ``steps`` per epoch, the same for a given (seed, epoch).

    What data-free distillation trains on: the teacher's images for these z are the targets.
    """

    def __init__(self, latent_dim: int, batch_size: int, steps: int, seed: int = 0,
                 device: torch.device | str = "cpu") -> None:
        if min(latent_dim, batch_size, steps) < 1:
            raise ValueError(f"latent_dim, batch_size and steps must be >= 1, got {latent_dim}, {batch_size}, {steps}")
        self.latent_dim, self.batch_size, self.steps, self.seed = latent_dim, batch_size, steps, seed
        self.device = torch.device(device)

    def __len__(self) -> int:
        return self.steps

    def epoch(self, index: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        stream = torch.Generator(device=self.device).manual_seed(self.seed * 1_000_003 + index)
        for _ in range(self.steps):
            z = torch.randn(self.batch_size, self.latent_dim, generator=stream, device=self.device)
            yield z, z


def hidden_maps(generator: Generator, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The generator's image and its feature maps after each ReLU (7x7, then 14x14)."""
    maps, x = [], z
    for layer in generator.net:
        x = layer(x)
        if isinstance(layer, nn.ReLU):
            maps.append(x)
    return x, maps


class Adaptors(nn.Module):
    """Learned 1x1 convolutions from the student's hidden channels to the teacher's (Li et al. 2020)."""

    def __init__(self, student: Generator, teacher: Generator) -> None:
        super().__init__()
        z = torch.zeros(1, student.latent_dim)
        with torch.no_grad():
            shapes = [(s.shape[1], t.shape[1]) for s, t in zip(hidden_maps(student.eval(), z)[1],
                                                                hidden_maps(teacher.eval(), z)[1])]
        self.convs = nn.ModuleList(nn.Conv2d(s, t, 1) for s, t in shapes)

    def forward(self, maps: list[torch.Tensor]) -> list[torch.Tensor]:
        return [conv(m) for conv, m in zip(self.convs, maps)]


def output_loss(student_images: torch.Tensor, teacher_images: torch.Tensor) -> torch.Tensor:
    """Mean squared pixel error between the student's and the teacher's images for the same z."""
    if student_images.shape != teacher_images.shape:
        raise ValueError(f"student images {list(student_images.shape)} and teacher images "
                         f"{list(teacher_images.shape)} differ in shape")
    return F.mse_loss(student_images, teacher_images.detach())


def feature_loss(adapted: list[torch.Tensor], teacher_maps: list[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the mean squared error between adapted student maps and the teacher's."""
    if len(adapted) != len(teacher_maps) or not adapted:
        raise ValueError(f"need one adapted map per teacher map, got {len(adapted)} and {len(teacher_maps)}")
    return torch.stack([F.mse_loss(a, t.detach()) for a, t in zip(adapted, teacher_maps)]).mean()


def gan_distill_step(student: Generator, teacher: Generator, optimizer: torch.optim.Optimizer,
                     objective: str = "output", adaptors: Adaptors | None = None,
                     discriminator: nn.Module | None = None, d_optimizer: torch.optim.Optimizer | None = None,
                     feature_weight: float = 1.0, adversarial_weight: float = 0.01) -> Step:
    """One distillation step of a student generator; ``objective`` is one of ``GAN_OBJECTIVES``.

    ``output`` and ``output+features`` take batches of latents (``LatentBatches``);
    ``output+adversarial`` takes batches of real images, draws its own latents, and
    first updates ``discriminator`` on real images against the student's fakes.
    The teacher runs in evaluation mode, without gradients.
    """
    if objective not in GAN_OBJECTIVES:
        raise ValueError(f"objective {objective!r} is not one of {list(GAN_OBJECTIVES)}")
    if objective == "output+features" and adaptors is None:
        raise ValueError("objective 'output+features' needs adaptors (kdlib.distill.Adaptors(student, teacher))")
    if objective == "output+adversarial" and (discriminator is None or d_optimizer is None):
        raise ValueError("objective 'output+adversarial' needs a discriminator and its optimiser")
    teacher.eval()

    def step(batch: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
        z = (torch.randn(len(batch), student.latent_dim, device=batch.device)
             if objective == "output+adversarial" else batch)
        with torch.no_grad():
            teacher_images, teacher_maps = hidden_maps(teacher, z)
        images, maps = hidden_maps(student, z)
        losses = {"output": output_loss(images, teacher_images)}
        if objective == "output+features":
            losses["features"] = feature_weight * feature_loss(adaptors(maps), teacher_maps)
        if objective == "output+adversarial":
            d_loss = discriminator_loss(discriminator(batch), discriminator(images.detach()))
            d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            d_optimizer.step()
            losses["adversarial"] = adversarial_weight * generator_loss(discriminator(images))
        loss = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        logged = {name: value.detach() for name, value in losses.items()}
        if objective == "output+adversarial":
            logged["discriminator"] = d_loss.detach()
        return {"total": loss.detach(), **logged}
    return step


def gaussian_kl(mean_p: torch.Tensor, log_var_p: torch.Tensor, mean_q: torch.Tensor,
                log_var_q: torch.Tensor) -> torch.Tensor:
    """KL(N(mean_p, var_p) || N(mean_q, var_q)) for diagonal Gaussians, summed over dimensions, mean over the batch."""
    kl = 0.5 * (log_var_q - log_var_p + (log_var_p.exp() + (mean_p - mean_q).square()) / log_var_q.exp() - 1)
    return kl.sum(1).mean()


def decoder_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel Bernoulli KL(teacher || student), summed over pixels, mean over the batch (nats per image).

    The teacher's pixel probabilities are soft targets, as in notebook 01; the KL is
    the cross-entropy minus the teacher's entropy, so it is 0 when the student matches.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {list(student_logits.shape)} and teacher logits "
                         f"{list(teacher_logits.shape)} differ in shape")
    target = torch.sigmoid(teacher_logits.detach())
    cross = F.binary_cross_entropy_with_logits(student_logits, target, reduction="none")
    entropy = F.binary_cross_entropy_with_logits(teacher_logits.detach(), target, reduction="none")
    return (cross - entropy).flatten(1).sum(1).mean()


def vae_distill_step(student: VAE, teacher: VAE, optimizer: torch.optim.Optimizer) -> Step:
    """One step of VAE distillation on a batch of real images in [0, 1].

    Decoder: the same latents through both decoders, half drawn from the prior and
    half from the teacher's posteriors of the batch's images, matched by ``decoder_loss``.
    Encoder: ``KL(q_teacher(z|x) || q_student(z|x))`` between the Gaussian posteriors.
    """
    teacher.eval()

    def step(images: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
        half = len(images) // 2
        with torch.no_grad():
            teacher_mean, teacher_log_var = teacher.encode(images)
            posterior = teacher_mean[half:] + torch.randn_like(teacher_mean[half:]) * (0.5 * teacher_log_var[half:]).exp()
            z = torch.cat([torch.randn(half, teacher.latent_dim, device=images.device), posterior])
            teacher_logits = teacher.decode(z)
        student_mean, student_log_var = student.encode(images)
        losses = {"decoder": decoder_loss(student.decode(z), teacher_logits),
                  "encoder": gaussian_kl(teacher_mean, teacher_log_var, student_mean, student_log_var)}
        loss = losses["decoder"] + losses["encoder"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"total": loss.detach(), **{name: value.detach() for name, value in losses.items()}}
    return step

