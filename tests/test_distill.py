"""Distillation losses against hand computations, and students that actually approach their teacher."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from kdlib.distill import (GAN_OBJECTIVES, Adaptors, LatentBatches, decoder_loss, feature_loss, gan_distill_step,
                           gaussian_kl, hidden_maps, output_loss, vae_distill_step)
from kdlib.models import VAE, Discriminator, Generator


def test_output_loss_by_hand():
    student = torch.tensor([[0.0, 0.5], [1.0, -1.0]])
    teacher = torch.tensor([[0.0, 1.0], [0.0, -1.0]])
    assert output_loss(student, teacher).item() == pytest.approx((0 + 0.25 + 1 + 0) / 4)
    with pytest.raises(ValueError, match="differ in shape"):
        output_loss(student, teacher[:1])


def test_feature_loss_by_hand_and_adaptor_shapes():
    adapted = [torch.ones(1, 2, 1, 1), torch.zeros(1, 1, 2, 2)]
    teacher = [torch.zeros(1, 2, 1, 1), torch.full((1, 1, 2, 2), 2.0)]
    assert feature_loss(adapted, teacher).item() == pytest.approx((1.0 + 4.0) / 2)
    with pytest.raises(ValueError, match="one adapted map per teacher map"):
        feature_loss(adapted[:1], teacher)
    student, big = Generator(8, 0.125), Generator(8, 1.0)
    adaptors = Adaptors(student, big)
    _, student_maps = hidden_maps(student, torch.randn(3, 8))
    _, teacher_maps = hidden_maps(big, torch.randn(3, 8))
    assert [m.shape for m in adaptors(student_maps)] == [m.shape for m in teacher_maps]
    assert [m.shape[1:] for m in teacher_maps] == [(128, 7, 7), (64, 14, 14)]
    assert sum(p.numel() for p in adaptors.parameters()) == (16 * 128 + 128) + (8 * 64 + 64)


def test_hidden_maps_reproduce_the_forward_pass():
    generator = Generator(8, 0.25).eval()
    z = torch.randn(4, 8)
    images, maps = hidden_maps(generator, z)
    torch.testing.assert_close(images, generator(z))
    assert len(maps) == 2 and (maps[0] >= 0).all()


def test_gaussian_kl_by_hand_and_against_torch_distributions():
    zero = torch.zeros(1, 1)
    assert gaussian_kl(zero, zero, zero, zero).item() == 0.0
    # N(1, 1) vs N(0, 1): 1/2; N(0, e) vs N(0, 1): (e - 1 - 1) / 2
    assert gaussian_kl(torch.ones(1, 1), zero, zero, zero).item() == pytest.approx(0.5)
    assert gaussian_kl(zero, torch.ones(1, 1), zero, zero).item() == pytest.approx((math.e - 2) / 2)
    generator = torch.Generator().manual_seed(0)
    m1, v1, m2, v2 = (torch.randn(5, 4, generator=generator) for _ in range(4))
    expected = kl_divergence(Normal(m1, (0.5 * v1).exp()), Normal(m2, (0.5 * v2).exp())).sum(1).mean()
    torch.testing.assert_close(gaussian_kl(m1, v1, m2, v2), expected)


def test_decoder_loss_by_hand():
    # teacher p = 1/2, student q = sigmoid(ln 3) = 3/4: KL per pixel = 1/2 ln(2/3) + 1/2 ln(2) = 1/2 ln(4/3)
    teacher, student = torch.zeros(2, 3), torch.full((2, 3), math.log(3))
    assert decoder_loss(student, teacher).item() == pytest.approx(3 * 0.5 * math.log(4 / 3))
    assert decoder_loss(teacher, teacher).item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="differ in shape"):
        decoder_loss(student, teacher[:, :2])


def test_latent_batches_repeat_per_epoch():
    batches = LatentBatches(4, 3, steps=5, seed=2)
    first, again = list(batches.epoch(1)), list(batches.epoch(1))
    assert len(batches) == 5 and len(first) == 5 and first[0][0].shape == (3, 4)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again))
    assert not torch.equal(first[0][0], next(batches.epoch(2))[0])
    with pytest.raises(ValueError):
        LatentBatches(4, 0, 5)


def test_objectives_check_their_arguments():
    student, teacher = Generator(8, 0.125), Generator(8, 0.5)
    optimizer = torch.optim.Adam(student.parameters())
    with pytest.raises(ValueError, match="is not one of"):
        gan_distill_step(student, teacher, optimizer, "pixels")
    with pytest.raises(ValueError, match="needs adaptors"):
        gan_distill_step(student, teacher, optimizer, "output+features")
    with pytest.raises(ValueError, match="needs a discriminator"):
        gan_distill_step(student, teacher, optimizer, "output+adversarial")


def fidelity(student, teacher, z) -> float:
    student.eval()
    with torch.no_grad():
        return (student(z) - teacher(z)).abs().mean().item()


@pytest.mark.parametrize("objective", GAN_OBJECTIVES)
def test_a_distilled_generator_gets_closer_to_its_teacher(objective):
    torch.manual_seed(0)
    teacher, student = Generator(8, 0.25).eval(), Generator(8, 0.125)
    with torch.no_grad():  # a teacher with some structure: random weights, then batch-norm statistics from use
        teacher.train()
        teacher(torch.randn(256, 8))
        teacher.eval()
    z = torch.randn(64, 8, generator=torch.Generator().manual_seed(1))
    before = fidelity(student, teacher, z)
    adaptors = Adaptors(student, teacher)
    parameters = list(student.parameters()) + list(adaptors.parameters())
    optimizer = torch.optim.Adam(parameters, lr=2e-3)
    extra = {}
    if objective == "output+adversarial":
        discriminator = Discriminator(0.125)
        extra = {"discriminator": discriminator, "d_optimizer": torch.optim.Adam(discriminator.parameters(), lr=2e-4)}
    step = gan_distill_step(student, teacher, optimizer, objective, adaptors=adaptors, **extra)
    real = torch.rand(32, 1, 28, 28) * 2 - 1
    student.train()
    for _, (z_batch, _) in zip(range(200), LatentBatches(8, 32, 200).epoch(0)):
        logged = step(real if objective == "output+adversarial" else z_batch, z_batch)
    assert set(logged) >= {"total", "output"}
    assert fidelity(student, teacher, z) < 0.5 * before


def test_a_distilled_vae_gets_closer_to_its_teacher():
    torch.manual_seed(0)
    teacher, student = VAE(4, 0.25).eval(), VAE(4, 0.125)
    images = torch.rand(32, 1, 28, 28)
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))

    def gaps():
        with torch.no_grad():
            decoded = (torch.sigmoid(student.decode(z)) - torch.sigmoid(teacher.decode(z))).abs().mean().item()
            return decoded, gaussian_kl(*teacher.encode(images), *student.encode(images)).item()

    before = gaps()
    step = vae_distill_step(student, teacher, torch.optim.Adam(student.parameters(), lr=2e-3))
    for _ in range(200):
        logged = step(images, images)
    after = gaps()
    assert after[0] < 0.5 * before[0] and after[1] < 0.5 * before[1]
    assert logged["total"].item() == pytest.approx((logged["decoder"] + logged["encoder"]).item())


def test_load_teacher_finds_the_checkpoint_through_the_metrics(tmp_path):
    from kdlib import Batches
    from kdlib.distill import load_teacher
    from kdlib.runs import RunDir
    from kdlib.train import fit_epochs, vae_step

    run = RunDir(tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="run notebooks/03_vae_teacher.ipynb"):
        load_teacher(run, "vae")
    with pytest.raises(ValueError, match="is not one of"):
        load_teacher(run, "flow")
    torch.manual_seed(0)
    vae = VAE(4, 0.125)
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-3)
    images = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
    checkpoint = run.file("checkpoints", "03_vae_teacher_test.pt")
    fit_epochs({"vae": vae}, {"vae": optimizer}, vae_step(vae, optimizer),
               Batches(images, torch.zeros(32), 16, value_range=(0.0, 1.0)), 1, checkpoint, {"width": 0.125})
    run.write_metrics("03_vae_teacher", {"checkpoint": checkpoint.name, "settings": {"latent_dim": 4, "width": 0.125}})
    loaded = load_teacher(run, "vae")
    z = torch.randn(3, 4)
    torch.testing.assert_close(loaded.decode(z), vae.eval().decode(z))
    checkpoint.unlink()
    with pytest.raises(FileNotFoundError, match="03_vae_teacher_test.pt is missing"):
        load_teacher(run, "vae")
