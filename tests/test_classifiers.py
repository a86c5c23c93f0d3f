"""Hinton et al.'s classifier experiment in the library: its two losses, its load-or-train function, its error count."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import kdlib
from kdlib.classifiers import (STUDENT_MLP, TEACHER_MLP, hard_labels, soft_labels, misclassified, teacher_soft_labels,
                               train_classifier)
from kdlib.store import load_checkpoint


def test_the_architectures_are_hinton_et_al_s():
    assert TEACHER_MLP["sizes"] == (784, 1200, 1200, 10) and TEACHER_MLP["dropout"] == 0.5
    assert STUDENT_MLP["sizes"] == (784, 800, 800, 10) and STUDENT_MLP["dropout"] == STUDENT_MLP["input_dropout"] == 0
    assert kdlib.parameter_count(kdlib.MLP(**TEACHER_MLP)) == 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10


def test_the_losses_look_up_the_rows_of_the_batch():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (50,), generator=generator)
    teacher_logits = 3 * torch.randn(50, 10, generator=generator)
    rows = torch.tensor([4, 17, 17, 33])
    logits = torch.randn(4, 10, generator=generator)
    assert torch.equal(hard_labels(labels)(logits, None, rows), F.cross_entropy(logits, labels[rows]))
    T, alpha = 4.0, 0.7
    expected = (alpha * T**2 * F.kl_div(F.log_softmax(logits / T, 1), F.softmax(teacher_logits[rows] / T, 1),
                                        reduction="batchmean")
                + (1 - alpha) * F.cross_entropy(logits, labels[rows]))
    assert torch.allclose(soft_labels(teacher_logits, labels, T, alpha)(logits, None, rows), expected)


def test_teacher_soft_labels_asks_the_teacher_about_the_images_of_the_batch():
    generator = torch.Generator().manual_seed(2)
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(16, 10))
    teacher.train()  # the loss must put it in evaluation mode: dropout would make its targets random
    labels = torch.randint(0, 10, (30,), generator=generator)
    images = torch.rand(30, 1, 4, 4, generator=generator)
    rows = torch.tensor([3, 8, 29])
    shifted = torch.roll(images[rows], 1, dims=-1)  # what a jittered batch holds: not the stored images
    logits = torch.randn(3, 10, generator=generator, requires_grad=True)
    loss = teacher_soft_labels(teacher, labels, 20.0, 0.5)(logits, shifted, rows)
    assert not teacher.training
    with torch.no_grad():
        on_shifted, on_stored = teacher(shifted), teacher(images[rows])
    assert torch.allclose(loss, soft_labels(on_shifted, labels[rows], 20.0, 0.5)(logits, None, torch.arange(3)))
    assert not torch.allclose(loss, soft_labels(on_stored, labels[rows], 20.0, 0.5)(logits, None, torch.arange(3)))
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())  # the teacher is not trained through the loss


def test_misclassified_counts_the_wrong_argmax():
    model = torch.nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3, 2))  # class 0 <- x0, class 1 <- x1, class 2 <- 0
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [0.0, 2.0]])
    assert misclassified(model, images, torch.tensor([0, 1, 2, 0])) == 1


def toy_images(n: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 10, (n,), generator=generator)
    images = torch.randint(0, 64, (n, 1, 28, 28), generator=generator, dtype=torch.uint8)
    images[torch.arange(n), 0, labels * 2, :] = 255  # the class is the bright row
    return images, labels


def test_train_classifier_learns_repeats_and_names_its_checkpoint_by_every_setting(tmp_path):
    images, labels = toy_images()
    common = {"dataset": "toy", "batch_size": 50, "learning_rate": 1e-3, "seed": 3}
    model, trained = train_classifier("student", STUDENT_MLP, images, hard_labels(labels), 3, tmp_path, **common)
    losses = [epoch["loss"] for epoch in trained.history["epochs"]]
    assert losses[-1] < losses[0] and trained.settings["train_size"] == 200 and trained.settings["seed"] == 3
    assert misclassified(model, kdlib.scale(images, kdlib.PIXELS), labels) < 100  # chance: 180
    again, loaded = train_classifier("student", STUDENT_MLP, images, hard_labels(labels), 3, tmp_path, **common)
    assert loaded.checkpoint == trained.checkpoint and loaded.history == trained.history  # loaded, not retrained
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    fresh, _ = train_classifier("student", STUDENT_MLP, images, hard_labels(labels), 3, tmp_path / "other", **common)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    _, other = train_classifier("student", STUDENT_MLP, images, hard_labels(labels), 3, tmp_path, **common,
                                extra_settings={"teacher": "abc"})
    assert other.checkpoint != trained.checkpoint and load_checkpoint(other.checkpoint)["settings"]["teacher"] == "abc"
    _, seeded = train_classifier("student", STUDENT_MLP, images, hard_labels(labels), 3, tmp_path,
                                 **(common | {"seed": 4}))
    assert seeded.checkpoint != trained.checkpoint
