"""Classifier models, the training loop, load-or-train and result tables."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from kdlib import Batches
from kdlib.store import CheckpointError
from kdlib.cost import parameter_count
from kdlib.models import MLP
from kdlib.store import load_checkpoint, settings_digest
from kdlib.tables import markdown_table
from kdlib.train import DivergedError, Training, checkpoint_path, classifier_training, fit, predict_logits, update


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


def train_toy(folder, epochs=8, loss=None, seed=0, n=256):
    images, labels = toy_problem(n)
    torch.manual_seed(seed)
    model = MLP((16, 32, 2))
    batches = Batches(images, torch.arange(len(images)), 32, seed=1, value_range=(0.0, 1.0))
    trained = fit(classifier_training(model, batches, epochs, 1e-2, loss or hard_loss(labels)), epochs, folder, "toy",
                  {"epochs": epochs, "seed": seed})
    return model, trained


def test_training_lowers_the_loss_and_is_deterministic(tmp_path):
    runs = [train_toy(tmp_path / name) for name in ("a", "b")]
    losses = [epoch["loss"] for epoch in runs[0][1].history["epochs"]]
    assert len(losses) == 8 and losses[-1] < 0.5 * losses[0]
    assert runs[0][1].history["epochs"] == runs[1][1].history["epochs"]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][0].parameters(), runs[1][0].parameters()))
    # the learning rate was cosine-annealed epoch by epoch: 0 after the last epoch
    state = load_checkpoint(runs[0][1].checkpoint)
    assert state["optimizers"]["model"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_fit_trains_once_then_loads_and_refuses_other_settings(tmp_path):
    model, trained = train_toy(tmp_path)
    assert trained.checkpoint == checkpoint_path(tmp_path, "toy", {"epochs": 8, "seed": 0})
    again, loaded = train_toy(tmp_path, loss=lambda *a: pytest.fail("trained again instead of loading"), seed=0)
    assert loaded.history == trained.history
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))
    assert trained.settings == {"epochs": 8, "seed": 0} and trained.checkpoint.name.startswith("toy_")


def test_nan_loss_stops_with_the_step_named(tmp_path):
    images, labels = toy_problem(128)
    calls = {"n": 0}

    def poisoned(logits, images, rows):
        calls["n"] += 1
        loss = F.cross_entropy(logits, labels[rows])
        return loss * float("nan") if calls["n"] == 3 else loss

    with pytest.raises(DivergedError, match="epoch 0, step 2"):
        train_toy(tmp_path, 2, poisoned, n=128)
    assert not list(tmp_path.iterdir())  # nothing written: the first epoch never finished


def test_zero_steps_are_refused_before_anything_is_written(tmp_path):
    images, labels = toy_problem(64)
    with pytest.raises(ValueError, match="64 images make no batch of 100"):
        Batches(images, labels, 100, drop_last=True)
    model = MLP((16, 2))
    training = classifier_training(model, Batches(images, labels, 16), 1, 1e-3, hard_loss(labels))
    with pytest.raises(ValueError, match="0 epoch"):
        fit(training, 0, tmp_path / "run", "toy", {})
    assert not (tmp_path / "run").exists()


def test_predict_logits_batches_and_evaluates():
    model = MLP((16, 8, 3), dropout=0.5)
    x = torch.rand(10, 16)
    torch.testing.assert_close(predict_logits(model, x, batch_size=3), model.eval()(x))


def test_settings_digest_is_stable_and_order_free():
    assert settings_digest({"a": 1, "b": [1.0, 2.0]}) == settings_digest({"b": [1.0, 2.0], "a": 1})
    assert settings_digest({"a": 1}) != settings_digest({"a": 2})


def test_markdown_table():
    table = markdown_table([{"model": "teacher", "errors": 67, "share": 0.12345}, {"model": "student", "errors": 1460}])
    assert table.splitlines() == ["| model | errors | share |", "|---|---|---|",
                                  "| teacher | 67 | 0.1235 |", "| student | 1,460 |  |"]
    later = markdown_table([{"model": "teacher"}, {"model": "student", "errors": 74}])  # a later row's key stays
    assert later.splitlines() == ["| model | errors |", "|---|---|", "| teacher |  |", "| student | 74 |"]
    with pytest.raises(ValueError):
        markdown_table([])


def two_player_setup(seed: int):
    """Two small networks with their own optimisers and dropout: a GAN's shape of training."""
    torch.manual_seed(seed)
    modules = {"a": MLP((16, 12, 2), dropout=0.3), "b": MLP((16, 12, 2), dropout=0.3)}
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-2) for name, m in modules.items()}
    return modules, optimizers


