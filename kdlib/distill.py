"""Distilling generators: one object per objective, each owning its loss, what it trains and its batches.

GAN students: ``OutputDistillation``, ``OutputAdversarial``, ``OutputFeatures``, the remedies
``OutputFeaturesAdversarial`` and ``AnnealToGAN``, the baseline ``GANScratch`` and the pruning
control ``PruneFinetune``; VAE students: ``VAEDistillation``, the remedy ``AnnealToELBO`` and the
baseline ``VAEScratch``.
An objective's fields are its settings, their defaults defined here only; ``train_student``
trains a ``Student`` (an objective at a width) with any of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from kdlib.batches import Batches
from kdlib.losses import discriminator_loss, generator_loss, vae_losses
from kdlib.models import VAE, Discriminator, Generator, as_generator, build
from kdlib.pruning import pruned_generator
from kdlib.store import settings_digest
from kdlib.train import DivergedError, Trained, Training, fit, gan_step, render, update, vae_step

STUDENT_MODULE = {"gan": "generator", "vae": "vae"}  # the name a checkpoint stores a student under


class LatentBatches:
    """Batches of latents z ~ N(0, I), ``steps`` per epoch, the same for a given (seed, epoch): what
    data-free distillation trains on (the teacher's images for these z are the targets)."""

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
        z = torch.zeros(1, student.latent_dim, device=next(student.parameters()).device)
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


def gaussian_kl(mean_p: torch.Tensor, log_var_p: torch.Tensor, mean_q: torch.Tensor,
                log_var_q: torch.Tensor) -> torch.Tensor:
    """KL(N(mean_p, var_p) || N(mean_q, var_q)) for diagonal Gaussians, summed over dimensions, mean over the batch."""
    kl = 0.5 * (log_var_q - log_var_p + (log_var_p.exp() + (mean_p - mean_q).square()) / log_var_q.exp() - 1)
    return kl.sum(1).mean()


def decoder_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel Bernoulli KL(teacher || student), summed over pixels, mean over the batch (nats per image).

    The teacher's pixel probabilities are soft targets; the KL is the cross-entropy
    minus the teacher's entropy, so it is 0 when the student matches.
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {list(student_logits.shape)} and teacher logits "
                         f"{list(teacher_logits.shape)} differ in shape")
    target = torch.sigmoid(teacher_logits.detach())
    cross = F.binary_cross_entropy_with_logits(student_logits, target, reduction="none")
    entropy = F.binary_cross_entropy_with_logits(teacher_logits.detach(), target, reduction="none")
    return (cross - entropy).flatten(1).sum(1).mean()


def width_label(width: float) -> str:
    """A width as people write it: "1/8" for 0.125, "0.12" for 0.12 (not "3/25")."""
    return f"1/{round(1 / width)}" if (1 / width).is_integer() else f"{width:g}"


def _adam(parameters: Any, learning_rate: float, gan: bool = False) -> torch.optim.Optimizer:
    """Adam; with DCGAN's beta1 = 0.5 for the players of a GAN game."""
    return torch.optim.Adam(parameters, lr=learning_rate, betas=(0.5, 0.999) if gan else (0.9, 0.999))


def _logged(total: torch.Tensor, losses: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"total": total, **{name: loss.detach() for name, loss in losses.items()}}


@dataclass(frozen=True)
class Objective:
    """How a student learns. A subclass sets ``family`` and ``name`` and builds the ``Training`` (what it trains,
    the student under ``STUDENT_MODULE[family]``; optimisers; step; its batches) from the real batches.

    ``name`` is the objective's one name: the key of ``OBJECTIVES``, the mark of its checkpoints and records, and the
    prefix of its settings in the course's profiles (``<family>_<name>_<field>`` for each field). Each field's
    default is the value the course uses unless a profile says otherwise; ``learning_rate``'s is the one searched
    for the smallest student (bench/student_tuning.py)."""

    family: ClassVar[str]
    name: ClassVar[str]
    title: ClassVar[str]  # what a figure or a table calls its students, in words a reader knows
    starts_cut: ClassVar[bool] = False  # whether its student must start cut from the teacher (``Student.init``)
    baseline: ClassVar[bool] = False  # a baseline that learns nothing from the teacher's outputs (scratch, the control)

    def training(self, student: nn.Module, teacher: nn.Module, real: Batches, epochs: int) -> Training:
        raise NotImplementedError

    @classmethod
    def setting(cls, field: str) -> str:
        """The course's setting that holds ``field`` of this objective, e.g. ``vae_distilled_learning_rate``."""
        return f"{cls.family}_{cls.name}_{field}"


