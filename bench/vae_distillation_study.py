"""Why the VAE students do not beat their scratch baseline: a feature term, and the teacher's own recipe.

Every VAE here is a student of the `quick` profile's recipe (width 0.12 unless ``--width``, 2 epochs, batch 256) or a
teacher, trained on the first 50,000 training images and scored, as ``bench/student_tuning.py`` scores, by the
Fréchet distance of 5,000 samples (each VAE from its own ex-post prior, ``kdlib.course.generator_of``) to the
*last 10,000 training images*, on two feature networks:

- the shipped ruler (``pretrained/ruler-<dataset>.pt``), on which the course reports every Fréchet distance;
- an independent one: the second hidden layer (1,200 units) of notebook 01's shipped classifier teacher
  (``pretrained/classifier-<dataset>.pt``, an MLP: another architecture, trained for another purpose). A term that
  trains a student on the ruler's own features can lower the ruler's distance without making better images
  (Goodhart's law); the independent network tells the two apart.

Parts (``--part``):

- ``features``: decoder distillation with a feature ("perceptual") term added, the squared distance between the
  student's and the teacher's decoded images in a network's features, on the ruler's 128 features or on the
  classifier's 1,200, at several weights; beside the tuned distilled student without it and the tuned scratch
  student (settings: the `quick` profile's, chosen by ``bench/student_tuning.py --family vae``).
- ``teacher``: is the teacher's recipe the bottleneck? The scratch students' search prefers a KL weight beta < 1
  (the course samples every VAE from an ex-post prior). This trains teachers with the shipped recipe (50 epochs)
  but each beta of ``--teacher-kl-weights`` (1 is the ELBO), on the first 50,000 images (about 10 minutes each on
  one core; checkpoints kept in runs/bench-vae-study), scores each, and distils the same students from each.

Each student configuration is trained with ``--seeds`` seeds (mean and sample standard deviation printed).
Writes ``docs/results/vae-study/<part>[-width-W].csv``.

Run: ``python bench/vae_distillation_study.py --part features|teacher [--seeds 0 1 2] [--width 0.12]
[--teacher-kl-weights 1 0.25 0.125 0.06 0.03] [--learning-rate R]``
"""

from __future__ import annotations

import argparse
import csv
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from kdlib import (VAE, Student, VAEDistillation, VAEScratch, generated, load, markdown_table, sampler, scale,
                   train_student, train_vae)
from kdlib.batches import Batches
from kdlib.course import generator_of, shipped_ruler, shipped_teacher
from kdlib.course.config import RECIPES, profile_values
from kdlib.course.shipped import load_shipped
from kdlib.metrics import frechet_distance
from kdlib.progress import progress
from kdlib.store import project_root
from kdlib.train import Training, update

QUICK = profile_values("quick")

DATASET, TRAIN, SAMPLES = "fashion-mnist", 50_000, 5_000
WIDTH = 0.12  # the width of the committed results (the quick profile trained VAE students of width 0.12 then)
EPOCHS, BATCH = QUICK["vae_student_epochs"], QUICK["batch_size"]
WORK = project_root() / "runs" / "bench-vae-study"
FEATURES: dict[str, nn.Module] = {}  # feature space name -> network on images in [0, 1], filled by main()


@dataclass(frozen=True)
class FeatureDistillation(VAEDistillation):
    """``VAEDistillation`` plus ``feature_weight`` times the squared distance (summed over features, mean over the
    batch) between the student's and the teacher's decoded pixel means in the ``features`` network's space."""

    feature_weight: float = 0.1
    features: str = "ruler"

    def training(self, student: nn.Module, teacher: nn.Module, real: Batches, epochs: int) -> Training:
        distilled = super().training(student, teacher, real, epochs)
        optimizer, embed = distilled.optimizers["vae"], FEATURES[self.features]

        def step(images: torch.Tensor, _: torch.Tensor) -> dict[str, torch.Tensor]:
            losses, student_logits, teacher_logits = self.losses(student, teacher, images)
            with torch.no_grad():
                target = embed(torch.sigmoid(teacher_logits))
            losses["features"] = self.feature_weight * (embed(torch.sigmoid(student_logits)) - target).square().sum(1).mean()
            total = update(optimizer, sum(losses.values()))
            return {"total": total, **{name: loss.detach() for name, loss in losses.items()}}
        return Training(distilled.modules, distilled.optimizers, step, distilled.batches)


class Scorer:
    """Fréchet distances of a VAE's samples to the held-out training images on both feature networks."""

    def __init__(self, train_images: torch.Tensor) -> None:
        held_out = scale(train_images[TRAIN:])
        self.reference = {name: self.embed(name, held_out) for name in ("ruler", "classifier")}

    @staticmethod
    @torch.no_grad()
    def embed(name: str, images: torch.Tensor) -> torch.Tensor:
        """Features of images in [-1, 1], in batches."""
        return torch.cat([FEATURES[name]((images[i:i + 1000] + 1) / 2) for i in range(0, len(images), 1000)])

    def __call__(self, model: VAE) -> dict[str, float]:
        images = generated(sampler(generator_of(model, DATASET), model.latent_dim, seed=0), SAMPLES)
        return {name: frechet_distance(self.embed(name, images), reference)
                for name, reference in self.reference.items()}


