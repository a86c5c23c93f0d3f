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
