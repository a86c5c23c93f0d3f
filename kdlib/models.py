"""The course's networks. Teachers and students are the same family at different sizes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    """A fully connected classifier on flattened images: ``sizes = (784, hidden..., classes)``.

    ``dropout`` applies to every hidden layer, ``input_dropout`` to the pixels
    (Hinton et al. 2015's teacher used both; their small student used neither).
    """

    def __init__(self, sizes: Sequence[int], dropout: float = 0.0, input_dropout: float = 0.0) -> None:
        super().__init__()
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(f"sizes must be at least (inputs, outputs), all >= 1; got {list(sizes)}")
        for name, rate in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {rate}")
        self.sizes = tuple(sizes)
        layers: list[nn.Module] = [nn.Flatten(), nn.Dropout(input_dropout)]
        for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU(), nn.Dropout(dropout)]
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def _channels(width: float, multiple: int) -> int:
    """Channels of a layer: ``64 * multiple`` at width 1, scaled by ``width`` (at least 1)."""
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width}")
    return max(1, round(64 * width * multiple))


class Generator(nn.Module):
    """DCGAN-style generator: latent z -> 1 x 28 x 28 image in [-1, 1].

    7x7 (256 channels) -> 14x14 (128) -> 28x28 (1) by transposed convolutions,
    batch norm and ReLU, tanh at the end. ``width`` scales every layer's channels,
    so a student is the teacher at a fraction of the width (same depth, same latent).
    """

    def __init__(self, latent_dim: int = 64, width: float = 1.0) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        self.latent_dim, self.width = latent_dim, width
        wide, middle = _channels(width, 4), _channels(width, 2)
        self.net = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, wide, 7, bias=False), nn.BatchNorm2d(wide), nn.ReLU(),
            nn.ConvTranspose2d(wide, middle, 4, 2, 1, bias=False), nn.BatchNorm2d(middle), nn.ReLU(),
            nn.ConvTranspose2d(middle, 1, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """DCGAN-style discriminator: 1 x 28 x 28 image -> one logit (real vs generated).

    28x28 -> 14x14 (64 channels) -> 7x7 (128) by strided convolutions with leaky
    ReLU (batch norm on the second), then a linear layer. ``width`` scales channels.
    """

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        narrow, middle = _channels(width, 1), _channels(width, 2)
        self.net = nn.Sequential(
            nn.Conv2d(1, narrow, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(narrow, middle, 4, 2, 1, bias=False), nn.BatchNorm2d(middle), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(middle * 7 * 7, 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).squeeze(1)
