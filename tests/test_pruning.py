"""Students cut from their teacher: the importance by hand, the cut network exact where nothing was lost."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kdlib.batches import Batches
from kdlib.distill import (GANScratch, OutputAdversarial, OutputDistillation, PruneFinetune, Student, VAEDistillation,
                           train_student)
from kdlib.models import Generator
from kdlib.pruning import channel_importance, pruned_generator
from kdlib.store import settings_digest


def teacher_with_structure(latent_dim: int = 8, width: float = 1.0) -> Generator:
    """Random weights, then batch-norm statistics from use (so that evaluation mode is not the identity)."""
    torch.manual_seed(0)
    teacher = Generator(latent_dim, width)
    with torch.no_grad():
        teacher.train()
        teacher(torch.randn(512, latent_dim))
    return teacher.eval()


def test_importance_is_mean_activation_times_the_norm_of_the_weights_that_read_it():
    teacher = teacher_with_structure()
    z = torch.randn(300, 8, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        wide = teacher.net[:4](z)  # after the first ReLU: 128 x 7 x 7
        narrow = teacher.net[4:7](wide)  # after the second: 64 x 14 x 14
    by_hand = []
    for maps, reader in ((wide, teacher.net[4]), (narrow, teacher.net[7])):  # transposed: in x out x 4 x 4
        norms = torch.stack([reader.weight[c].norm() for c in range(maps.shape[1])])
        by_hand.append(torch.stack([maps[:, c].abs().mean() for c in range(maps.shape[1])]) * norms)
    found = channel_importance(teacher, latents=300, seed=4)
    for mine, reference in zip(found, by_hand, strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-8)
    assert not teacher.training  # left as it was


@pytest.mark.parametrize("upsampling", ["transposed", "subpixel"])
def test_a_teacher_whose_other_channels_are_silent_is_cut_without_changing_its_images(upsampling):
    """Zero the weights that read all but 15 of the 128 wide and 8 of the 64 narrow channels: those are the most
    important (the rest have importance 0), and the cut width-0.12 network computes exactly the teacher's images."""
    teacher = teacher_with_structure()
    wide_kept, narrow_kept = torch.arange(3, 128, 8)[:15], torch.arange(1, 64, 8)
    with torch.no_grad():
        silent_wide = torch.ones(128, dtype=torch.bool)
        silent_wide[wide_kept] = False
        silent_narrow = torch.ones(64, dtype=torch.bool)
        silent_narrow[narrow_kept] = False
        teacher.net[4].weight[silent_wide] = 0
        teacher.net[7].weight[silent_narrow] = 0
    importance = channel_importance(teacher)
    assert set(importance[0].nonzero().flatten().tolist()) <= set(wide_kept.tolist())
    student = pruned_generator(teacher, 0.12, upsampling)
    assert student.training and student.upsampling == upsampling and student.width == 0.12
    z = torch.randn(16, 8)
    with torch.no_grad():
        torch.testing.assert_close(student.eval()(z), teacher(z), atol=1e-5, rtol=0)
        torch.testing.assert_close(student.net[2].running_var, teacher.net[2].running_var[wide_kept])


def test_a_random_cut_keeps_as_many_channels_drawn_by_its_seed():
    """The control keeps the teacher's weights of channels drawn at random: the same channels for the same seed,
    others for another, and not the most important ones."""
    teacher = teacher_with_structure()
    important = pruned_generator(teacher, 0.25)
    drawn = [pruned_generator(teacher, 0.25, seed=seed, keep="random") for seed in (0, 0, 1)]
    kept = [net.net[2].running_mean for net in (important, *drawn)]
    assert all(len(k) == 32 for k in kept)
    assert torch.equal(kept[1], kept[2]) and not torch.equal(kept[1], kept[3]) and not torch.equal(kept[0], kept[1])
    every_channel = teacher.net[2].running_mean.tolist()
    assert set(kept[3].tolist()) <= set(every_channel)  # the teacher's own statistics, of other channels
    with pytest.raises(ValueError, match="keep must be one of"):
        pruned_generator(teacher, 0.25, keep="smallest")


