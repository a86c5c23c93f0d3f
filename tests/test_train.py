"""Classifier models, the training loop, load-or-train and result tables."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from kdlib import Batches, CheckpointError
from kdlib.cost import parameter_count
from kdlib.models import MLP
from kdlib.runs import load_or_train, settings_digest
from kdlib.tables import markdown_table
from kdlib.train import DivergedError, fit_classifier, predict_logits


@pytest.mark.parametrize("sizes, expected", [
    ((784, 1200, 1200, 10), 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10),
    ((784, 800, 800, 10), 784 * 800 + 800 + 800 * 800 + 800 + 800 * 10 + 10),
    ((4, 3), 4 * 3 + 3),
])
def test_mlp_parameter_counts_and_shapes(sizes, expected):
    model = MLP(sizes)
    assert parameter_count(model) == expected
    side = int(sizes[0] ** 0.5)
    assert model(torch.zeros(5, 1, side, side) if side * side == sizes[0] else torch.zeros(5, sizes[0])).shape == (5, sizes[-1])


@pytest.mark.parametrize("kwargs", [{"sizes": (784,)}, {"sizes": (784, 0, 10)}, {"sizes": (4, 2), "dropout": 1.0},
                                    {"sizes": (4, 2), "input_dropout": -0.1}])
def test_mlp_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        MLP(**kwargs)


def toy_problem(n: int = 256):
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (n,), generator=generator)
    # class 1 images are bright (128..255), class 0 dark (0..127): separable by mean brightness
    images = (torch.randint(0, 128, (n, 1, 4, 4), generator=generator) + 128 * labels[:, None, None, None]).to(torch.uint8)
    return images, labels


def hard_loss(labels):
    return lambda logits, images, rows: F.cross_entropy(logits, labels[rows])


def test_training_lowers_the_loss_and_is_deterministic():
    images, labels = toy_problem()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = MLP((16, 32, 2))
        batches = Batches(images, torch.arange(len(images)), 32, seed=1, value_range=(0.0, 1.0))
        history = fit_classifier(model, batches, 8, hard_loss(labels), 1e-2)
        runs.append((history["loss"], [p.detach().clone() for p in model.parameters()]))
    losses = runs[0][0]
    assert len(losses) == 8 and losses[-1] < 0.5 * losses[0]
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_nan_loss_stops_with_the_step_named():
    images, labels = toy_problem(64)
    batches = Batches(images, torch.arange(64), 16, value_range=(0.0, 1.0))
    calls = {"n": 0}

    def poisoned(logits, images, rows):
        calls["n"] += 1
        loss = F.cross_entropy(logits, labels[rows])
        return loss * float("nan") if calls["n"] == 3 else loss

    with pytest.raises(DivergedError, match="epoch 0, step 2"):
        fit_classifier(MLP((16, 2)), batches, 2, poisoned, 1e-3)


def test_predict_logits_batches_and_evaluates():
    model = MLP((16, 8, 3), dropout=0.5)
    x = torch.rand(10, 16)
    torch.testing.assert_close(predict_logits(model, x, batch_size=3), model.eval()(x))


def test_load_or_train_trains_once_then_loads(tmp_path):
    images, labels = toy_problem(64)
    settings = {"epochs": 1, "name": "toy"}
    path = tmp_path / f"toy_{settings_digest(settings)}.pt"
    trained = []

    def train(model):
        def run():
            trained.append(1)
            return fit_classifier(model, Batches(images, torch.arange(64), 16, value_range=(0.0, 1.0)), 1,
                                  hard_loss(labels), 1e-3)
        return run

    torch.manual_seed(0)
    first = MLP((16, 2))
    history = load_or_train(path, first, settings, train(first))
    second = MLP((16, 2))
    assert load_or_train(path, second, settings, train(second)) == history
    assert trained == [1] and torch.equal(first.net[-1].weight, second.net[-1].weight)
    with pytest.raises(CheckpointError, match="was trained with"):
        load_or_train(path, MLP((16, 2)), {"epochs": 2, "name": "toy"}, train(second))


def test_settings_digest_is_stable_and_order_free():
    assert settings_digest({"a": 1, "b": [1.0, 2.0]}) == settings_digest({"b": [1.0, 2.0], "a": 1})
    assert settings_digest({"a": 1}) != settings_digest({"a": 2})


def test_markdown_table():
    table = markdown_table([{"model": "teacher", "errors": 67, "share": 0.12345}, {"model": "student", "errors": 1460}])
    assert table.splitlines() == ["| model | errors | share |", "|---|---|---|",
                                  "| teacher | 67 | 0.1235 |", "| student | 1,460 |  |"]
    with pytest.raises(ValueError):
        markdown_table([])
