"""The course's students: which ones notebook 04 trains, how, and how notebook 05 finds them again.

A ``Student`` is a family (``gan`` or ``vae``), an objective (a distillation
objective or ``scratch``) and a width. ``train_student`` trains one with
``kdlib.train.fit_epochs`` (checkpointed, resumable) and returns a record that
notebook 04 writes to its metrics; ``load_student`` rebuilds the model from
that record and its checkpoint alone, so the evaluation needs nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import torch
from torch import nn

from kdlib.batches import Batches
from kdlib.distill import (GAN_OBJECTIVES, TEACHERS, Adaptors, LatentBatches, gan_distill_step, load_teacher,
                           vae_distill_step)
from kdlib.evaluate import Ruler, evaluate_generator, sampler
from kdlib.models import VAE, Decoder, Discriminator, Generator
from kdlib.runs import RunDir, load_module, settings_digest
from kdlib.train import fit_epochs, gan_step, render, vae_step

OBJECTIVES = {"gan": (*GAN_OBJECTIVES, "scratch"), "vae": ("distilled", "scratch")}
MODULE = {"gan": "generator", "vae": "vae"}  # the module a checkpoint stores the student under


@dataclass(frozen=True)
class Student:
    """One student: ``family`` "gan" or "vae", an objective of ``OBJECTIVES[family]``, a width in (0, 1)."""

    family: str
    objective: str
    width: float

    def __post_init__(self) -> None:
        if self.family not in OBJECTIVES:
            raise ValueError(f"family {self.family!r} is not one of {list(OBJECTIVES)}")
        if self.objective not in OBJECTIVES[self.family]:
            raise ValueError(f"objective {self.objective!r} is not one of {list(OBJECTIVES[self.family])} "
                             f"for a {self.family} student")
        if not 0 < self.width < 1:
            raise ValueError(f"a student's width must be in (0, 1) (the teacher has width 1), got {self.width}")

    @property
    def name(self) -> str:
        """E.g. "GAN 1/8 output+adversarial"."""
        return f"{self.family.upper()} {Fraction(self.width).limit_denominator(64)} {self.objective}"

    def build(self, latent_dim: int) -> nn.Module:
        """The untrained student: the teacher's architecture at ``width``."""
        return (Generator if self.family == "gan" else VAE)(latent_dim, self.width)


def as_generator(model: nn.Module) -> nn.Module:
    """A model that maps z to images in [-1, 1]: a generator as is, a VAE's decoder (``Decoder``)."""
    return Decoder(model) if isinstance(model, VAE) else model


