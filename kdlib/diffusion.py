"""Flow matching in a VAE's latent space, and three ways to distil its many-step sampler into few steps.

Time runs from the data (t = 0) to the noise (t = 1): ``x_t = (1 - t) x_0 + t eps`` (rectified flow, Liu et al.
2022; flow matching, Lipman et al. 2022). A ``Velocity`` network learns ``v(x_t, t) ~ eps - x_0``; sampling
integrates the probability-flow ODE ``dx/dt = v`` from noise at t = 1 back to t = 0 with Euler steps.
Every model here, teacher or student, is a ``Velocity`` network; what differs is its objective and its sampler:

- ``FlowMatching``: the teacher (regress ``eps - x_0``);
- ``OneStepRegression``: one Euler step from the noise regressed onto the teacher's many-step sample for the same
  noise (Luhman & Luhman 2021);
- ``Halving``: one round of progressive distillation: one student step of size 2h matches two teacher steps of
  size h (Salimans & Ho 2022); ``progressive_distillation`` chains the rounds;
- ``ConsistencyDistillation``: the data estimate ``f(x, t) = x - t v(x, t)`` made equal at neighbouring times of
  one teacher trajectory (Song et al. 2023); ``f(x, 0) = x`` holds by construction (the boundary condition).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from kdlib.batches import scale
from kdlib.data import load
from kdlib.generative import VAE_PIXELS
from kdlib.models import VAE
from kdlib.store import settings_digest
from kdlib.train import Trained, Training, fit, update

STEP_COUNTS = (1, 2, 4, 8, 16, 32)  # sampling steps the course measures every sampler at
SAMPLERS = ("euler", "consistency")


class Velocity(nn.Module):
    """``v(x, t)``: a residual MLP over latents ``x`` (n x dim), told the time ``t`` (n) through sinusoidal
    features added to every block."""

    def __init__(self, dim: int = 16, hidden: int = 256, blocks: int = 3, frequencies: int = 16) -> None:
        super().__init__()
        if min(dim, hidden, blocks, frequencies) < 1:
            raise ValueError(f"dim, hidden, blocks and frequencies must be >= 1, got {dim}, {hidden}, {blocks}, "
                             f"{frequencies}")
        self.dim, self.frequencies = dim, frequencies
        self.register_buffer("scales", torch.exp(torch.linspace(0, math.log(1000.0), frequencies)))
        self.inputs = nn.Linear(dim, hidden)
        self.times = nn.ModuleList(nn.Linear(2 * frequencies, hidden) for _ in range(blocks))
        self.blocks = nn.ModuleList(nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                                  nn.Linear(hidden, hidden)) for _ in range(blocks))
        self.outputs = nn.Sequential(nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        angles = t.reshape(-1, 1) * self.scales
        features = torch.cat([angles.sin(), angles.cos()], 1)
        h = self.inputs(x)
        for time, block in zip(self.times, self.blocks):
            h = h + block(h + time(features))
        return self.outputs(h)


def _times(t: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``t`` (a number, or one time per row) as one time per row of ``x``."""
    return torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(len(x))