@dataclass(frozen=True)
class OutputDistillation(Objective):
    """Regress the student's image onto the teacher's for the same latent (Aguinaldo et al. 2019).

    Data-free: it trains on latents, as many batches per epoch as the real images
    give. Adam, its learning rate cosine-annealed to 0 over the run.
    """

    family = "gan"
    name = "output"
    title = "distilled: output"
    learning_rate: float = 1e-3

    def training(self, student: nn.Module, teacher: nn.Module, real: Batches, epochs: int) -> Training:
        optimizer = _adam(student.parameters(), self.learning_rate)
        teacher.eval()

        def step(z: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            with torch.no_grad():
                target = teacher(z)
            return {"output": update(optimizer, output_loss(student(z), target))}
        return self._distilled({"generator": student}, {"generator": optimizer}, step, real, epochs)

    def _distilled(self, modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer], step: Any,
                   real: Batches, epochs: int, on_latents: bool = True) -> Training:
        """A distilled generator's ``Training``: its learning rate annealed over all steps, latent batches if data-free."""
        batches = LatentBatches(modules["generator"].latent_dim, real.batch_size, len(real), real.seed, real.device) \
            if on_latents else real
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizers["generator"], T_max=epochs * len(real))
        return Training(modules, optimizers, step, batches, {"generator": schedule})