def two_player_step(modules, optimizers, labels, poison_at=None):
    calls = {"n": 0}

    def step(images, rows):
        calls["n"] += 1
        losses = {}
        for name in ("a", "b"):
            loss = F.cross_entropy(modules[name](images), labels[rows])
            if poison_at is not None and (name, calls["n"]) == poison_at:
                loss = loss * float("inf")
            optimizers[name].zero_grad()
            loss.backward()
            optimizers[name].step()
            losses[name] = loss.detach()
        return losses
    return step


def run_epochs(folder, epochs, seed=0, poison_at=None, rendered=None):
    images, labels = toy_problem(96)
    modules, optimizers = two_player_setup(seed)
    batches = Batches(images, torch.arange(96), 32, seed=3, value_range=(0.0, 1.0))

    def snapshot():  # records that it ran, and renders the current weights
        rendered.append(len(rendered))
        return modules["a"].net[2].weight[:1].detach().clamp(-1, 1)
    training = Training(modules, optimizers, two_player_step(modules, optimizers, labels, poison_at), batches)
    trained = fit(training, epochs, folder, "toy", {"toy": 1}, snapshot=snapshot if rendered is not None else None)
    return modules, trained.history


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    whole, whole_history = run_epochs(tmp_path / "whole", 3)
    rendered = []
    run_epochs(tmp_path / "split", 2, rendered=rendered)
    # a new process: networks built from another seed, then resumed from the checkpoint
    resumed, resumed_history = run_epochs(tmp_path / "split", 3, seed=99, rendered=rendered)
    assert rendered == [0, 1, 2, 3]  # before training, epochs 0 and 1, then epoch 2 alone after resuming
    assert len(resumed_history["snapshots"]) == 4
    for name in ("a", "b"):
        for key, value in whole[name].state_dict().items():
            assert torch.equal(value, resumed[name].state_dict()[key]), f"{name}.{key} differs"
    assert resumed_history["epochs"] == whole_history["epochs"]


def test_finished_checkpoint_is_loaded_without_training(tmp_path):
    trained, history = run_epochs(tmp_path, 2)
    rendered = []
    loaded, loaded_history = run_epochs(tmp_path, 2, seed=5, rendered=rendered)
    assert rendered == [] and loaded_history == history
    assert torch.equal(trained["a"].net[2].weight, loaded["a"].net[2].weight)


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    path = checkpoint_path(tmp_path, "toy", {"toy": 1})
    run_epochs(tmp_path, 1)
    before = path.read_bytes()
    with pytest.raises(DivergedError, match="epoch 1, step 1"):
        run_epochs(tmp_path, 3, poison_at=("b", 2))  # second step of the resumed epoch 1
    assert path.read_bytes() == before
    assert load_checkpoint(path)["epoch"] == 1


def test_resume_refuses_other_settings_or_fewer_epochs(tmp_path):
    run_epochs(tmp_path, 2)
    images, labels = toy_problem(96)
    modules, optimizers = two_player_setup(0)
    batches = Batches(images, torch.arange(96), 32, value_range=(0.0, 1.0))
    training = Training(modules, optimizers, two_player_step(modules, optimizers, labels), batches)
    # a checkpoint whose settings do not match its name (copied or renamed by hand)
    checkpoint_path(tmp_path, "toy", {"toy": 1}).rename(checkpoint_path(tmp_path, "toy", {"toy": 2}))
    with pytest.raises(CheckpointError, match="was trained with"):
        fit(training, 2, tmp_path, "toy", {"toy": 2})
    run_epochs(tmp_path, 2)
    with pytest.raises(CheckpointError, match="holds 2 epochs, more than the 1"):
        fit(training, 1, tmp_path, "toy", {"toy": 1})


