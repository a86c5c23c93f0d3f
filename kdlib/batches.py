"""Mini-batches straight from in-memory uint8 tensors: no per-image PIL work. Seeded shuffling (epoch ``e`` of
seed ``s`` is always the same order), scaling to the models' range and random shifts of up to ``jitter``
pixels, all on whole batches with tensor indexing.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


def scale(images: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """uint8 pixels 0..255 as floats from ``low`` to ``high``."""
    low, high = value_range
    return images.float().mul_((high - low) / 255.0).add_(low)


class Batches:
    """An iterable of ``(images, labels)`` mini-batches over tensors held in memory.

    ``images`` are uint8 N x C x H x W; each batch comes out as float32 in
    ``value_range`` on ``device``. Iterating again starts the next epoch;
    ``epoch(e)`` replays epoch ``e`` exactly (for resuming a run).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, *,
                 shuffle: bool = True, seed: int = 0, jitter: int = 0,
                 value_range: tuple[float, float] = (-1.0, 1.0), drop_last: bool = False,
                 device: str | torch.device = "cpu") -> None:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be uint8 N x C x H x W, got {images.dtype} {list(images.shape)}")
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if jitter < 0 or jitter >= images.shape[-1] // 2:
            raise ValueError(f"jitter must be in [0, {images.shape[-1] // 2 - 1}] pixels, got {jitter}")
        low, high = value_range
        if not high > low:
            raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
        self.device = torch.device(device)
        self.labels = labels.to(self.device)
        self.height, self.width = images.shape[-2:]
        self.jitter = jitter
        # Pad once with the background value so that a shift is just a crop.
        pad = (jitter, jitter, jitter, jitter)
        self.images = torch.nn.functional.pad(images, pad).to(self.device) if jitter else images.to(self.device)
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.value_range = value_range
        self._next_epoch = 0
        if len(self) == 0:
            raise ValueError(f"{len(images)} images make no batch of {batch_size}"
                             f"{' (drop_last drops the partial batch)' if drop_last else ''}: lower the "
                             f"batch size or use more training images (train_size)")

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch, self._next_epoch = self._next_epoch, self._next_epoch + 1
        return self.epoch(epoch)

    def epoch(self, index: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of epoch ``index``: the same for the same seed, on any run."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        n = len(self.labels)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        order = order.to(self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            rows = order[start:start + self.batch_size]
            shifts = torch.randint(0, 2 * self.jitter + 1, (len(rows), 2), generator=generator)
            yield self._images(rows, shifts.to(self.device)), self.labels[rows]

    def _images(self, rows: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
        if self.jitter:
            ys = shifts[:, :1] + torch.arange(self.height, device=self.device)  # B x H
            xs = shifts[:, 1:] + torch.arange(self.width, device=self.device)  # B x W
            batch = self.images[rows[:, None, None, None],
                                torch.arange(self.images.shape[1], device=self.device)[None, :, None, None],
                                ys[:, None, :, None], xs[:, None, None, :]]
        else:
            batch = self.images[rows]
        return scale(batch, self.value_range)
