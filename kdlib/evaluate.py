"""Measuring generators end to end, so every table uses the same numbers: quality on a ruler, cost, fidelity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdlib.batches import scale
from kdlib.cost import interleaved_speed, macs_per_image, parameter_count, speed
from kdlib.data import load
from kdlib.features import FeatureNet, RandomFeatures, feature_network
from kdlib.generative import VAE_PIXELS
from kdlib.metrics import (class_statistics, frechet_distance, knn_radii, precision_recall_density_coverage,
                           recognisable_share)
from kdlib.mixture import CODES, ex_post_prior
from kdlib.models import VAE, as_generator

K = 5  # neighbours for precision, recall, density and coverage: Naeem et al.'s k (Kynkäänniemi et al. use 3)

LABELS = {  # every measurement's name in tables and reports, defined once
    "parameters": "parameters", "macs_per_image": "MACs/image", "images_per_second": "images/s",
    "latency_ms": "latency (ms)", "frechet_distance": "Fréchet distance", "precision": "precision",
    "recall": "recall", "density": "density", "coverage": "coverage", "inception_score": "Inception Score",
    "classes_covered": "classes covered", "fidelity": "fidelity", "training_seconds": "training (s)",
    "frechet_distance_second": "Fréchet distance, second ruler",
}


@dataclass(frozen=True)
class Quality:
    """How generated images compare with the real test images, on the ruler's features."""

    frechet_distance: float
    precision: float
    recall: float
    density: float
    coverage: float
    class_shares: tuple[float, ...]  # share of images the ruler puts in each class
    class_kl_to_data: float
    classes_covered: int  # classes holding at least 1% of the images
    inception_score: float


@dataclass(frozen=True)
class Measurement(Quality):
    """A generator's quality on ``samples`` images, and its cost on this machine."""

    samples: int
    parameters: int
    macs_per_image: int
    images_per_second: float  # at batch ``batch``, the median over ``rounds``
    latency_ms: float  # at batch 1, the median over ``rounds``
    threads: int
    device: str
    batch: int
    # The slowest and fastest round of each (kdlib.cost.interleaved_speed); None in records made before they were.
    images_per_second_range: tuple[float, float] | None = field(default=None, kw_only=True)
    latency_ms_range: tuple[float, float] | None = field(default=None, kw_only=True)
    # Each timed round's images/s, in round order (kdlib.cost.interleaved_speed); None in records made before.
    images_per_second_rounds: tuple[float, ...] | None = field(default=None, kw_only=True)
    rounds: int | None = field(default=None, kw_only=True)
    # Whether the timings ran on a steady heap (kdlib.cost.steady_heap); None in records made before it was asked.
    steady_heap: bool | None = field(default=None, kw_only=True)
    # Untimed calls of the model right before each timed one (kdlib.cost.interleaved_speed: 1, a warm call; 0, timed
    # cold after another model's call); None in records made before it was asked, which were timed cold.
    warm_calls: int | None = field(default=None, kw_only=True)
    # The same samples' Fréchet distance on the second ruler (``SecondRuler``); None where it was not measured.
    frechet_distance_second: float | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Reference:
    """Features of real images that generated ones are compared with."""

    features: torch.Tensor
    class_distribution: torch.Tensor
    radii: torch.Tensor  # k-NN radii of the features (k = K), computed once
    image_shape: tuple[int, ...]
    accuracy: float  # share of the real images the network classifies as their label
    recognisable: float  # share it assigns to one class with probability >= 0.9 (recognisable_share)


def reference(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor) -> Reference:
    """The reference for real images (uint8) and their labels, embedded once."""
    features, probabilities = net.embed(scale(images).to(next(net.parameters()).device))
    counts = torch.bincount(labels, minlength=net.head[-1].out_features).double()
    accuracy = float((probabilities.argmax(1).cpu() == labels).float().mean())
    return Reference(features, counts / counts.sum(), knn_radii(features, K), tuple(images.shape[1:]), accuracy,
                     recognisable_share(probabilities))