def interpolate(data: torch.Tensor, noise: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """``x_t = (1 - t) data + t noise``, ``t`` a number or one time per row."""
    t = _times(t, data).reshape(-1, *[1] * (data.dim() - 1))
    return (1 - t) * data + t * noise


def denoised(velocity: nn.Module, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """The data estimate ``f(x, t) = x - t v(x, t)``: where one Euler step from ``t`` straight to 0 lands."""
    times = _times(t, x)
    return x - times.reshape(-1, 1) * velocity(x, times)


def euler_step(velocity: nn.Module, x: torch.Tensor, t: float | torch.Tensor, size: float) -> torch.Tensor:
    """One Euler step of the probability-flow ODE from time ``t`` towards the data: ``x - size v(x, t)``."""
    return x - size * velocity(x, _times(t, x))


def check_steps(steps: int) -> int:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps={steps!r}: a sampler takes a whole number of steps >= 1")
    return steps


@torch.no_grad()
def euler_sample(velocity: nn.Module, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """The probability-flow ODE integrated from ``noise`` (t = 1) to t = 0 in ``steps`` equal Euler steps."""
    x, size = noise, 1.0 / check_steps(steps)
    for k in range(steps, 0, -1):
        x = euler_step(velocity, x, k * size, size)
    return x


@torch.no_grad()
def consistency_sample(velocity: nn.Module, noise: torch.Tensor, steps: int,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """Song et al.'s multistep consistency sampling: the data estimate at t = 1, then ``steps - 1`` times: noise
    it again to the next time of ``1 - k / steps`` (fresh noise from ``generator``) and estimate the data again."""
    x = denoised(velocity, noise, 1.0)
    for k in range(1, check_steps(steps)):
        t = 1 - k / steps
        fresh = torch.randn(noise.shape, generator=generator, device=noise.device, dtype=noise.dtype)
        x = denoised(velocity, interpolate(x, fresh, t), t)
    return x


def sample(velocity: nn.Module, noise: torch.Tensor, steps: int, sampler: str = "euler") -> torch.Tensor:
    """Latents from ``noise`` by ``sampler`` ("euler" or "consistency") in ``steps`` steps."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler={sampler!r} is not one of {list(SAMPLERS)}")
    return (euler_sample if sampler == "euler" else consistency_sample)(velocity, noise, steps)


@dataclass(frozen=True)
class Standardiser:
    """Per-dimension mean and standard deviation of a VAE's codes: the flow works on standardised codes, so
    that its noise N(0, I) and its data have the same scale in every dimension."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def of(cls, codes: torch.Tensor) -> Standardiser:
        std = codes.std(0)
        if not torch.isfinite(codes).all() or bool((std <= 0).any()):
            raise ValueError("the codes hold NaN/inf or a constant dimension: they cannot be standardised")
        return cls(codes.mean(0), std)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return (codes - self.mean.to(codes)) / self.std.to(codes)

    def inverse(self, standardised: torch.Tensor) -> torch.Tensor:
        return standardised * self.std.to(standardised) + self.mean.to(standardised)


@torch.no_grad()
def posterior_codes(vae: VAE, images: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    """The VAE's posterior means of ``images`` (floats in [0, 1], n x 1 x 28 x 28), on the CPU."""
    was_training, device = vae.training, next(vae.parameters()).device
    vae.eval()
    codes = torch.cat([vae.encode(images[start:start + batch].to(device))[0].cpu()
                       for start in range(0, len(images), batch)])
    vae.train(was_training)
    return codes


def standardised_codes(vae: VAE, images: torch.Tensor) -> tuple[torch.Tensor, Standardiser]:
    """The VAE's posterior means of ``images`` (in [0, 1]), standardised, and the standardiser that maps them back."""
    codes = posterior_codes(vae, images)
    standardiser = Standardiser.of(codes)
    return standardiser.forward(codes), standardiser


class LatentGenerator(nn.Module):
    """A latent sampler and the VAE's decoder as one generator, noise (n x dim) -> images in [-1, 1], so that the
    evaluation toolkit (``kdlib.evaluate``) measures it like any other: ``steps`` steps of ``sampler`` on
    standardised codes, mapped back to the VAE's codes, decoded to pixel probabilities, scaled to [-1, 1]."""

    def __init__(self, velocity: Velocity, vae: VAE, standardiser: Standardiser, steps: int,
                 sampler: str = "euler") -> None:
        super().__init__()
        if velocity.dim != vae.latent_dim:
            raise ValueError(f"the velocity network works on {velocity.dim} dimensions, the VAE's latents have "
                             f"{vae.latent_dim}")
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler={sampler!r} is not one of {list(SAMPLERS)}")
        self.velocity, self.decoder, self.standardiser = velocity, vae.decoder, standardiser
        self.steps, self.sampler, self.latent_dim = check_steps(steps), sampler, vae.latent_dim

    def latents(self, noise: torch.Tensor) -> torch.Tensor:
        """The VAE codes this generator decodes for ``noise``."""
        return self.standardiser.inverse(sample(self.velocity, noise, self.steps, self.sampler))

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(self.latents(noise))) * 2 - 1


class CodeBatches:
    """``steps`` batches of ``batch_size`` codes per epoch, drawn with replacement; the same for a given
    (seed, epoch), so that a resumed run repeats an uninterrupted one."""

    def __init__(self, codes: torch.Tensor, batch_size: int, steps: int, seed: int = 0) -> None:
        if codes.dim() != 2 or not len(codes):
            raise ValueError(f"codes must be a non-empty n x dim tensor, got {list(codes.shape)}")
        if min(batch_size, steps) < 1:
            raise ValueError(f"batch_size and steps must be >= 1, got {batch_size} and {steps}")
        self.codes, self.batch_size, self.steps, self.seed = codes, batch_size, steps, seed

    def __len__(self) -> int:
        return self.steps

    def epoch(self, index: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        stream = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        for _ in range(self.steps):
            rows = torch.randint(len(self.codes), (self.batch_size,), generator=stream).to(self.codes.device)
            yield self.codes[rows], self.codes[rows]


def _adam_cosine(model: nn.Module, learning_rate: float, steps: int
                 ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)


@dataclass(frozen=True)
class LatentObjective:
    """How a ``Velocity`` network learns. A subclass sets ``name`` and ``sampler`` (how its model is sampled) and
    builds the ``Training`` for ``steps`` optimiser steps from the codes and, for a student, its teacher."""

    name: ClassVar[str]
    sampler: ClassVar[str] = "euler"
    learning_rate: float = 1e-3

    def training(self, model: Velocity, teacher: Velocity | None, batches: CodeBatches, steps: int) -> Training:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        return {"objective": self.name, **asdict(self)}


@dataclass(frozen=True)
class FlowMatching(LatentObjective):
    """The teacher's objective: at a uniform time t, regress ``v(x_t, t)`` onto ``eps - x_0``, the velocity of
    the straight path from the data point to its noise."""

    name = "flow matching"

    def training(self, model: Velocity, teacher: Velocity | None, batches: CodeBatches, steps: int) -> Training:
        optimizer, schedule = _adam_cosine(model, self.learning_rate, steps)

        def step(data: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            noise, t = torch.randn_like(data), torch.rand(len(data), device=data.device)
            return {"flow matching": update(optimizer, flow_matching_loss(model, data, noise, t))}
        return Training({"velocity": model}, {"velocity": optimizer}, step, batches, {"velocity": schedule})


def flow_matching_loss(model: nn.Module, data: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean squared error between ``v(x_t, t)`` and ``noise - data``, summed over dimensions, mean over rows."""
    return (model(interpolate(data, noise, t), t) - (noise - data)).square().sum(1).mean()


@dataclass(frozen=True)
class OneStepRegression(LatentObjective):
    """Luhman & Luhman (2021): draw ``pairs`` noises once, run the teacher's sampler (``teacher_steps`` Euler
    steps) on each, then regress the student's one-step sample ``f(eps, 1) = eps - v(eps, 1)`` onto the
    teacher's. Data-free: the codes only set the batch size and the step count."""

    name = "one-step regression"
    learning_rate: float = 3e-3  # each student's rate: bench/diffusion_distillation.py --part tuning
    teacher_steps: int = 32
    pairs: int = 40_000

    def training(self, model: Velocity, teacher: Velocity | None, batches: CodeBatches, steps: int) -> Training:
        if teacher is None:
            raise ValueError(f"{self.name} distils a teacher: give one")
        device, made = batches.codes.device, []

        def pairs() -> tuple[torch.Tensor, torch.Tensor]:
            """The noises and the teacher's samples of them, made at the first step (so that their cost counts in
            the training time, and a finished run loads without making them)."""
            if not made:
                stream = torch.Generator().manual_seed(batches.seed * 1_000_003 + 7)
                noise = torch.randn(self.pairs, model.dim, generator=stream).to(device)
                made.extend([noise, torch.cat([euler_sample(teacher.eval(), chunk, self.teacher_steps)
                                               for chunk in noise.split(4096)])])
            return made[0], made[1]
        rows = CodeBatches(torch.arange(self.pairs, device=device)[:, None], batches.batch_size, len(batches),
                           batches.seed)
        optimizer, schedule = _adam_cosine(model, self.learning_rate, steps)

        def step(index: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            noise, targets = pairs()
            start, target = noise[index[:, 0]], targets[index[:, 0]]
            return {"regression": update(optimizer, (denoised(model, start, 1.0) - target).square().sum(1).mean())}
        return Training({"velocity": model}, {"velocity": optimizer}, step, rows, {"velocity": schedule})


def halving_target(teacher: nn.Module, x: torch.Tensor, t: torch.Tensor, size: float) -> torch.Tensor:
    """The velocity a student must have at ``(x, t)`` so that one step of ``2 size`` lands where two teacher
    Euler steps of ``size`` land: ``(x - x'') / (2 size)``."""
    middle = euler_step(teacher, x, t, size)
    end = euler_step(teacher, middle, t - size, size)
    return (x - end) / (2 * size)


@dataclass(frozen=True)
class Halving(LatentObjective):
    """One round of progressive distillation (Salimans & Ho 2022): the teacher samples in ``teacher_steps``
    steps, the student (which starts as a copy of it) learns to sample in half as many. At a time ``t`` of the
    student's grid, ``x_t`` is a training code noised to ``t``; the student's velocity there is regressed onto
    ``halving_target``."""

    name = "progressive distillation"
    learning_rate: float = 3e-3
    teacher_steps: int = 32

    def __post_init__(self) -> None:
        if self.teacher_steps < 2 or self.teacher_steps % 2:
            raise ValueError(f"teacher_steps={self.teacher_steps}: a round halves an even number of steps >= 2")

    def training(self, model: Velocity, teacher: Velocity | None, batches: CodeBatches, steps: int) -> Training:
        if teacher is None:
            raise ValueError(f"{self.name} distils a teacher: give one")
        teacher.eval()
        optimizer, schedule = _adam_cosine(model, self.learning_rate, steps)
        student_steps, size = self.teacher_steps // 2, 1.0 / self.teacher_steps

        def step(data: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            t = torch.randint(1, student_steps + 1, (len(data),), device=data.device).to(data.dtype) / student_steps
            x = interpolate(data, torch.randn_like(data), t)
            with torch.no_grad():
                target = halving_target(teacher, x, t, size)
            return {"halving": update(optimizer, (model(x, t) - target).square().sum(1).mean())}
        return Training({"velocity": model}, {"velocity": optimizer}, step, batches, {"velocity": schedule})


def consistency_target(teacher: nn.Module, target_model: nn.Module, x: torch.Tensor, t: torch.Tensor,
                       size: float) -> torch.Tensor:
    """What a consistency student's data estimate at ``(x, t)`` is regressed onto: one teacher Euler step of
    ``size`` to ``t - size``, then the target model's data estimate there (at t = 0 that is the point itself)."""
    return denoised(target_model, euler_step(teacher, x, t, size), t - size)


@dataclass(frozen=True)
class ConsistencyDistillation(LatentObjective):
    """Song et al. (2023): on a grid of ``intervals`` equal steps, noise a code to ``t_n``, take one teacher
    Euler step to ``t_(n-1)``, and regress the student's data estimate ``f(x_(t_n), t_n)`` onto the data estimate
    of an exponential moving average of the student (decay ``ema_decay``) at the teacher's point. Sampled by
    ``consistency_sample``."""

    name = "consistency distillation"
    sampler = "consistency"
    learning_rate: float = 1e-3
    intervals: int = 32
    ema_decay: float = 0.95

    def __post_init__(self) -> None:
        if self.intervals < 1 or not 0 <= self.ema_decay < 1:
            raise ValueError(f"intervals={self.intervals} must be >= 1 and ema_decay={self.ema_decay} in [0, 1)")

    def training(self, model: Velocity, teacher: Velocity | None, batches: CodeBatches, steps: int) -> Training:
        if teacher is None:
            raise ValueError(f"{self.name} distils a teacher: give one")
        teacher.eval()
        target_model = copy.deepcopy(model).requires_grad_(False)
        optimizer, schedule = _adam_cosine(model, self.learning_rate, steps)

        def step(data: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            n = torch.randint(1, self.intervals + 1, (len(data),), device=data.device).to(data.dtype)
            t = n / self.intervals
            x = interpolate(data, torch.randn_like(data), t)
            with torch.no_grad():
                target = consistency_target(teacher, target_model, x, t, 1.0 / self.intervals)
            loss = update(optimizer, (denoised(model, x, t) - target).square().sum(1).mean())
            with torch.no_grad():
                for kept, new in zip(target_model.parameters(), model.parameters()):
                    kept.lerp_(new, 1 - self.ema_decay)
            return {"consistency": loss}
        return Training({"velocity": model, "target": target_model}, {"velocity": optimizer}, step, batches,
                        {"velocity": schedule})


def train_latent(objective: LatentObjective, codes: torch.Tensor, steps: int, batch_size: int, seed: int,
                 checkpoints: Path, teacher: Velocity | None = None, identity: dict[str, Any] | None = None,
                 chunks: int = 4, architecture: dict[str, int] | None = None, fresh: bool = False,
                 description: str | None = None) -> tuple[Velocity, Trained]:
    """Train a ``Velocity`` network with ``objective`` for ``steps`` optimiser steps on the standardised ``codes``
    (``kdlib.train.fit``: checkpointed after each of ``chunks`` equal parts, resumed, repeatable). A student starts
    as a copy of ``teacher``; a teacher (``teacher=None``) from weights seeded by ``seed``, of ``architecture``
    (``Velocity``'s keyword arguments). ``identity`` (e.g. the teacher's checkpoint) joins the settings that name
    the checkpoint."""
    if steps < chunks or chunks < 1:
        raise ValueError(f"steps={steps} must be at least chunks={chunks} >= 1")
    settings = {**objective.settings(), "steps": steps, "batch_size": batch_size, "seed": seed,
                "architecture": architecture or {}, **(identity or {})}
    torch.manual_seed(int(settings_digest({"seed": seed, "architecture": architecture or {}}), 16) % 2**31)
    if teacher is None:
        model = Velocity(codes.shape[1], **(architecture or {})).to(codes.device)
    else:
        if architecture:
            raise ValueError("a student copies its teacher's architecture: leave architecture=None")
        model = copy.deepcopy(teacher).requires_grad_(True)
    batches = CodeBatches(codes, batch_size, steps // chunks, seed)
    training = objective.training(model, teacher, batches, chunks * len(batches))
    trained = fit(training, chunks, checkpoints, f"latent_{objective.name.replace(' ', '_')}", settings,
                  fresh=fresh, description=description or objective.name)
    return model.eval(), trained


def progressive_distillation(teacher: Velocity, codes: torch.Tensor, steps_per_round: int, batch_size: int,
                             seed: int, checkpoints: Path, teacher_steps: int = 32,
                             learning_rate: float = Halving.learning_rate,
                             identity: dict[str, Any] | None = None, fresh: bool = False
                             ) -> dict[int, tuple[Velocity, Trained]]:
    """Salimans & Ho's rounds: ``teacher_steps`` -> half -> ... -> 1, each round's student a copy of the previous
    round's, trained ``steps_per_round`` steps (``Halving``). The students by the steps they sample in."""
    if teacher_steps < 2 or teacher_steps & (teacher_steps - 1):
        raise ValueError(f"teacher_steps={teacher_steps} must be a power of two >= 2 for rounds of halving")
    students, current, steps = {}, teacher, teacher_steps
    while steps > 1:
        student, trained = train_latent(Halving(learning_rate, steps), codes, steps_per_round, batch_size, seed,
                                        checkpoints, current, identity, fresh=fresh,
                                        description=f"progressive distillation {steps} -> {steps // 2}")
        steps //= 2
        students[steps], current = (student, trained), student
    return students


def flow_space(vae: VAE, dataset: str) -> tuple[torch.Tensor, Standardiser]:
    """The latent space a flow teacher of ``vae`` lives in: its standardised posterior means of every training
    image of ``dataset`` (on the VAE's device), and the standardiser back to its codes."""
    codes, standardiser = standardised_codes(vae, scale(load(dataset, "train").images, VAE_PIXELS))
    return codes.to(next(vae.parameters()).device), standardiser
