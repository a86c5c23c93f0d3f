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
from kdlib.features import FeatureNet, feature_network
from kdlib.runs import RunDir
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


def sampler(model: nn.Module, latent_dim: int, device: torch.device | str = "cpu",
            seed: int = 0) -> Callable[[int], torch.Tensor]:
    """``generate(n)``: ``model`` (in evaluation mode) on ``n`` latents from N(0, I).

    The latents come from their own stream seeded by ``seed``, so every model of a
    given latent size is measured on the same latents, whatever ran before.
    """
    stream = torch.Generator(device=device).manual_seed(seed)
    model.eval()

    def generate(n: int) -> torch.Tensor:
        return model(torch.randn(n, latent_dim, generator=stream, device=device))
    return generate


def summary_row(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """One table row of the measurements that every chapter reports (cost columns when measured)."""
    row: dict[str, Any] = {"images": name}
    if "parameters" in metrics:
        row |= {"parameters": metrics["parameters"], "MACs/image": metrics["macs_per_image"]}
    shares = metrics["class_shares"]
    return row | {"Fréchet distance": metrics["frechet_distance"], "precision": metrics["precision"],
                  "recall": metrics["recall"], "density": metrics["density"], "coverage": metrics["coverage"],
                  "Inception Score": metrics["inception_score"], "classes covered": metrics["classes_covered"],
                  "class shares": f"{min(shares):.1%} to {max(shares):.1%}"}


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


def floor_and_ceiling(net: FeatureNet, dataset: str, seed: int = 0, samples: int = 10_000,
                      real: Reference | None = None) -> dict[str, dict[str, Any]]:
    """Reference points for reading a score against the test set, each from ``samples`` images.

    ``real``: the test set's reference, when already computed (else computed here).

    - ``real train``: real training images (the best a generator can hope for);
    - ``mean image``: the training set's mean image repeated;
    - ``uniform noise``: pixels drawn uniformly.
    """
    train = load(dataset, "train")
    device = next(net.parameters()).device
    if real is None:
        test = load(dataset, "test")
        real = reference(net, test.images, test.labels)
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(train), generator=generator)[:samples]
    train_images = scale(train.images[chosen]).to(device)
    candidates = {"real train": train_images,
                  "mean image": train_images.mean(0, keepdim=True).expand_as(train_images).contiguous(),
                  "uniform noise": (torch.rand(train_images.shape, generator=generator) * 2 - 1).to(device)}
    return {name: image_quality(images, net, real) for name, images in candidates.items()}


@dataclass(frozen=True)
class Ruler:
    """What every quality number of a run is measured with: the feature network, the
    test set's reference features, and the reference points (``floor_and_ceiling``)."""

    net: FeatureNet
    accuracy: float  # of the feature network on the test set
    real: Reference
    floors: dict[str, dict[str, Any]]

    def floor_rows(self) -> list[dict[str, Any]]:
        return [summary_row(name, metrics) for name, metrics in self.floors.items()]


def ruler(dataset: str, run: RunDir, feature_epochs: int, device: torch.device | str = "cpu", seed: int = 0,
          samples: int = 10_000, train_size: int | None = None) -> Ruler:
    """The run's ruler: its feature network (trained once per run folder, then loaded) and references."""
    net, accuracy = feature_network(dataset, run, feature_epochs, device=device, seed=seed, train_size=train_size)
    test = load(dataset, "test")
    real = reference(net, test.images, test.labels)  # embedded once, shared with the floor rows
    return Ruler(net, accuracy, real, floor_and_ceiling(net, dataset, seed=seed, samples=samples, real=real))
