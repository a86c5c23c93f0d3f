"""The DCGAN generator and discriminator, and the non-saturating GAN losses."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kdlib.cost import parameter_count
from kdlib.losses import gan_losses
from kdlib.models import Discriminator, Generator


def generator_parameters(latent: int, width: float) -> int:
    """By hand: transposed convs (in x out x k x k), batch norms (2 per channel), the last bias."""
    wide, middle = round(256 * width), round(128 * width)
    return latent * wide * 49 + 2 * wide + wide * middle * 16 + 2 * middle + middle * 16 + 1


def discriminator_parameters(width: float) -> int:
    narrow, middle = round(64 * width), round(128 * width)
    return (16 * narrow + narrow) + narrow * middle * 16 + 2 * middle + (middle * 49 + 1)


@pytest.mark.parametrize("width", [1.0, 0.5, 0.25, 0.125])
@pytest.mark.parametrize("latent", [16, 64])
def test_shapes_and_parameter_counts(width, latent):
    generator, discriminator = Generator(latent, width), Discriminator(width)
    assert parameter_count(generator) == generator_parameters(latent, width)
    assert parameter_count(discriminator) == discriminator_parameters(width)
    images = generator(torch.randn(5, latent))
    assert images.shape == (5, 1, 28, 28) and images.abs().max() <= 1.0
    assert discriminator(images).shape == (5,)


def test_students_are_much_smaller():
    assert parameter_count(Generator(64, 1.0)) / parameter_count(Generator(64, 0.125)) > 10


def test_bad_arguments():
    with pytest.raises(ValueError, match="width"):
        Generator(64, 0.0)
    with pytest.raises(ValueError, match="latent_dim"):
        Generator(0)
    with pytest.raises(ValueError, match="one logit per image"):
        gan_losses(torch.zeros(4, 1), torch.zeros(4))


def test_gan_losses_by_hand_and_against_bce():
    d_loss, g_loss = gan_losses(torch.zeros(3), torch.zeros(3))  # D = 1/2 everywhere
    assert d_loss.item() == pytest.approx(2 * math.log(2)) and g_loss.item() == pytest.approx(math.log(2))
    real, fake = torch.randn(8) * 5, torch.randn(8) * 5
    d_loss, g_loss = gan_losses(real, fake)
    bce = F.binary_cross_entropy_with_logits
    torch.testing.assert_close(d_loss, bce(real, torch.ones(8)) + bce(fake, torch.zeros(8)))
    torch.testing.assert_close(g_loss, bce(fake, torch.ones(8)))
    assert torch.isfinite(torch.stack(gan_losses(torch.tensor([1e4]), torch.tensor([-1e4])))).all()


def test_one_step_lowers_each_players_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    generator, discriminator = Generator(16, 0.25), Discriminator(0.25)
    real = torch.rand(32, 1, 28, 28) * 2 - 1
    z = torch.randn(32, 16)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    generator.eval()  # fixed batch-norm statistics, so that before and after see the same fakes
    discriminator.eval()

    def losses():
        return gan_losses(discriminator(real), discriminator(generator(z)))

    d_before = losses()[0].item()
    d_optimizer.zero_grad()
    gan_losses(discriminator(real), discriminator(generator(z).detach()))[0].backward()
    d_optimizer.step()
    assert losses()[0].item() < d_before
    g_before = losses()[1].item()
    g_optimizer.zero_grad()
    losses()[1].backward()
    g_optimizer.step()
    assert losses()[1].item() < g_before