def test_bad_cuts_are_refused():
    teacher = teacher_with_structure()
    with pytest.raises(ValueError, match=r"width must be in \(0, 1\)"):
        pruned_generator(teacher, 1.0)
    with pytest.raises(ValueError, match="must be a kdlib.Generator"):
        pruned_generator(nn.Linear(2, 2), 0.5)
    with pytest.raises(ValueError, match="cannot cut a 'transposed' student from a 'subpixel' teacher"):
        pruned_generator(Generator(8, 1.0, "subpixel"), 0.5, "transposed")
    with pytest.raises(ValueError, match="latents must be >= 1"):
        channel_importance(teacher, latents=0)


def test_students_cut_from_the_teacher(tmp_path):
    teacher = teacher_with_structure()
    student = Student(OutputDistillation(1e-3), 0.12, "subpixel", init="teacher")
    assert student.name == "distilled: output (GAN, width 0.12, cut from the teacher)"
    assert student.settings()["init"] == "teacher" and "init" not in Student(OutputDistillation(), 0.12).settings()
    with pytest.raises(ValueError, match="pass the teacher"):
        student.build(8)
    with pytest.raises(ValueError, match="the scratch baseline never sees the teacher"):
        Student(GANScratch(), 0.12, init="teacher")
    assert Student(OutputDistillation(), 0.12, init="teacher-random-channels").name == (
        "distilled: output (GAN, width 0.12, cut from the teacher, random channels)")
    with pytest.raises(ValueError, match="init='teacher' is for distilled GAN students"):
        Student(VAEDistillation(), 0.25, init="teacher")
    with pytest.raises(ValueError, match="init must be one of"):
        Student(OutputAdversarial(), 0.12, init="pruned")
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)
    model, trained = train_student(student, teacher, images, torch.zeros(64), 1, 32, 0, tmp_path)
    assert trained.settings["init"] == "teacher"
    with torch.no_grad():  # the first snapshot (before training) is the cut teacher's images, not noise
        start = pruned_generator(teacher, 0.12, "subpixel").eval()
        fixed_z = torch.randn(64, 8, generator=torch.Generator().manual_seed(1))
        first = ((start(fixed_z) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(trained.history["snapshots"][0], first)


def test_prune_finetune_is_the_scratch_loss_from_the_distilled_students_cut_start(tmp_path):
    """The pruning control: its student starts as a distilled one cut from the teacher does, and then takes exactly the
    scratch baseline's steps (plain GAN loss on the data, both players annealed)."""
    teacher = teacher_with_structure()
    with pytest.raises(ValueError, match="prune_finetune student starts cut from the teacher: give init='teacher'"):
        Student(PruneFinetune(), 0.12)
    control = Student(PruneFinetune(1e-3, discriminator_width=0.25), 0.12, "subpixel", init="teacher")
    assert control.name == "prune + fine-tune (GAN, width 0.12, cut from the teacher)"
    images = torch.randint(0, 256, (64, 1, 28, 28), generator=torch.Generator().manual_seed(4), dtype=torch.uint8)
    model, trained = train_student(control, teacher, images, torch.zeros(64), 1, 32, 0, tmp_path)
    distilled = train_student(Student(OutputDistillation(1e-3), 0.12, "subpixel", init="teacher"), teacher, images,
                              torch.zeros(64), 1, 32, 0, tmp_path)[1]
    assert torch.equal(trained.history["snapshots"][0], distilled.history["snapshots"][0])  # the same cut start
    assert len(trained.history["steps"]["generator"]) == len(distilled.history["steps"]["output"]) == 2
    # By hand: the scratch baseline's Training on the cut generator, the same seeds, gives the same weights.
    torch.manual_seed(int(settings_digest({"family": "gan", "width": 0.12, "seed": 0}), 16) % 2**31)
    by_hand = pruned_generator(teacher, 0.12, "subpixel", seed=0)
    real = Batches(images, torch.zeros(64), 32, seed=0, drop_last=True, value_range=(-1.0, 1.0))
    training = GANScratch(1e-3, discriminator_width=0.25).training(by_hand, teacher, real, epochs=1)
    for module in training.modules.values():
        module.train()
    for batch, labels in real.epoch(0):
        training.step(batch, labels)
        for schedule in training.schedulers.values():
            schedule.step()
    assert all(torch.allclose(a, b) for a, b in zip(model.state_dict().values(), by_hand.state_dict().values()))
