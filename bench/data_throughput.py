"""Images per second for one training epoch: kdlib.Batches vs torchvision Dataset + DataLoader.

Both read the same Fashion-MNIST training files and produce float batches in [-1, 1]
of 128 images; the second pair of rows adds random shifts of up to 2 pixels
(``jitter=2`` vs ``RandomCrop(28, padding=2)``). Run: ``python bench/data_throughput.py``.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms

import kdlib
from kdlib.data import find_files

BATCH = 128
NAME = "fashion-mnist"


def epoch_rate(batches) -> float:
    """Images per second over one full pass."""
    start, count = time.perf_counter(), 0
    for x, _ in batches:
        count += len(x)
    return count / (time.perf_counter() - start)


def torchvision_root(target: Path) -> Path:
    """A torchvision layout holding the same (verified) files kdlib reads, uncompressed."""
    raw = target / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name, path in find_files(NAME).items():
        with (gzip.open(path) if path.suffix == ".gz" else open(path, "rb")) as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return target


def main() -> None:
    torch.manual_seed(0)
    train = kdlib.load(NAME, "train")
    to_range = [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = torchvision_root(Path(tmp))
        for label, jitter, extra in (("plain", 0, []), ("jitter 2 px", 2, [transforms.RandomCrop(28, padding=2)])):
            dataset = torchvision.datasets.FashionMNIST(str(root), train=True, download=False,
                                                        transform=transforms.Compose(extra + to_range))
            baseline = epoch_rate(DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0))
            ours = epoch_rate(kdlib.Batches(train.images, train.labels, BATCH, jitter=jitter))
            rows.append((label, ours, baseline))
    print(f"one epoch of {len(train)} {NAME} images, batch {BATCH}, {torch.get_num_threads()} threads")
    print("| pipeline | kdlib.Batches (img/s) | torchvision DataLoader (img/s) | speed-up |")
    print("|---|---:|---:|---:|")
    for label, ours, baseline in rows:
        print(f"| {label} | {ours:,.0f} | {baseline:,.0f} | {ours / baseline:.1f}x |")


if __name__ == "__main__":
    main()
