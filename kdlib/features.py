"""The feature network: a small CNN trained on the data set, the ruler for every quality metric. Its penultimate
layer (128 values) gives the features of the Fréchet distance, precision/recall and density/coverage; its logits
the class predictions. It takes images in [-1, 1], the range the generators produce.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from kdlib.batches import Batches, scale
from kdlib.data import load
from kdlib.train import classifier_training, fit

FEATURES = 128


class FeatureNet(nn.Module):
    """conv(32)-pool-conv(64)-pool-linear(128)-linear(classes), with batch norm."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, FEATURES), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURES, classes))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(images))

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """Features (N x 128) and class probabilities (N x classes) of images in [-1, 1]."""
        self.eval()
        features, probabilities = [], []
        for start in range(0, len(images), batch_size):
            h = self.body(images[start:start + batch_size])
            features.append(h)
            probabilities.append(F.softmax(self.head(h), dim=1))
        return torch.cat(features), torch.cat(probabilities)


def feature_network(dataset: str, checkpoints: Path, epochs: int, device: torch.device | str = "cpu",
                    batch_size: int = 128, seed: int = 0, train_size: int | None = None, jitter: int = 0
                    ) -> tuple[FeatureNet, float, Path]:
    """The data set's feature network, its test accuracy and its checkpoint: loaded from ``checkpoints``, else trained.

    ``train_size`` limits training to the first images (the smoke profile's shortcut; None: all); ``jitter``
    shifts each training image by up to that many pixels (augmentation for a stronger ruler).
    """
    settings = {"name": "feature_net", "dataset": dataset, "epochs": epochs, "batch_size": batch_size, "seed": seed}
    settings |= {k: v for k, v in (("train_size", train_size), ("jitter", jitter)) if v}
    train, test = load(dataset, "train"), load(dataset, "test")
    torch.manual_seed(seed)
    net = FeatureNet(len(train.classes)).to(device)
    labels = train.labels[:train_size].to(device)
    batches = Batches(train.images[:train_size], torch.arange(len(labels)), batch_size, seed=seed,
                      jitter=jitter, device=device)
    training = classifier_training(net, batches, epochs, 2e-3,
                                   lambda logits, x, rows: F.cross_entropy(logits, labels[rows]))
    trained = fit(training, epochs, checkpoints, f"feature_net_{dataset}", settings,
                  description=f"feature network ({dataset})")
    _, probabilities = net.embed(scale(test.images).to(device))
    accuracy = float((probabilities.argmax(1).cpu() == test.labels).float().mean())
    return net, accuracy, trained.checkpoint