def check_images(images: torch.Tensor, shape: tuple[int, ...], count: int | None = None) -> torch.Tensor:
    """``images`` if they are ``count`` finite float32 images of ``shape`` in [-1, 1]; else a ValueError saying what
    is wrong. From the values alone it can tell images in [0, 1] only when their darkest pixels sit at 0 (below 0.05)
    and none is negative: [0, 1] images whose darkest pixel is brighter, or with one pixel just below 0, pass, and
    score as a poor generator. ``sampler`` checks the range a generator produces instead, from its last layer."""
    expected = [len(images) if count is None else count, *shape]
    if list(images.shape) != expected:
        raise ValueError(f"expected generated images of shape {expected}, got {list(images.shape)}: a generator "
                         f"must return as many images as it is asked for, each {' x '.join(map(str, shape))}")
    if images.dtype != torch.float32:
        raise ValueError(f"generated images are {images.dtype}, the ruler measures torch.float32: convert them "
                         f"with images.float()")
    if not torch.isfinite(images).all():
        raise ValueError("the generated images hold NaN or inf: the generator diverged")
    low, high = float(images.min()), float(images.max())
    if low < -1.001 or high > 1.001:
        raise ValueError(f"generated images range from {low:g} to {high:g}, not [-1, 1]: scale them first "
                         f"(uint8 pixels: kdlib.batches.scale; a VAE: kdlib.models.Decoder)")
    if 0 <= low < 0.05:  # black is -1 in [-1, 1]; darkest pixels at 0 and none below: black is 0, as in [0, 1]
        raise ValueError(f"generated images range from {low:g} to {high:g}: their darkest pixels sit at 0 and none is "
                         f"negative, so they look like images in [0, 1] (e.g. a sigmoid output), which the ruler would "
                         f"score as a bad generator; map them to [-1, 1] with 2 * images - 1")
    return images


def image_quality(images: torch.Tensor, net: FeatureNet, real: Reference) -> Quality:
    """Fréchet distance, precision/recall/density/coverage (k = K) and class statistics of images in [-1, 1]."""
    features, probabilities = net.embed(check_images(images, real.image_shape))
    statistics = class_statistics(probabilities, real.class_distribution)
    return Quality(frechet_distance(features, real.features),
                   **precision_recall_density_coverage(real.features, features, K, real.radii),
                   **(statistics | {"class_shares": tuple(statistics["class_shares"])}))


def latents(model: nn.Module, latent_dim: int, device: torch.device | str = "cpu",
            seed: int = 0) -> Callable[[int], torch.Tensor]:
    """``draw(n)``: ``n`` latents for ``model`` from their own stream seeded by ``seed``: from its ``prior`` when
    it has one (a VAE's ``Decoder`` with an ex-post prior, drawn on the CPU), else from N(0, I), so every model of
    a latent size and prior meets the same latents, whatever ran before."""
    prior = getattr(model, "prior", None)
    if prior is not None:
        stream = torch.Generator().manual_seed(seed)
        return lambda n: prior.sample(n, stream).to(device)
    stream = torch.Generator(device=device).manual_seed(seed)
    return lambda n: torch.randn(n, latent_dim, generator=stream, device=device)


def sampler(model: nn.Module, latent_dim: int, device: torch.device | str = "cpu",
            seed: int = 0) -> Callable[[int], torch.Tensor]:
    """``generate(n)``: ``model`` (in evaluation mode) on ``n`` latents drawn by ``latents``. Refused: a model whose
    last layer is a sigmoid, which draws images in [0, 1], not the [-1, 1] the rulers measure."""
    layers = [m for m in model.modules() if not any(True for _ in m.children())
              and not isinstance(m, nn.Flatten | nn.Unflatten | nn.Identity | nn.Dropout)]  # (they keep the range)
    if layers and isinstance(layers[-1], nn.Sigmoid):
        raise ValueError(f"the generator {type(model).__name__} ends in a sigmoid, so its images lie in [0, 1], but "
                         f"the rulers measure images in [-1, 1]: end it in a tanh, or map its output with "
                         f"2 * images - 1 before measuring")
    draw = latents(model, latent_dim, device, seed)
    model.eval()

    def generate(n: int) -> torch.Tensor:
        return model(draw(n))
    return generate


def check_samples(samples: int) -> int:
    """``samples`` if it can be measured: a Fréchet distance needs a covariance, so at least 2 images."""
    if not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples={samples!r}: a quality measurement needs at least 2 generated images (the "
                         f"Fréchet distance estimates a covariance); the course uses 10,000")
    return samples


