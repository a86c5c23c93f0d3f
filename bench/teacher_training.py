"""Training throughput of the two teachers: kdlib.Batches vs a plain torchvision DataLoader loop.

The same model, optimiser and step (``kdlib.train.gan_step`` / ``vae_step``) are fed
either by ``kdlib.Batches`` (the course's loader) or by torchvision's
``FashionMNIST`` dataset with ``ToTensor`` (+ ``Normalize`` to [-1, 1] for the GAN)
and a ``DataLoader`` (shuffled, no workers; with 2 workers as a second baseline).
Each loop runs ``STEPS`` steps after a warm-up, alternately, three times; the
medians are printed with their ratio. Run: ``python bench/teacher_training.py``.
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torchvision
from data_throughput import torchvision_root  # same folder: the verified files in torchvision's layout
from torch.utils.data import DataLoader
from torchvision import transforms

import kdlib
from kdlib.course.config import SETTINGS
from kdlib.models import VAE, Discriminator, Generator
from kdlib.train import gan_step, vae_step

NAME = "fashion-mnist"
STEPS = 60
WARMUP = 5
ROUNDS = 3


def images_per_second(step: Callable, batches: Iterable, batch: int) -> float:
    """Steps of ``step`` over ``batches`` (cycled): images per second after a warm-up."""
    stream = itertools.chain.from_iterable(batches.epoch(e) if hasattr(batches, "epoch") else batches
                                           for e in itertools.count())
    for _, (images, targets) in zip(range(WARMUP), stream):
        step(images, targets)
    start = time.perf_counter()
    for _, (images, targets) in zip(range(STEPS), stream):
        step(images, targets)
    return STEPS * batch / (time.perf_counter() - start)


def teachers() -> dict[str, tuple[Callable, int, tuple[float, float]]]:
    """Each teacher's training step, batch size and pixel range, as the notebooks train them."""
    torch.manual_seed(0)
    generator, discriminator = Generator(64, 1.0), Discriminator(1.0)
    g_opt = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    vae = VAE(16, 1.0)
    settings = SETTINGS
    return {"GAN teacher (02)": (gan_step(generator, discriminator, g_opt, d_opt),
                                 settings["gan_batch_size"].quick, (-1.0, 1.0)),
            "VAE teacher (03)": (vae_step(vae, torch.optim.Adam(vae.parameters(), lr=1e-3)),
                                 settings["batch_size"].quick, (0.0, 1.0))}


def main() -> None:
    train = kdlib.load(NAME, "train")
    print(f"training steps on {NAME}, {STEPS} steps per measurement, median of {ROUNDS}, "
          f"{torch.get_num_threads()} threads, CPU")
    print("| teacher | batch | kdlib.Batches (img/s) | DataLoader, 0 workers (img/s) | DataLoader, 2 workers (img/s) "
          "| speed-up vs 0 workers | vs 2 workers |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(tmp))
        for name, (step, batch, value_range) in teachers().items():
            to_tensor = [transforms.ToTensor()] + ([transforms.Normalize((0.5,), (0.5,))] if value_range[0] < 0 else [])
            dataset = torchvision.datasets.FashionMNIST(str(root), train=True, download=False,
                                                        transform=transforms.Compose(to_tensor))
            loaders = {"ours": kdlib.Batches(train.images, train.labels, batch, value_range=value_range, drop_last=True),
                       "0 workers": DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True),
                       "2 workers": DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True,
                                               num_workers=2, persistent_workers=True)}
            rates: dict[str, list[float]] = {key: [] for key in loaders}
            for _ in range(ROUNDS):
                for key, loader in loaders.items():
                    rates[key].append(images_per_second(step, loader, batch))
            ours, plain, workers = (statistics.median(rates[key]) for key in loaders)
            print(f"| {name} | {batch} | {ours:,.0f} | {plain:,.0f} | {workers:,.0f} | {ours / plain:.2f}x | {ours / workers:.2f}x |")


if __name__ == "__main__":
    main()