def train_student(student: Student, teacher: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  hyper: dict[str, Any], run: RunDir, device: torch.device | str = "cpu",
                  fresh: bool = False) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """Train ``student`` (from ``teacher``, unless it is a scratch baseline) on uint8 training ``images``.

    ``hyper`` holds ``epochs``, ``batch_size``, ``seed``, ``learning_rate`` (the
    teacher recipe's, used by scratch baselines, every VAE student and each
    discriminator), ``distill_learning_rate`` (GAN students that learn from the
    teacher: Adam, cosine-annealed to 0), ``adversarial_weight``,
    ``feature_weight`` and ``teacher`` (the teacher's checkpoint name, so a new
    teacher gets new students). Every student of a family and size takes the
    same number of optimiser steps. Returns the trained model (evaluation mode),
    its training history and the record ``load_student`` needs.
    """
    latent_dim = teacher.latent_dim
    settings = {**asdict(student), **hyper, "latent_dim": latent_dim}
    # Each student's random draws (initial weights, latents) depend on its own settings only, not on which
    # students this process trained or loaded before it: a resumed notebook gives the same students.
    torch.manual_seed(int(settings_digest(settings), 16) % 2**31)
    model = student.build(latent_dim).to(device)
    gan = student.family == "gan"
    real = Batches(images, labels, hyper["batch_size"], seed=hyper["seed"], drop_last=True, device=device,
                   value_range=(-1.0, 1.0) if gan else (0.0, 1.0))
    modules: dict[str, nn.Module] = {MODULE[student.family]: model}
    optimizers, schedulers, batches = {}, {}, real
    if not gan:
        optimizers["vae"] = torch.optim.Adam(model.parameters(), lr=hyper["learning_rate"])
        step = (vae_step(model, optimizers["vae"]) if student.objective == "scratch"
                else vae_distill_step(model, teacher, optimizers["vae"]))
    else:
        if student.objective in ("scratch", "output+adversarial"):
            modules["discriminator"] = Discriminator(1.0).to(device)
            optimizers["discriminator"] = torch.optim.Adam(modules["discriminator"].parameters(),
                                                           lr=hyper["learning_rate"], betas=(0.5, 0.999))
        if student.objective == "scratch":
            optimizers["generator"] = torch.optim.Adam(model.parameters(), lr=hyper["learning_rate"],
                                                       betas=(0.5, 0.999))
            step = gan_step(model, modules["discriminator"], optimizers["generator"], optimizers["discriminator"])
        else:
            adaptors = Adaptors(model, teacher).to(device)
            trained = list(model.parameters())
            if student.objective == "output+features":
                modules["adaptors"] = adaptors
                trained += list(adaptors.parameters())
            optimizers["generator"] = torch.optim.Adam(trained, lr=hyper["distill_learning_rate"])
            schedulers["generator"] = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizers["generator"], T_max=hyper["epochs"] * len(real))
            step = gan_distill_step(model, teacher, optimizers["generator"], student.objective, adaptors,
                                    modules.get("discriminator"), optimizers.get("discriminator"),
                                    hyper["feature_weight"], hyper["adversarial_weight"])
            if student.objective != "output+adversarial":
                batches = LatentBatches(latent_dim, hyper["batch_size"], len(real), hyper["seed"], device)
    slug = student.objective.replace("+", "_")
    checkpoint = run.file("checkpoints", f"04_{student.family}_{slug}_{settings_digest(settings)}.pt")
    fixed_z = torch.randn(64, latent_dim, generator=torch.Generator().manual_seed(hyper["seed"] + 1)).to(device)
    generator = as_generator(model)
    history = fit_epochs(modules, optimizers, step, batches, hyper["epochs"], checkpoint, settings,
                         snapshot=lambda: render(generator, fixed_z), snapshots_per_epoch=2, fresh=fresh,
                         schedulers=schedulers, description=student.name)
    record = {**asdict(student), "name": student.name, "checkpoint": checkpoint.name, "settings": settings,
              "training_seconds": history["seconds"], "steps": hyper["epochs"] * len(batches),
              "final_losses": history["epochs"][-1]}
    return model.eval(), history, record


def load_student(run: RunDir, record: dict[str, Any], device: torch.device | str = "cpu") -> nn.Module:
    """The trained student of a notebook-04 ``record``, from its checkpoint alone (evaluation mode)."""
    student = Student(record["family"], record["objective"], record["width"])
    path = run.require(("checkpoints", record["checkpoint"]), "04_distilling_students")
    model = student.build(record["settings"]["latent_dim"])
    return load_module(model, path, MODULE[student.family]).to(device)


@torch.no_grad()
def generated(model: nn.Module, samples: int, seed: int = 0, device: torch.device | str = "cpu",
              batch: int = 1000) -> torch.Tensor:
    """``model``'s images (in [-1, 1]) for the first ``samples`` latents of ``sampler(..., seed)``."""
    generate = sampler(model, model.latent_dim, device, seed)
    return torch.cat([generate(min(batch, samples - start)) for start in range(0, samples, batch)])