@torch.no_grad()
def generated(generate: Callable[[int], torch.Tensor], samples: int, shape: tuple[int, ...] = (1, 28, 28),
              batch: int = 1000) -> torch.Tensor:
    """``samples`` images from ``generate(n)``, drawn ``batch`` at a time, each batch checked (``check_images``)."""
    check_samples(samples)
    return torch.cat([check_images(generate(min(batch, samples - start)), shape, min(batch, samples - start))
                      for start in range(0, samples, batch)])


SPEED_RANGE = "images/s, slowest to fastest round"


def speed_range(measurement: Measurement) -> str:
    """The slowest and the fastest round of a measurement's interleaved timing, as table text (``SPEED_RANGE``)."""
    if measurement.images_per_second_range is None:
        return "not measured"
    low, high = measurement.images_per_second_range
    return f"{low:,.0f} to {high:,.0f} ({measurement.rounds} rounds)"


def summary_row(name: str, quality: Quality) -> dict[str, Any]:
    """One table row of the quality measures every chapter reports, seven columns: what the images are like, not
    what the model costs (a ``Measurement``'s cost columns are for tables of their own)."""
    values = asdict(quality)
    shares = quality.class_shares
    return {"images": name, **{LABELS[key]: values[key] for key in ("frechet_distance", "precision", "recall", "density",
                                                                    "coverage")},
            "class shares": f"{min(shares):.1%} to {max(shares):.1%}"}


@torch.no_grad()
def evaluate_generator(generate: Callable[[int], torch.Tensor], model: nn.Module, example_input: torch.Tensor,
                       net: FeatureNet, real: Reference, samples: int = 10_000, batch: int = 1000) -> Measurement:
    """Quality of ``samples`` images from ``generate(n)`` (``n`` images in [-1, 1], checked by ``check_images``)
    plus the cost of ``model``; ``example_input`` is one input of ``model`` (batch of 1), for counting MACs."""
    quality = image_quality(generated(generate, samples, real.image_shape, batch), net, real)
    cost = speed(generate, device=example_input.device)
    return Measurement(**asdict(quality), samples=samples, parameters=parameter_count(model),
                       macs_per_image=macs_per_image(model, example_input), **cost)


@torch.no_grad()
def fidelity(images: torch.Tensor, teacher_images: torch.Tensor) -> float:
    """Mean absolute pixel difference to the teacher's images for the same latents, halved so that it reads
    on a 0..1 pixel scale: 0 is a perfect copy of the teacher."""
    if images.shape != teacher_images.shape:
        raise ValueError(f"images {list(images.shape)} and teacher images {list(teacher_images.shape)} differ in shape")
    return float((images - teacher_images).abs().double().mean() / 2)


def compare(models: dict[str, nn.Module], measure: Ruler, samples: int, seed: int = 0,
            device: torch.device | str = "cpu", second: SecondRuler | None = None
            ) -> dict[str, tuple[Measurement, float]]:
    """Every model (z -> image) measured on ``samples`` latents from its own sampler, and its fidelity to the first
    one's images on the first one's latents (the same latents for all: the teacher's, drawn from its prior). Their
    speeds are timed together, interleaved (``interleaved_speed``), after every quality measurement. With ``second``,
    the same samples' Fréchet distance on that ruler too (``frechet_distance_second``)."""
    check_samples(samples)
    first_model = next(iter(models.values()))
    shared = latents(first_model, first_model.latent_dim, device, seed)(samples)
    qualities: dict[str, tuple[Quality, float]] = {}
    seconds: dict[str, float | None] = {}
    first: torch.Tensor | None = None
    for name, model in models.items():
        samples_of_model = generated(sampler(model, model.latent_dim, device, seed), samples, measure.real.image_shape)
        quality = image_quality(samples_of_model, measure.net, measure.real)
        seconds[name] = None if second is None else second.distance(samples_of_model)
        with torch.no_grad():
            images = torch.cat([check_images(model(chunk), measure.real.image_shape, len(chunk))
                                for chunk in shared.split(1000)])
        first = images if first is None else first
        qualities[name] = (quality, fidelity(images, first))
    speeds = interleaved_speed({name: sampler(model, model.latent_dim, device, seed) for name, model in models.items()},
                               device)
    example = torch.zeros(1, first_model.latent_dim, device=device)
    return {name: (Measurement(**asdict(quality), samples=samples, parameters=parameter_count(model),
                               macs_per_image=macs_per_image(model, example), **speeds[name],
                               frechet_distance_second=seconds[name]), fidelity_to_first)
            for (name, (quality, fidelity_to_first)), model in zip(qualities.items(), models.values())}


