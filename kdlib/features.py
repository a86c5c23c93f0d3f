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
RANDOM_FEATURES = 256  # the second ruler's (``RandomFeatures``)


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


class RandomFeatures(nn.Module):
    """The second ruler's network: an untrained CNN of another design than ``FeatureNet`` (strided 5x5 and 3x3
    convolutions, leaky ReLUs, no pooling, no batch norm, a random projection to ``RANDOM_FEATURES`` values), its
    weights drawn from ``seed`` alone. It shares neither the shipped ruler's training nor its architecture, so a
    ranking both rulers agree on is no artefact of one network; random embeddings are what Naeem et al. (2020)
    suggest for data far from ImageNet. It has no classes: it measures Fréchet distances, not class shares."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):  # its weights from ``seed``, the caller's random stream untouched
            torch.manual_seed(seed)
            self.body = nn.Sequential(
                nn.Conv2d(1, 64, 5, stride=2, padding=2), nn.LeakyReLU(0.2),
                nn.Conv2d(64, 128, 5, stride=2, padding=2), nn.LeakyReLU(0.2),
                nn.Conv2d(128, 256, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.Flatten(), nn.Linear(256 * 4 * 4, RANDOM_FEATURES))
        self.requires_grad_(False)
        self.eval()

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Features (N x ``RANDOM_FEATURES``) of images in [-1, 1]."""
        return torch.cat([self.body(images[start:start + batch_size]) for start in range(0, len(images), batch_size)])


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
