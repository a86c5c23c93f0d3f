"""Is the scratch GAN baseline handicapped by its initial weights? PyTorch's default against DCGAN's N(0, 0.02).

The distilled GAN students start cut from their teacher; the scratch students start from PyTorch's default initial
weights (Kaiming-uniform convolutions, batch-norm scales of 1). DCGAN (Radford et al., 2016) draws every
convolution's weights from N(0, 0.02) and every batch-norm scale from N(1, 0.02). If that start were better, the
baseline would deserve it. This trains the `quick` scratch student (width 0.12, sub-pixel, one epoch, batch 64,
the teacher-width discriminator, both players cosine-annealed) with DCGAN's start for both players on the learning
rates around its tuned one, seed 0, then the best rate with seeds 0, 1, 2; scored as ``bench/student_tuning.py``
scores (Fréchet distance of 5,000 samples to the last 10,000 training images, held out, shipped ruler), beside that
search's numbers for the default start (``docs/results/student-tuning/tuning.csv`` and ``tuning-best.csv``).

Run: ``python bench/scratch_init.py [--rates 3e-3 1e-2 3e-2 1e-1]``
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

import torch
from torch import nn

from student_tuning import SAMPLES, TRAIN, held_out_scorer

from kdlib import Batches, GANScratch, Generator, fit, markdown_table
from kdlib.course.config import SETTINGS
from kdlib.store import project_root
RESULTS = project_root() / "docs" / "results" / "student-tuning"


@torch.no_grad()
def dcgan_start(module: nn.Module) -> None:
    """DCGAN's initial weights, in place: convolutions from N(0, 0.02), batch-norm scales from N(1, 0.02), shifts 0."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(layer.weight, 0.0, 0.02)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)


def default_start() -> tuple[dict[float, float], str]:
    """The default start's scratch GAN (teacher-width discriminator) in the committed search: distance per learning
    rate (seed 0), and its best rate's mean ± sd over seeds 0, 1, 2."""
    with open(RESULTS / "tuning.csv") as file:
        grid = {float(row["learning rate"]): float(row["Fréchet distance (held-out train)"])
                for row in csv.DictReader(file) if row["objective"] == "scratch" and row["discriminator width"] == "1.0"}
    with open(RESULTS / "tuning-best.csv") as file:
        best = next(row for row in csv.DictReader(file) if row["objective"] == "scratch")
    return grid, best["over seeds 0 1 2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[3e-3, 1e-2, 3e-2, 1e-1])
    args = parser.parse_args()
    train, distance_of = held_out_scorer()
    width, batch = SETTINGS["student_widths"].quick[0], SETTINGS["gan_batch_size"].quick
    checkpoints = project_root() / "runs" / "bench-scratch-init" / "checkpoints"

    def scored(rate: float, seed: int) -> float:
        torch.manual_seed(seed)
        student = Generator(64, width, SETTINGS["gan_student_upsampling"].quick)
        real = Batches(train.images[:TRAIN], train.labels[:TRAIN], batch, seed=seed, drop_last=True)
        training = GANScratch(learning_rate=rate, discriminator_width=1.0).training(student, None, real, epochs=1)
        for module in training.modules.values():  # before any step: the optimisers hold these very tensors
            dcgan_start(module)
        settings = {"start": "dcgan", "learning_rate": rate, "seed": seed, "width": width, "train_size": TRAIN}
        fit(training, 1, Path(checkpoints), "scratch_dcgan_start", settings, description=f"scratch, DCGAN start, {rate:g}")
        return distance_of(student.eval())

    grid, default_best = default_start()
    rows = [{"learning rate": rate, "default start (seed 0)": grid.get(rate, float("nan")),
             "DCGAN start (seed 0)": scored(rate, 0)} for rate in args.rates]
    best = min(rows, key=lambda row: row["DCGAN start (seed 0)"])
    seeds = [best["DCGAN start (seed 0)"]] + [scored(best["learning rate"], seed) for seed in (1, 2)]
    print(f"Scratch GAN students (width {width:g}, one epoch, teacher-width discriminator): Fréchet distance of "
          f"{SAMPLES:,} samples to the last {len(train) - TRAIN:,} training images\n")
    print(markdown_table(rows))
    print(f"\nBest DCGAN start: {best['learning rate']:g}, seeds 0, 1, 2: {statistics.mean(seeds):.1f} ± "
          f"{statistics.stdev(seeds):.1f} ({', '.join(f'{d:.1f}' for d in seeds)}); the default start at its best "
          f"rate: {default_best}")


if __name__ == "__main__":
    main()