def floor_and_ceiling(net: FeatureNet, dataset: str, seed: int = 0, samples: int = 10_000,
                      real: Reference | None = None) -> dict[str, Quality]:
    """Reference points for reading a score against the test set (``real``, computed here if not given), each
    from ``samples`` images: ``real train``, real training images (the best a generator can hope for); ``mean
    image``, the training set's mean image repeated; ``uniform noise``, pixels drawn uniformly."""
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
    """What every quality number is measured with: the feature network (and its checkpoint), its test
    accuracy, the test set's reference features, and the reference points (``floor_and_ceiling``)."""

    net: FeatureNet
    accuracy: float
    real: Reference
    floors: dict[str, Quality]
    checkpoint: Path

    def floor_rows(self) -> list[dict[str, Any]]:
        return [summary_row(name, quality) for name, quality in self.floors.items()]


@dataclass(frozen=True)
class SecondRuler:
    """A second ruler of another kind than the shipped one (``RandomFeatures``: untrained, another architecture) and
    its features of the data set's test images. A ranking of generators is a finding only where both rulers agree:
    Fréchet distances on one network can rank models by what that network happens to see (Kynkäänniemi et al.
    2023; Stein et al. 2023)."""

    net: RandomFeatures
    spread: torch.Tensor  # each feature's standard deviation over the test images: the unit of its axis
    real: torch.Tensor  # the test images' features, in that unit
    image_shape: tuple[int, ...]

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Features of images in [-1, 1] (checked by ``check_images``), each in units of its spread over the test
        images, so that a distance reads the same whatever scale the random weights give a feature."""
        return self.net.embed(check_images(images, self.image_shape)) / self.spread

    def distance(self, images: torch.Tensor) -> float:
        """The Fréchet distance of ``images`` to the test images."""
        return frechet_distance(self.features(images), self.real)


def second_ruler(dataset: str, seed: int = 0, device: torch.device | str = "cpu") -> SecondRuler:
    """The data set's second ruler: ``RandomFeatures(seed)`` and its features of all the test images."""
    net = RandomFeatures(seed).to(device)
    test = load(dataset, "test")
    features = net.embed(scale(test.images).to(device))
    spread = features.std(0)
    return SecondRuler(net, spread, features / spread, tuple(test.images.shape[1:]))


def ruler(dataset: str, checkpoints: Path, feature_epochs: int, device: torch.device | str = "cpu", seed: int = 0,
          samples: int = 10_000, train_size: int | None = None) -> Ruler:
    """The ruler: its feature network (trained once into ``checkpoints``, then loaded) and references."""
    net, _, checkpoint = feature_network(dataset, checkpoints, feature_epochs, device=device, seed=seed,
                                         train_size=train_size)
    return ruler_of(net, dataset, checkpoint, seed=seed, samples=samples)


def ruler_of(net: FeatureNet, dataset: str, checkpoint: Path, seed: int = 0, samples: int = 10_000) -> Ruler:
    """A ruler made of a given feature network (e.g. a shipped one): its test accuracy, references and floors."""
    test = load(dataset, "test")
    real = reference(net, test.images, test.labels)  # embedded once, shared with the floor rows
    floors = floor_and_ceiling(net, dataset, seed=seed, samples=samples, real=real)
    return Ruler(net, real.accuracy, real, floors, checkpoint)


@dataclass(frozen=True)
class EvaluationRow(Measurement):
    """One model of the evaluation: a teacher or a student (one seed of it), measured, with its fidelity to its
    teacher."""

    name: str
    family: str
    objective: str  # "teacher" for a teacher
    width: float
    seed: int | None  # the student's training seed; None for a teacher
    training_seconds: float
    fidelity: float


def generator_of(model: nn.Module, dataset: str) -> nn.Module:
    """``model`` as the course samples it (z -> image): a GAN's generator as is; a VAE's decoder drawing its
    latents from the VAE's ex-post prior (``kdlib.mixture.ex_post_prior``), fitted to its codes of the first ``CODES``
    training images of ``dataset``: every VAE of the course, teacher or student, is sampled this way."""
    if not isinstance(model, VAE):
        return as_generator(model)
    return as_generator(model, ex_post_prior(model, scale(load(dataset, "train").images[:CODES], VAE_PIXELS)))
