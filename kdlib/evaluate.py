"""One function that measures a generator end to end, so every table uses the same numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from kdlib.batches import scale
from kdlib.cost import macs_per_image, parameter_count, speed
from kdlib.data import load
from kdlib.features import FeatureNet
from kdlib.metrics import class_statistics, frechet_distance, knn_radii, precision_recall_density_coverage

K = 5  # neighbours for precision, recall, density and coverage, as in both papers


@dataclass(frozen=True)
class Reference:
    """Features of real images that generated ones are compared with."""

    features: torch.Tensor
    class_distribution: torch.Tensor
    radii: torch.Tensor  # k-NN radii of the features (k = K), computed once


def reference(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor) -> Reference:
    """The reference for real images (uint8) and their labels."""
    features, _ = net.embed(scale(images).to(next(net.parameters()).device))
    counts = torch.bincount(labels, minlength=net.head[-1].out_features).double()
    return Reference(features, counts / counts.sum(), knn_radii(features, K))


def image_quality(images: torch.Tensor, net: FeatureNet, real: Reference) -> dict[str, Any]:
    """Fréchet distance, precision/recall/density/coverage (k = K) and class statistics of images in [-1, 1]."""
    features, probabilities = net.embed(images)
    return {"frechet_distance": frechet_distance(features, real.features),
            **precision_recall_density_coverage(real.features, features, K, real.radii),
            **class_statistics(probabilities, real.class_distribution)}


@torch.no_grad()
def evaluate_generator(generate: Callable[[int], torch.Tensor], model: nn.Module, example_input: torch.Tensor,
                       net: FeatureNet, real: Reference, samples: int = 10_000, batch: int = 1000) -> dict[str, Any]:
    """Quality of ``samples`` images from ``generate(n)`` plus the cost of ``model``.

    ``generate(n)`` returns ``n`` images in [-1, 1] (draw latents and run ``model``);
    ``example_input`` is one input of ``model`` (batch of 1), for counting MACs.
    """
    images = torch.cat([generate(min(batch, samples - start)) for start in range(0, samples, batch)])
    return {**image_quality(images, net, real), "samples": samples, "parameters": parameter_count(model),
            "macs_per_image": macs_per_image(model, example_input),
            **speed(generate, device=example_input.device)}


def floor_and_ceiling(net: FeatureNet, dataset: str, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Reference points for reading a score against the test set.

    - ``real train``: 10,000 real training images (the best a generator can hope for);
    - ``mean image``: the training set's mean image repeated;
    - ``uniform noise``: pixels drawn uniformly.
    """
    train, test = load(dataset, "train"), load(dataset, "test")
    device = next(net.parameters()).device
    real = reference(net, test.images, test.labels)
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(train), generator=generator)[:10_000]
    train_images = scale(train.images[chosen]).to(device)
    candidates = {"real train": train_images,
                  "mean image": train_images.mean(0, keepdim=True).expand_as(train_images).contiguous(),
                  "uniform noise": (torch.rand(train_images.shape, generator=generator) * 2 - 1).to(device)}
    return {name: image_quality(images, net, real) for name, images in candidates.items()}