@torch.no_grad()
def fidelity(model: nn.Module, teacher_images: torch.Tensor, seed: int = 0, device: torch.device | str = "cpu",
             batch: int = 1000) -> float:
    """Mean absolute pixel difference between ``model``'s images and the teacher's for the same latents.

    ``teacher_images`` come from ``generated(teacher, n, seed)``, computed once for all
    students; the difference is halved, so it reads on a 0..1 pixel scale: 0 is a
    perfect copy of the teacher.
    """
    generate, samples = sampler(model, model.latent_dim, device, seed), len(teacher_images)
    total = sum((generate(min(batch, samples - start)) - teacher_images[start:start + batch]).abs().sum().item()
                for start in range(0, samples, batch))
    return total / (2 * teacher_images[0].numel() * samples)


def evaluation_table(run: RunDir, measure: Ruler, samples: int, seed: int = 0,
                     device: torch.device | str = "cpu") -> list[dict[str, Any]]:
    """One row per model (each teacher, then its students), from the run's metrics and checkpoints alone.

    Every model meets the same ``samples`` latents (``sampler`` with ``seed``); a
    row holds the cost (parameters, MACs, images/s, latency), the quality
    (``evaluate_generator``), the fidelity to its teacher and the training time.
    """
    records = run.read_metrics("04_distilling_students")["students"]
    rows = []
    for family, (notebook, _) in TEACHERS.items():
        teacher = as_generator(load_teacher(run, family, device)).eval()
        teacher_images = generated(teacher, samples, seed, device)  # once per family: every fidelity's reference
        models = [({"family": family, "objective": "teacher", "width": 1.0, "name": f"{family.upper()} teacher",
                    "training_seconds": run.read_metrics(notebook)["training_seconds"]}, teacher)]
        models += [(record, as_generator(load_student(run, record, device))) for record in records
                   if record["family"] == family]
        for record, model in models:
            generate = sampler(model, model.latent_dim, device, seed)
            metrics = evaluate_generator(generate, model, torch.zeros(1, model.latent_dim, device=device),
                                         measure.net, measure.real, samples=samples)
            rows.append({key: record[key] for key in ("name", "family", "objective", "width", "training_seconds")}
                        | metrics | {"fidelity": 0.0 if model is teacher else fidelity(model, teacher_images, seed, device)})
    return rows


TARGETS = {"gan": {"fewer_parameters": 10.0, "versus_teacher": 1.3, "versus_scratch": 0.6, "speedup": 10.0},
           "vae": {"fewer_parameters": 5.0, "versus_scratch": 0.8}}


def target_checks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The course's targets (``TARGETS``) checked for every distilled student small enough to be held to them.

    GAN: Fréchet distance <= 1.3x the teacher's and <= 0.6x the same-size scratch
    student's, >= 10x the teacher's images/s; VAE: <= 0.8x the scratch student's.
    """
    checks = []
    for row in rows:
        if row["objective"] in ("teacher", "scratch"):
            continue
        target = TARGETS[row["family"]]
        teacher = next(r for r in rows if r["family"] == row["family"] and r["objective"] == "teacher")
        scratch = next(r for r in rows if r["family"] == row["family"] and r["objective"] == "scratch"
                       and r["width"] == row["width"])
        check = {"student": row["name"], "fewer_parameters": teacher["parameters"] / row["parameters"],
                 "versus_teacher": row["frechet_distance"] / teacher["frechet_distance"],
                 "versus_scratch": row["frechet_distance"] / scratch["frechet_distance"],
                 "speedup": row["images_per_second"] / teacher["images_per_second"]}
        if check["fewer_parameters"] < target["fewer_parameters"]:
            continue
        check["met"] = all(check[key] <= limit if key.startswith("versus") else check[key] >= limit
                           for key, limit in target.items())
        checks.append(check)
    return checks


def target_rows(checks: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``target_checks``' results as table rows: the ratios rounded, "yes"/"no" for the target."""
    return [{"student": c["student"], "fewer parameters": f"{c['fewer_parameters']:.1f}x",
             "FD / teacher's": f"{c['versus_teacher']:.2f}x", "FD / scratch's": f"{c['versus_scratch']:.2f}x",
             "images/s / teacher's": f"{c['speedup']:.1f}x", "target met": "yes" if c["met"] else "no"}
            for c in checks]