@dataclass(frozen=True)
class OutputAdversarial(OutputDistillation):
    """Output distillation plus a GAN term (Aguinaldo et al.'s joint loss): a discriminator learns real
    images against the student's, and the student's non-saturating loss against it joins, weighted."""

    name = "output_adversarial"
    title = "distilled: output + adversarial"
    learning_rate: float = 1e-2
    weight: float = 0.01  # of the GAN term
    discriminator_learning_rate: float = 2e-4
    discriminator_width: float = 1.0

    def _critic(self, real: Batches) -> tuple[Discriminator, torch.optim.Optimizer]:
        """A fresh discriminator of ``discriminator_width`` for the real images, and its Adam (the GAN's betas)."""
        discriminator = Discriminator(self.discriminator_width).to(real.device)
        return discriminator, _adam(discriminator.parameters(), self.discriminator_learning_rate, gan=True)

    def training(self, student: nn.Module, teacher: nn.Module, real: Batches, epochs: int) -> Training:
        discriminator, d_optimizer = self._critic(real)
        optimizer = _adam(student.parameters(), self.learning_rate)
        teacher.eval()

        def step(real_images: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            z = torch.randn(len(real_images), student.latent_dim, device=real_images.device)
            with torch.no_grad():
                target = teacher(z)
            images = student(z)
            d_loss = update(d_optimizer, discriminator_loss(discriminator(real_images), discriminator(images.detach())))
            losses = {"output": output_loss(images, target),
                      "adversarial": self.weight * generator_loss(discriminator(images))}
            return _logged(update(optimizer, sum(losses.values())), losses) | {"discriminator": d_loss}
        return self._distilled({"generator": student, "discriminator": discriminator},
                               {"generator": optimizer, "discriminator": d_optimizer}, step, real, epochs, False)


@dataclass(frozen=True)
class OutputFeatures(OutputDistillation):
    """Output distillation plus the teacher's hidden feature maps (Li et al. 2020): learned 1x1 adaptors
    map the student's maps to the teacher's channels, trained with the student."""

    name = "output_features"
    title = "distilled: output + features"
    learning_rate: float = 3e-3
    weight: float = 1.0  # of the feature-map term

    def training(self, student: nn.Module, teacher: nn.Module, real: Batches, epochs: int) -> Training:
        adaptors = Adaptors(student, teacher).to(real.device)
        optimizer = _adam([*student.parameters(), *adaptors.parameters()], self.learning_rate)
        teacher.eval()

        def step(z: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            with torch.no_grad():
                target, teacher_maps = hidden_maps(teacher, z)
            images, maps = hidden_maps(student, z)
            losses = {"output": output_loss(images, target),
                      "features": self.weight * feature_loss(adaptors(maps), teacher_maps)}
            return _logged(update(optimizer, sum(losses.values())), losses)
        return self._distilled({"generator": student, "adaptors": adaptors}, {"generator": optimizer}, step, real,
                               epochs)


@dataclass(frozen=True)
class OutputFeaturesAdversarial(OutputAdversarial):
    """GAN Compression's whole objective (Li et al. 2020): the output term, the teacher's hidden feature maps through
    learned 1x1 adaptors (``OutputFeatures``) and the GAN term against a discriminator on real images
    (``OutputAdversarial``), weighted ``features_weight`` and ``weight``."""

    name = "output_features_adversarial"
    title = "remedy: output + features + adversarial"
    learning_rate: float = 1e-2  # searched from the cut start (bench/student_tuning.py --init teacher)
    features_weight: float = 1.0

    def training(self, student: nn.Module, teacher: nn.Module, real: Batches, epochs: int) -> Training:
        discriminator, d_optimizer = self._critic(real)
        adaptors = Adaptors(student, teacher).to(real.device)
        optimizer = _adam([*student.parameters(), *adaptors.parameters()], self.learning_rate)
        teacher.eval()

        def step(real_images: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            z = torch.randn(len(real_images), student.latent_dim, device=real_images.device)
            with torch.no_grad():
                target, teacher_maps = hidden_maps(teacher, z)
            images, maps = hidden_maps(student, z)
            d_loss = update(d_optimizer, discriminator_loss(discriminator(real_images), discriminator(images.detach())))
            losses = {"output": output_loss(images, target),
                      "features": self.features_weight * feature_loss(adaptors(maps), teacher_maps),
                      "adversarial": self.weight * generator_loss(discriminator(images))}
            return _logged(update(optimizer, sum(losses.values())), losses) | {"discriminator": d_loss}
        return self._distilled({"generator": student, "adaptors": adaptors, "discriminator": discriminator},
                               {"generator": optimizer, "discriminator": d_optimizer}, step, real, epochs, False)


def handover_share(done: int, total: int, handover: float) -> float:
    """The teacher's terms' weight after ``done`` of ``total`` steps when they are annealed out over the first
    ``handover`` share of them: 1, falling along half a cosine to 0 at ``handover * total``, 0 after."""
    if not 0 < handover <= 1:
        raise ValueError(f"handover is the share of the steps over which the teacher's terms fall to 0, in (0, 1], "
                         f"got {handover}")
    return 0.5 * (1 + math.cos(math.pi * min(1.0, done / (handover * total))))


def steps_taken(optimizer: torch.optim.Adam) -> int:
    """The updates ``optimizer`` has made, from Adam's own count: saved and restored with it when a run resumes."""
    state = optimizer.state.get(optimizer.param_groups[0]["params"][0], {})
    return int(state["step"]) if "step" in state else 0


@dataclass(frozen=True)
class AnnealToGAN(OutputAdversarial):
    """Distillation terms annealed to zero, then plain GAN fine-tuning on the data. Over the first ``handover``
    share of the steps the output term's weight falls from 1 to 0 along half a cosine while the GAN term's rises
    from ``weight`` to 1; after it the student trains on the scratch baseline's loss alone (the non-saturating GAN
    loss against the discriminator on real images), no longer anchored to the teacher's images. The teacher gives
    the start and the direction, the data the finish."""

    name = "anneal_to_gan"
    title = "remedy: the teacher annealed out"
    learning_rate: float = 3e-3  # searched from the cut start (bench/student_tuning.py --init teacher)
    handover: float = 0.5

    def __post_init__(self) -> None:
        handover_share(0, 1, self.handover)  # refuses a handover outside (0, 1]

    def teacher_share(self, done: int, total: int) -> float:
        """The output term's weight after ``done`` of ``total`` steps (``handover_share``)."""
        return handover_share(done, total, self.handover)

    def training(self, student: nn.Module, teacher: nn.Module, real: Batches, epochs: int) -> Training:
        discriminator, d_optimizer = self._critic(real)
        optimizer = _adam(student.parameters(), self.learning_rate)
        teacher.eval()

        def step(real_images: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            share = self.teacher_share(steps_taken(optimizer), epochs * len(real))
            z = torch.randn(len(real_images), student.latent_dim, device=real_images.device)
            images = student(z)
            d_loss = update(d_optimizer, discriminator_loss(discriminator(real_images), discriminator(images.detach())))
            losses = {"output": images.new_zeros(()),
                      "adversarial": (share * self.weight + 1 - share) * generator_loss(discriminator(images))}
            if share > 0:  # the teacher is asked only while its term counts
                with torch.no_grad():
                    target = teacher(z)
                losses["output"] = share * output_loss(images, target)
            return _logged(update(optimizer, sum(losses.values())), losses) | {"discriminator": d_loss}
        return self._distilled({"generator": student, "discriminator": discriminator},
                               {"generator": optimizer, "discriminator": d_optimizer}, step, real, epochs, False)


@dataclass(frozen=True)
class GANScratch(Objective):
    """The baseline: the student generator trained as a GAN on real images alone, without the teacher. With
    ``anneal`` both players' learning rate is cosine-annealed to 0 over all steps, as the distilled students' is,
    so that the baseline gets the schedule the method gets. ``discriminator_learning_rate`` is the critic's own rate,
    searched as output + adversarial's is; None ties it to the generator's ``learning_rate`` (and leaves it out of
    the settings, so that a tied student names the checkpoint it named before the field existed)."""

    family = "gan"
    name = "scratch"
    title = "scratch"
    baseline = True
    learning_rate: float = 1e-2
    discriminator_width: float = 1.0
    anneal: bool = True
    discriminator_learning_rate: float | None = None

    def training(self, student: nn.Module, teacher: nn.Module, real: Batches, epochs: int) -> Training:
        discriminator = Discriminator(self.discriminator_width).to(real.device)
        modules = {"generator": student, "discriminator": discriminator}
        critic_rate = self.learning_rate if self.discriminator_learning_rate is None else self.discriminator_learning_rate
        rates = {"generator": self.learning_rate, "discriminator": critic_rate}
        optimizers = {key: _adam(module.parameters(), rates[key], gan=True) for key, module in modules.items()}
        schedules = {key: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(real))
                     for key, optimizer in optimizers.items()} if self.anneal else {}
        return Training(modules, optimizers, gan_step(student, discriminator, *optimizers.values()), real, schedules)


@dataclass(frozen=True)
class VAEDistillation(Objective):
    """Both halves of a VAE from the teacher, on real images in [0, 1].

    Decoder: the same latents through both decoders, matched by ``decoder_loss``: a share
    ``posterior_fraction`` of the batch drawn from the teacher's posteriors of the batch's
    images (where the course samples a VAE: its ex-post prior), the rest from N(0, I).
    Encoder: ``KL(q_teacher(z|x) || q_student(z|x))`` between the Gaussian posteriors.
    """

    family = "vae"
    name = "distilled"
    title = "distilled"
    learning_rate: float = 2e-2  # searched at width 0.25, the course's VAE students' (bench/student_tuning.py --family vae)
    posterior_fraction: float = 1.0
    # A step's gradient has a norm of about 100. At 2e-2, a spike of thousands diverged one run in ten on an AVX2-only
    # CPU, and 3e-2 diverged every run. Clipped to 300 (a few steps in a hundred), 2e-2 and 3e-2 finished all ten:
    # docs/results/settings.md, "Stable rates" (bench/stability.py).
    max_grad_norm: float = 300.0

    def __post_init__(self) -> None:
        if not 0 <= self.posterior_fraction <= 1:
            raise ValueError(f"posterior_fraction is a share of the batch, in [0, 1], got {self.posterior_fraction}")

    def losses(self, student: VAE, teacher: VAE, images: torch.Tensor
               ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """The decoder and encoder terms for a batch of images, and the student's and the teacher's decoder logits
        for the batch's latents (what a subclass's extra term may compare)."""
        prior = len(images) - round(len(images) * self.posterior_fraction)
        with torch.no_grad():
            teacher_mean, teacher_log_var = teacher.encode(images)
            noise = torch.randn_like(teacher_mean[prior:])
            posterior = teacher_mean[prior:] + noise * (0.5 * teacher_log_var[prior:]).exp()
            z = torch.cat([torch.randn(prior, teacher.latent_dim, device=images.device), posterior])
            teacher_logits = teacher.decode(z)
        student_mean, student_log_var = student.encode(images)
        student_logits = student.decode(z)
        return ({"decoder": decoder_loss(student_logits, teacher_logits),
                 "encoder": gaussian_kl(teacher_mean, teacher_log_var, student_mean, student_log_var)},
                student_logits, teacher_logits)

    def training(self, student: nn.Module, teacher: nn.Module, real: Batches, epochs: int) -> Training:
        optimizer = _adam(student.parameters(), self.learning_rate)
        teacher.eval()

        def step(images: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            losses, _, _ = self.losses(student, teacher, images)
            return _logged(update(optimizer, sum(losses.values()), self.max_grad_norm), losses)
        return Training({"vae": student}, {"vae": optimizer}, step, real)


@dataclass(frozen=True)
class AnnealToELBO(VAEDistillation):
    """The VAE's remedy: ``VAEDistillation``'s terms annealed to zero over the first ``handover`` share of the steps
    (``handover_share``), while the scratch baseline's loss (reconstruction + ``kl_weight`` * KL, on the real images)
    rises to take their place; after the handover the student trains as the scratch VAE does, from where the
    teacher brought it."""

    name = "anneal_to_elbo"
    title = "remedy: the teacher annealed out"
    learning_rate: float = 1e-2  # searched at width 0.25 (bench/student_tuning.py --family vae --width 0.25)
    kl_weight: float = 0.125  # the scratch VAE's searched beta
    handover: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        handover_share(0, 1, self.handover)  # refuses a handover outside (0, 1]

    def training(self, student: nn.Module, teacher: nn.Module, real: Batches, epochs: int) -> Training:
        optimizer = _adam(student.parameters(), self.learning_rate)
        teacher.eval()

        def step(images: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            share = handover_share(steps_taken(optimizer), epochs * len(real), self.handover)
            losses = {"decoder": images.new_zeros(()), "encoder": images.new_zeros(())}
            if share > 0:  # the teacher is asked only while its terms count
                distilled, _, _ = self.losses(student, teacher, images)
                losses = {key: share * value for key, value in distilled.items()}
            logits, mean, log_variance = student(images)
            reconstruction, kl = vae_losses(logits, images, mean, log_variance)
            losses |= {"reconstruction": (1 - share) * reconstruction, "KL": (1 - share) * self.kl_weight * kl}
            return _logged(update(optimizer, sum(losses.values()), self.max_grad_norm), losses)
        return Training({"vae": student}, {"vae": optimizer}, step, real)


@dataclass(frozen=True)
class VAEScratch(Objective):
    """The baseline: the student VAE trained on the negative ELBO, without the teacher; with ``kl_weight`` (beta)
    != 1 on reconstruction + beta * KL, a setting the baseline's search tunes as the distilled student's are."""

    family = "vae"
    name = "scratch"
    title = "scratch"
    baseline = True
    learning_rate: float = 2e-2
    kl_weight: float = 0.125  # bench/student_tuning.py --family vae: beta < 1 samples better from an ex-post prior
    max_grad_norm: float = 300.0  # the distilled students' clipping, the same guard for the baseline

    def training(self, student: nn.Module, teacher: nn.Module, real: Batches, epochs: int) -> Training:
        optimizer = _adam(student.parameters(), self.learning_rate)
        return Training({"vae": student}, {"vae": optimizer},
                        vae_step(student, optimizer, self.kl_weight, self.max_grad_norm), real)


@dataclass(frozen=True)
class PruneFinetune(GANScratch):
    """The pruning control: prune, then fine-tune. The student starts cut from the teacher exactly as the distilled
    GAN students do (``Student(init='teacher')``, ``kdlib.pruning``), then trains as the scratch baseline does, with
    the plain GAN loss on the real images and no further word from the teacher. Beside ``scratch`` (random start,
    same loss) and the distilled objectives (same start, the teacher's loss), it tells what the cut start gives from
    what distillation gives."""

    name = "prune_finetune"
    title = "prune + fine-tune"
    starts_cut: ClassVar[bool] = True
    learning_rate: float = 3e-2  # searched as scratch's was, from the cut start (bench/student_tuning.py --init teacher)


# Fields whose None means "as another field" (the scratch GAN's critic rate: its generator's): left out of a student's
# settings when None, so that the checkpoints named before the field existed keep their names.
TIED_WHEN_NONE = frozenset({"discriminator_learning_rate"})

# The course's objectives, family -> name -> class: listed here, so that a subclass defined elsewhere (a notebook's
# exercise) changes nothing that other code evaluates.
OBJECTIVES: dict[str, dict[str, type[Objective]]] = {
    family: {objective.name: objective for objective in objectives}
    for family, objectives in (("gan", (OutputDistillation, OutputAdversarial, OutputFeatures, GANScratch,
                                        PruneFinetune, OutputFeaturesAdversarial, AnnealToGAN)),
                               ("vae", (VAEDistillation, VAEScratch, AnnealToELBO)))}


@dataclass(frozen=True)
class Student:
    """One student: an objective (which fixes the family) at a width in (0, 1) of the teacher's; a GAN student's
    ``upsampling`` is its generator's (``Generator``: "transposed" as the teacher's, or "subpixel"). ``init`` is
    where its weights start: "random", or (a distilled GAN student only) cut from the teacher, keeping its most
    important channels ("teacher") or as many drawn at random ("teacher-random-channels", the control):
    ``kdlib.pruning.pruned_generator``."""

    objective: Objective
    width: float
    upsampling: str = "transposed"
    init: str = "random"

    STARTS: ClassVar[dict[str, tuple[str, str | None]]] = {  # init -> (its mark in the name, pruned_generator's keep)
        "random": ("", None), "teacher": (", cut from the teacher", "important"),
        "teacher-random-channels": (", cut from the teacher, random channels", "random")}
    INITS: ClassVar[tuple[str, ...]] = tuple(STARTS)

    def __post_init__(self) -> None:
        if not isinstance(self.objective, Objective):
            raise ValueError(f"objective must be one of {[c.__name__ for f in OBJECTIVES.values() for c in f.values()]}, "
                             f"got {self.objective!r}")
        if not 0 < self.width < 1:
            raise ValueError(f"a student's width must be in (0, 1) (the teacher has width 1), got {self.width}")
        build(self.family, 1, self.width, self.upsampling)  # refuses an upsampling its family lacks
        if self.init not in self.INITS:
            raise ValueError(f"init must be one of {self.INITS}, got {self.init!r}")
        if self.init != "random" and (self.family != "gan" or self.objective.name == "scratch"):
            raise ValueError(f"init={self.init!r} is for distilled GAN students; a {self.family.upper()} "
                             f"{self.objective.name} student starts from random weights (init='random')"
                             + (": the scratch baseline never sees the teacher" if self.objective.name == "scratch"
                                else ""))
        if self.init == "random" and self.objective.starts_cut:
            raise ValueError(f"a {self.objective.name} student starts cut from the teacher: give init='teacher' (its "
                             f"most important channels) or 'teacher-random-channels'; from random weights it would "
                             f"be the scratch baseline")

    @property
    def family(self) -> str:
        return self.objective.family

    @property
    def name(self) -> str:
        """The student in words, for tables and figures: its objective's title, family, width (as 1/n where it is one)
        and start, e.g. "distilled: output + adversarial (GAN, width 0.12, cut from the teacher)", "scratch (VAE,
        width 1/4)". The upsampling layer is left out: every student of a run upsamples alike."""
        start = self.STARTS[self.init][0]
        return f"{self.objective.title} ({self.family.upper()}, width {width_label(self.width)}{start})"

    def settings(self) -> dict[str, Any]:
        """What defines the student: family, objective and its settings, width, upsampling (and ``init`` when it is
        not random, a field of ``TIED_WHEN_NONE`` when it is not None: the settings of a random-init, tied student
        name the same checkpoint as before ``init`` and the field existed)."""
        return {"family": self.family, "objective": self.objective.name, "width": self.width,
                "upsampling": self.upsampling, **({"init": self.init} if self.init != "random" else {}),
                **{key: value for key, value in asdict(self.objective).items()
                   if not (key in TIED_WHEN_NONE and value is None)}}

    def build(self, latent_dim: int, teacher: nn.Module | None = None, seed: int = 0) -> nn.Module:
        """The untrained student: the teacher's architecture at ``width``, with its ``upsampling``; random weights,
        or cut from ``teacher`` (its channels ranked on latents drawn with ``seed``, or drawn with it)."""
        if self.init == "random":
            return build(self.family, latent_dim, self.width, self.upsampling)
        if teacher is None:
            raise ValueError(f"{self.name} starts from its teacher's channels: pass the teacher to build")
        return pruned_generator(teacher, self.width, self.upsampling, seed=seed, keep=self.STARTS[self.init][1])


def train_student(student: Student, teacher: nn.Module, images: torch.Tensor, labels: torch.Tensor, epochs: int,
                  batch_size: int, seed: int, checkpoints: Path, identity: dict[str, Any] | None = None,
                  device: torch.device | str = "cpu", fresh: bool = False) -> tuple[nn.Module, Trained]:
    """Train ``student`` on uint8 ``images`` with ``kdlib.train.fit``; return the model (evaluation mode) and its run.

    Every student of a family takes ``epochs * (len(images) // batch_size)`` steps, from initial weights that
    depend on its family, width, ``init`` and ``seed`` alone (every objective starts from the same network,
    whatever ran before). ``identity`` (e.g. the teacher's SHA-256) joins the settings that name the checkpoint.
    """
    family, latent_dim = student.family, teacher.latent_dim
    settings = {**student.settings(), "epochs": epochs, "batch_size": batch_size, "seed": seed,
                "latent_dim": latent_dim, **(identity or {})}
    torch.manual_seed(int(settings_digest({"family": family, "width": student.width, "seed": seed}), 16) % 2**31)
    model = student.build(latent_dim, teacher, seed).to(device)
    real = Batches(images, labels, batch_size, seed=seed, drop_last=True, device=device,
                   value_range=(0.0, 1.0) if isinstance(model, VAE) else (-1.0, 1.0))
    training = student.objective.training(model, teacher, real, epochs)
    fixed_z = torch.randn(64, latent_dim, generator=torch.Generator().manual_seed(seed + 1)).to(device)
    generator = as_generator(model)
    try:
        trained = fit(training, epochs, checkpoints, f"student_{family}_{student.objective.name}",
                      settings, snapshot=lambda: render(generator, fixed_z), snapshots_per_epoch=2, fresh=fresh,
                      description=student.name)
    except DivergedError as error:
        raise DivergedError(divergence_advice(student, seed, error)) from None
    return model.eval(), trained


def divergence_advice(student: Student, seed: int, error: DivergedError) -> str:
    """What a diverged student's error says: which student and seed, where, the setting that holds its learning rate,
    and the command line that lowers it one step (a third, or a half after a rate of the form 2 x 10^k)."""
    rate, setting = student.objective.learning_rate, student.objective.setting("learning_rate")
    lower = rate / 2 if f"{rate:.0e}".startswith("2") else rate / 3
    return (f"the {student.name} student, seed {seed}, learning rate {rate:g}, diverged: {str(error).split(': ')[0]}. "
            f"Its learning rate is the setting {setting}, a list of one rate per student width (in the order of "
            f"the profile's widths). Lower this width's rate one step and run again, e.g. with one width: "
            f"python -m kdlib run -p {setting} '[{float(f'{lower:.0e}'):g}]'. The checkpoint of its last finished "
            f"epoch, if any, is kept.")
