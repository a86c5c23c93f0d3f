"""The in-memory batch iterator: coverage, seeding, scaling and jitter."""

from __future__ import annotations

import pytest
import torch

from kdlib import Batches


def toy(n: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    return images, torch.arange(n)


def test_each_epoch_covers_every_image_once_in_a_seeded_order():
    images, labels = toy()
    batches = Batches(images, labels, batch_size=8, seed=3)
    first = torch.cat([y for _, y in batches])
    second = torch.cat([y for _, y in batches])
    assert sorted(first.tolist()) == list(range(50)) and sorted(second.tolist()) == list(range(50))
    assert first.tolist() != second.tolist()  # a new order each epoch
    replay = Batches(images, labels, batch_size=8, seed=3)
    assert torch.equal(torch.cat([y for _, y in replay.epoch(1)]), second)
    other_seed = torch.cat([y for _, y in Batches(images, labels, batch_size=8, seed=4)])
    assert other_seed.tolist() != first.tolist()


def test_images_match_labels_and_scale_to_value_range():
    images, labels = toy()
    for x, y in Batches(images, labels, batch_size=16, value_range=(-1.0, 1.0)):
        expected = images[y].float() / 255 * 2 - 1
        torch.testing.assert_close(x, expected)
    x, y = next(iter(Batches(images, labels, batch_size=50, shuffle=False, value_range=(0.0, 1.0))))
    torch.testing.assert_close(x, images.float() / 255)
    assert torch.equal(y, labels)


def test_lengths_with_and_without_drop_last():
    images, labels = toy(50)
    assert len(Batches(images, labels, batch_size=16)) == 4
    assert [len(y) for _, y in Batches(images, labels, batch_size=16)] == [16, 16, 16, 2]
    assert len(Batches(images, labels, batch_size=16, drop_last=True)) == 3
    assert [len(y) for _, y in Batches(images, labels, batch_size=16, drop_last=True)] == [16, 16, 16]


def test_jitter_shifts_each_image_by_at_most_k_pixels():
    n, k = 400, 2
    images = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    images[:, 0, 14, 10] = 255  # one bright pixel away from the border
    batches = Batches(images, torch.zeros(n, dtype=torch.long), batch_size=64, jitter=k, value_range=(0.0, 1.0))
    seen = set()
    for x, _ in batches:
        assert x.shape == (len(x), 1, 28, 28)
        assert torch.all(x.sum(dim=(1, 2, 3)) == 1)  # nothing lost, nothing added
        where = x[:, 0].flatten(1).argmax(1)
        rows, cols = where // 28, where % 28
        assert torch.all((rows - 14).abs() <= k) and torch.all((cols - 10).abs() <= k)
        seen |= {(int(r) - 14, int(c) - 10) for r, c in zip(rows, cols)}
    assert len(seen) == (2 * k + 1) ** 2  # every shift occurs


def test_jitter_equals_a_shift_with_zero_fill():
    images, labels = toy(8)
    x, _ = next(iter(Batches(images, labels, batch_size=8, shuffle=False, jitter=1, value_range=(0.0, 255.0))))
    for i in range(8):
        matches = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                   if torch.equal(x[i], shifted(images[i].float(), dy, dx))]
        assert matches, f"image {i} is not a one-pixel shift of the original"


def shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Independent reference: move content by (-dy, -dx) for a crop offset (dy, dx), zero fill."""
    padded = torch.nn.functional.pad(image, (1, 1, 1, 1))
    return padded[:, 1 + dy:29 + dy, 1 + dx:29 + dx]


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "batch_size"), ({"batch_size": 4, "jitter": 14}, "jitter"),
    ({"batch_size": 4, "value_range": (1.0, 0.0)}, "value_range"),
])
def test_bad_arguments_raise(kwargs, message):
    images, labels = toy(8)
    with pytest.raises(ValueError, match=message):
        Batches(images, labels, **kwargs)
    with pytest.raises(ValueError, match="uint8"):
        Batches(images.float(), labels, batch_size=4)
    with pytest.raises(ValueError, match="labels"):
        Batches(images, labels[:3], batch_size=4)