def feature_networks() -> None:
    """The two feature spaces, frozen, on images in [0, 1]: the ruler's penultimate layer, the classifier's."""
    measure, _ = shipped_ruler(DATASET, samples=SAMPLES)
    classifier, _ = load_shipped(f"classifier-{DATASET}")
    hidden = classifier.net[:7].eval()  # flatten, dropout, 784 -> 1200, ReLU, dropout, 1200 -> 1200, ReLU
    ruler = measure.net.body.eval()
    for network in (ruler, hidden):
        network.requires_grad_(False)
    FEATURES["ruler"] = lambda images: ruler(images * 2 - 1)
    FEATURES["classifier"] = hidden


def students(objectives: dict[str, object], teacher: nn.Module, identity: dict, seeds: list[int], train, score,
             width: float) -> list[dict]:
    """Each objective trained with every seed; a row with both distances' mean and spread, and the wall time."""
    rows = []
    for label, objective in progress(list(objectives.items()), desc="students"):
        scores, seconds = [], []
        for seed in seeds:
            model, trained = train_student(Student(objective, width), teacher, train.images[:TRAIN],
                                           train.labels[:TRAIN], EPOCHS, BATCH, seed, WORK / "checkpoints", identity)
            scores.append(score(model))
            seconds.append(trained.history["seconds"])
        row = {"student": f"{label}, width {width:g}", "seeds": len(seeds)}
        for name in ("ruler", "classifier"):
            values = [s[name] for s in scores]
            row[f"FD {name}"] = statistics.mean(values)
            row[f"FD {name} sd"] = statistics.stdev(values) if len(values) > 1 else float("nan")
        rows.append(row | {"training (s)": statistics.mean(seconds)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("features", "teacher"), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--teacher-kl-weights", type=float, nargs="+", default=[1.0, 0.25, 0.125, 0.06, 0.03])
    parser.add_argument("--width", type=float, default=WIDTH, help="the students' width")
    parser.add_argument("--learning-rate", type=float, help="both students' (default: each one's at width 0.12)")
    parser.add_argument("--out", type=Path, default=project_root() / "docs" / "results" / "vae-study")
    args = parser.parse_args()
    feature_networks()
    train = load(DATASET, "train")
    score = Scorer(train.images)
    rates = {"distill": args.learning_rate or VAEDistillation.learning_rate,  # the width-0.12 search's
             "scratch": args.learning_rate or VAEScratch.learning_rate}
    tuned = {"distilled": VAEDistillation(rates["distill"], QUICK["vae_distilled_posterior_fraction"]),
             "scratch": VAEScratch(rates["scratch"], QUICK["vae_scratch_kl_weight"])}
    if args.part == "features":
        shipped, provenance = shipped_teacher("vae", DATASET)
        identity = {"dataset": DATASET, "train_size": TRAIN, "teacher": provenance.checkpoint.sha256}
        objectives = {"scratch (tuned)": tuned["scratch"], "distilled (tuned)": tuned["distilled"]}
        for space in ("ruler", "classifier"):
            for weight in args.weights:
                objectives[f"distilled + {space} features x {weight:g}"] = FeatureDistillation(
                    **vars(tuned["distilled"]), feature_weight=weight, features=space)
        rows = students(objectives, shipped, identity, args.seeds, train, score, args.width)
        heading = (f"VAE students of the shipped teacher, {EPOCHS} epochs, batch {BATCH}, "
                   f"seeds {args.seeds}")
    else:
        recipe = RECIPES[f"vae-{DATASET}"].settings
        torch.set_num_threads(1)  # as the shipped teachers were timed
        teachers = {beta: train_vae(train.images[:TRAIN], WORK / "checkpoints", dataset=DATASET, kl_weight=beta,
                                    **{key: value for key, value in recipe.items() if key != "kl_weight"})
                    for beta in args.teacher_kl_weights}
        first = next(iter(teachers.values()))[0]  # the scratch students' train_student needs a teacher: unused
        rows = students({"scratch (tuned)": tuned["scratch"]}, first, {"dataset": DATASET, "train_size": TRAIN},
                        args.seeds, train, score, args.width)
        for beta, (teacher, trained) in teachers.items():
            teacher.eval()
            rows.append({"student": f"teacher, beta {beta:g}", "seeds": 1,
                         **{f"FD {name}": value for name, value in score(teacher).items()},
                         "training (s)": trained.history["seconds"]})
            rows += students({f"distilled from the beta {beta:g} teacher": tuned["distilled"]}, teacher,
                             {"dataset": DATASET, "train_size": TRAIN, "teacher_kl_weight": beta}, args.seeds, train,
                             score, args.width)
        heading = (f"VAE teachers (the shipped recipe: {recipe['epochs']} epochs, but beta as given and the first "
                   f"{TRAIN:,} images) and their students ({EPOCHS} epochs, seeds {args.seeds})")
    args.out.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(key for row in rows for key in row))
    stem = args.part if args.width == WIDTH else f"{args.part}-width-{args.width:g}"
    with open(args.out / f"{stem}.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"{heading}; Fréchet distance of {SAMPLES:,} samples (own ex-post prior) to the last 10,000 training "
          f"images on the shipped ruler and on the shipped classifier's hidden layer\n")
    print(markdown_table([{key: f"{value:.1f}" if isinstance(value, float) else value for key, value in row.items()}
                          for row in rows]))
    print(f"\nwrote {args.out / (stem + '.csv')}")


if __name__ == "__main__":
    main()