def test_update_clips_a_long_gradient_to_max_norm_and_leaves_a_short_one_bit_for_bit():
    direction = torch.tensor([3.0, -4.0, 12.0])  # norm 13

    def stepped(scale: float, max_norm: float | None) -> torch.Tensor:
        weights = torch.nn.Parameter(torch.tensor([0.5, 0.25, -1.0]))
        update(torch.optim.SGD([weights], lr=1.0), scale * (weights * direction).sum(), max_norm)  # gradient: scale * d
        return weights.detach()

    start = torch.tensor([0.5, 0.25, -1.0])
    clipped = start - stepped(10.0, 26.0)  # a gradient of norm 130 scaled down to 26
    torch.testing.assert_close(clipped, direction * 2.0)
    assert clipped.norm().item() == pytest.approx(26.0, rel=1e-6)
    assert torch.equal(stepped(1.0, 26.0), stepped(1.0, None))  # norm 13 < 26: the same step exactly


def scripted_fit(folder, means_per_epoch):
    """``fit`` on a step that reports the given losses, the same at every step of an epoch."""
    images, _ = toy_problem(64)
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    batches = Batches(images, torch.arange(64), 32, seed=0, value_range=(0.0, 1.0))
    calls = {"n": 0}

    def step(inputs, targets):
        epoch = calls["n"] // len(batches)
        calls["n"] += 1
        return {name: torch.tensor(value) for name, value in means_per_epoch[epoch].items()}
    return fit(Training({"model": model}, {"model": optimizer}, step, batches), len(means_per_epoch), folder,
               "scripted", {"epochs": len(means_per_epoch)})


def test_a_finite_blow_up_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    means = [{"loss": 222.0, "KL": 38.6}, {"loss": 230.0, "KL": 40.0}, {"loss": 8.07e9, "KL": 6.46e10}]
    with pytest.raises(DivergedError, match=r"loss 'loss' rose to 8\.07e\+09 at epoch 2, more than 1,000 times "
                                            r"its lowest earlier epoch mean \(222\): lower the learning rate"):
        scripted_fit(tmp_path, means)
    path = checkpoint_path(tmp_path, "scripted", {"epochs": 3})
    assert load_checkpoint(path)["epoch"] == 2  # the blown-up epoch was never saved
    assert [epoch["loss"] for epoch in load_checkpoint(path)["history"]["epochs"]] == [222.0, 230.0]


@pytest.mark.parametrize("means", [
    [{"loss": 3.0}, {"loss": 2.0}, {"loss": 1999.0}],  # 999.5 times its lowest: a large rise, not yet a blow-up
    [{"D(fake)": 1e-6}, {"D(fake)": 0.9}],  # bounded values never exceed 1,000 times the floor of 1
    [{"critic": -0.5}, {"critic": -900.0}],  # sizes compared: below 1,000 times the floor
    [{"loss": 0.0}, {"loss": 999.0}],  # a loss that was 0: the floor of 1
])
def test_legitimate_rises_are_not_blow_ups(tmp_path, means):
    trained = scripted_fit(tmp_path, means)
    assert trained.history["epochs"] == [{name: pytest.approx(value) for name, value in epoch.items()} for epoch in means]


@pytest.mark.parametrize("means, name", [
    ([{"loss": 3.0}, {"loss": 2.0}, {"loss": 2001.0}], "loss"),
    ([{"D(fake)": 1e-6, "loss": 1.0}, {"D(fake)": 1000.5, "loss": 1.0}], "D(fake)"),
    ([{"critic": 2.0}, {"critic": -2000.5}], "critic"),
])
def test_blow_ups_just_past_the_threshold_are_named(tmp_path, means, name):
    with pytest.raises(DivergedError, match=rf"loss {re.escape(repr(name))} rose to .* at epoch {len(means) - 1}, "):
        scripted_fit(tmp_path, means)


def test_the_loss_rise_scan_reads_every_history_and_finds_the_largest_rise(tmp_path):
    import sys

    from kdlib.store import project_root, save_checkpoint
    sys.path.insert(0, str(project_root() / "bench"))
    from loss_rises import rises

    scripted_fit(tmp_path / "a", [{"loss": 4.0, "KL": 0.5}, {"loss": 2.0, "KL": 3.0}, {"loss": 10.0, "KL": 1.0}])
    save_checkpoint(tmp_path / "b" / "nested" / "no_history.pt", {"weights": torch.zeros(1)})
    count, largest = rises([tmp_path])
    assert count == 1
    assert largest["loss"][0] == pytest.approx(10.0 / 2.0) and largest["loss"][1].endswith("epoch 2: 10 after 2")
    assert largest["KL"][0] == pytest.approx(3.0 / 1.0)  # lowest earlier 0.5, below the floor of 1
