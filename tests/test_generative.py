"""The GAN and VAE teachers: shapes, parameter counts, losses, one training step, checkpoints."""

from __future__ import annotations

import math

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Bernoulli, Normal, kl_divergence

from kdlib import Batches
from kdlib.store import CheckpointError
from kdlib.cost import parameter_count
from kdlib.losses import discriminator_loss, generator_loss, vae_losses
from kdlib.models import (VAE, Decoder, Discriminator, Generator, as_subpixel, build, last_layer_as_subpixel,
                          subpixel_layer)
from kdlib.pruning import pruned_generator
from kdlib.store import load_checkpoint, load_module
from kdlib.train import DivergedError, Training, checkpoint_path, fit, gan_step, render, vae_step

WIDTHS = [1.0, 0.5, 0.25, 0.125]


def generator_parameters(latent: int, width: float) -> int:
    """By hand: transposed convs (in x out x k x k), batch norms (2 per channel), the last bias."""
    wide, narrow = round(128 * width), round(64 * width)
    return latent * wide * 49 + 2 * wide + wide * narrow * 16 + 2 * narrow + narrow * 16 + 1


def discriminator_parameters(width: float) -> int:
    narrow, wide = round(32 * width), round(64 * width)
    return (16 * narrow + narrow) + narrow * wide * 16 + 2 * wide + (wide * 49 + 1)


def vae_parameters(latent: int, width: float) -> tuple[int, int]:
    """Encoder and decoder parameters by hand (weights plus biases of each layer)."""
    narrow, wide = round(32 * width), round(64 * width)
    encoder = (16 * narrow + narrow) + (narrow * wide * 16 + wide) + (wide * 49 * 2 * latent + 2 * latent)
    decoder = (latent * wide * 49 + wide * 49) + (wide * narrow * 16 + narrow) + (narrow * 16 + 1)
    return encoder, decoder


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("latent", [16, 64])
def test_gan_shapes_and_parameter_counts(width, latent):
    generator, discriminator = Generator(latent, width), Discriminator(width)
    assert parameter_count(generator) == generator_parameters(latent, width)
    assert parameter_count(discriminator) == discriminator_parameters(width)
    images = generator(torch.randn(5, latent))
    assert images.shape == (5, 1, 28, 28) and images.abs().max() <= 1.0
    assert discriminator(images).shape == (5,)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("latent", [8, 16])
def test_vae_shapes_and_parameter_counts(width, latent):
    vae = VAE(latent, width)
    encoder, decoder = vae_parameters(latent, width)
    assert parameter_count(vae.encoder) == encoder and parameter_count(vae.decoder) == decoder
    assert parameter_count(Decoder(vae)) == decoder  # sampling needs the decoder only
    logits, mean, log_variance = vae(torch.rand(5, 1, 28, 28))
    assert logits.shape == (5, 1, 28, 28) and mean.shape == log_variance.shape == (5, latent)
    samples = Decoder(vae)(torch.randn(3, latent))
    assert samples.shape == (3, 1, 28, 28) and samples.min() >= -1 and samples.max() <= 1


def test_students_are_much_smaller():
    assert parameter_count(Generator(64, 1.0)) / parameter_count(Generator(64, 0.125)) > 10
    assert parameter_count(VAE(16, 1.0)) / parameter_count(VAE(16, 0.25)) > 5


def test_subpixel_upsampling_computes_what_the_transposed_one_does():
    """as_subpixel re-lays each stride-2 transposed convolution of a generator as a 3x3 convolution + pixel shuffle:
    the same images, in evaluation mode (batch-norm statistics made non-trivial) and in training mode."""
    torch.manual_seed(0)
    for width in (1.0, 0.125):
        generator = Generator(16, width)
        with torch.no_grad():
            for module in generator.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.running_mean.normal_()
                    module.running_var.uniform_(0.5, 2.0)
                    module.weight.uniform_(0.5, 1.5)
        relaid = as_subpixel(generator.eval())
        z = torch.randn(6, 16)
        assert relaid.upsampling == "subpixel" and not relaid.training
        torch.testing.assert_close(relaid(z), generator(z), atol=1e-5, rtol=0)
        torch.testing.assert_close(as_subpixel(generator.train())(z), generator(z), atol=1e-5, rtol=0)
    # width 1/8: 16 -> 8 channels at 14x14, then 8 -> 1; a sub-pixel layer has 9 taps per phase, a transposed one 4
    assert parameter_count(relaid) - parameter_count(generator) == (16 * 32 * 9 - 16 * 8 * 16) + (8 * 4 * 9 + 4 - 8 * 16 - 1)
    with pytest.raises(ValueError, match="already 'subpixel'"):
        as_subpixel(relaid)
    layer = nn.ConvTranspose2d(3, 2, 4, 2, 1)  # one layer alone, with a bias
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(subpixel_layer(layer)(x), layer(x), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="4x4, stride-2, padding-1"):
        subpixel_layer(nn.ConvTranspose2d(3, 2, 7))


def test_last_layer_as_subpixel_re_lays_out_the_last_layer_only():
    """The teacher's fastest exact layout: its last transposed convolution as a sub-pixel one, its middle one kept;
    the same images; the original untouched; a layout that as_subpixel and the student cutter refuse by name."""
    torch.manual_seed(0)
    generator = Generator(16, 0.5)
    with torch.no_grad():
        for norm in (m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)):
            norm.running_mean.normal_()
            norm.running_var.uniform_(0.5, 2.0)
    generator.eval()
    relaid = last_layer_as_subpixel(generator)
    kinds = [type(layer).__name__ for layer in relaid.net if layer.state_dict()]
    assert kinds == ["ConvTranspose2d", "BatchNorm2d", "ConvTranspose2d", "BatchNorm2d", "Sequential"]
    assert isinstance(generator.net[7], nn.ConvTranspose2d) and generator.upsampling == "transposed"
    z = torch.randn(5, 16)
    with torch.no_grad():
        torch.testing.assert_close(relaid(z), generator(z), atol=1e-5, rtol=0)
    # the last layer 32 -> 1 channels: 4 phases x 9 taps and 4 biases, against 16 taps and 1 bias
    assert parameter_count(relaid) - parameter_count(generator) == (32 * 4 * 9 + 4) - (32 * 16 + 1)
    assert relaid.upsampling == "transposed, last sub-pixel"
    with pytest.raises(ValueError, match="already 'transposed, last sub-pixel'"):
        as_subpixel(relaid)
    with pytest.raises(ValueError, match="cannot cut a 'subpixel' student"):
        pruned_generator(relaid, 0.25, "subpixel")
    for other in (Generator(16, 0.5, "subpixel"), relaid, VAE(4, 0.5)):
        with pytest.raises(ValueError, match="need a Generator with transposed upsampling"):
            last_layer_as_subpixel(other)


def test_sub_pixel_student_is_ten_times_smaller_and_built_by_name():
    student = build("gan", 64, 0.12, "subpixel")
    assert [m.out_channels for m in student.net if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)] == [15, 32, 4]
    assert isinstance(student.net[-2], nn.PixelShuffle) and student(torch.randn(3, 64)).shape == (3, 1, 28, 28)
    assert parameter_count(Generator(64, 1.0)) / parameter_count(student) > 10
    with pytest.raises(ValueError, match="upsampling must be one of"):
        Generator(64, 0.125, "bilinear")
    with pytest.raises(ValueError, match="is for GAN generators"):
        build("vae", 16, 0.25, "subpixel")


def test_bad_arguments():
    for build in (lambda: Generator(64, 0.0), lambda: VAE(16, -1.0), lambda: Discriminator(0.0)):
        with pytest.raises(ValueError, match="width"):
            build()
    for build in (lambda: Generator(0), lambda: VAE(0)):
        with pytest.raises(ValueError, match="latent_dim"):
            build()
    with pytest.raises(ValueError, match="one logit per image"):
        discriminator_loss(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ValueError, match=r"images in \[0, 1\]"):
        vae_losses(torch.zeros(2, 4), torch.full((2, 4), -1.0), torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="differ in shape"):
        vae_losses(torch.zeros(2, 4), torch.zeros(2, 5), torch.zeros(2, 3), torch.zeros(2, 3))


def test_gan_losses_by_hand_and_against_bce():
    assert discriminator_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(2 * math.log(2))  # D = 1/2
    assert generator_loss(torch.zeros(3)).item() == pytest.approx(math.log(2))
    real, fake = torch.randn(8) * 5, torch.randn(8) * 5
    bce = F.binary_cross_entropy_with_logits
    torch.testing.assert_close(discriminator_loss(real, fake), bce(real, torch.ones(8)) + bce(fake, torch.zeros(8)))
    torch.testing.assert_close(generator_loss(fake), bce(fake, torch.ones(8)))
    assert torch.isfinite(discriminator_loss(torch.tensor([1e4]), torch.tensor([-1e4])))
    assert torch.isfinite(generator_loss(torch.tensor([-1e4])))


def test_vae_losses_by_hand_and_against_torch_distributions():
    # logits 0: p = 1/2 per pixel, so -log p(x|z) = 784 ln 2 whatever x; mean 1, var 1: KL = 1/2 per latent
    reconstruction, kl = vae_losses(torch.zeros(2, 784), torch.rand(2, 784), torch.ones(2, 16), torch.zeros(2, 16))
    assert reconstruction.item() == pytest.approx(784 * math.log(2)) and kl.item() == pytest.approx(8.0)
    generator = torch.Generator().manual_seed(0)
    logits, binary = torch.randn(4, 50, generator=generator) * 3, torch.randint(0, 2, (4, 50), generator=generator)
    mean, log_variance = torch.randn(4, 6, generator=generator), torch.randn(4, 6, generator=generator)
    reconstruction, kl = vae_losses(logits, binary.float(), mean, log_variance)
    expected_reconstruction = -Bernoulli(logits=logits).log_prob(binary.float()).sum(1).mean()
    expected_kl = kl_divergence(Normal(mean, (0.5 * log_variance).exp()), Normal(0.0, 1.0)).sum(1).mean()
    torch.testing.assert_close(reconstruction, expected_reconstruction)
    torch.testing.assert_close(kl, expected_kl)


def test_one_gan_step_lowers_each_players_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    generator, discriminator = Generator(16, 0.25), Discriminator(0.25)
    real = torch.rand(32, 1, 28, 28) * 2 - 1
    z = torch.randn(32, 16)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    generator.eval()  # fixed batch-norm statistics, so that before and after see the same fakes
    discriminator.eval()

    def losses():
        fake_logits = discriminator(generator(z))
        return discriminator_loss(discriminator(real), fake_logits), generator_loss(fake_logits)

    d_before = losses()[0].item()
    d_optimizer.zero_grad()
    discriminator_loss(discriminator(real), discriminator(generator(z).detach())).backward()
    d_optimizer.step()
    assert losses()[0].item() < d_before
    g_before = losses()[1].item()
    g_optimizer.zero_grad()
    losses()[1].backward()
    g_optimizer.step()
    assert losses()[1].item() < g_before


def test_one_vae_step_lowers_the_negative_elbo_on_a_fixed_batch():
    torch.manual_seed(0)
    vae = VAE(8, 0.25)
    images = torch.rand(32, 1, 28, 28)
    step = vae_step(vae, torch.optim.Adam(vae.parameters(), lr=1e-3))

    def negative_elbo():
        torch.manual_seed(1)  # the same noise for the reparameterised sample each time
        with torch.no_grad():
            return sum(vae_losses(*vae(images)[:1], images, *vae(images)[1:])).item()

    before = negative_elbo()
    torch.manual_seed(1)
    logged = step(images, torch.zeros(32))
    assert logged["negative ELBO"].item() == pytest.approx(before, rel=1e-5)
    assert logged["negative ELBO"].item() == pytest.approx((logged["reconstruction"] + logged["KL"]).item())
    assert negative_elbo() < before


def tiny_gan(seed: int = 0):
    torch.manual_seed(seed)
    generator, discriminator = Generator(8, 0.125), Discriminator(0.125)
    optimizers = {"generator": torch.optim.Adam(generator.parameters(), 2e-4, betas=(0.5, 0.999)),
                  "discriminator": torch.optim.Adam(discriminator.parameters(), 2e-4, betas=(0.5, 0.999))}
    return {"generator": generator, "discriminator": discriminator}, optimizers


def train_tiny_gan(path, epochs, seed=0, fresh=False, poison_after=None):
    images = torch.randint(0, 256, (48, 1, 28, 28), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    modules, optimizers = tiny_gan(seed)
    step = gan_step(modules["generator"], modules["discriminator"], optimizers["generator"], optimizers["discriminator"])
    if poison_after is not None:
        calls = {"n": 0}
        clean = step

        def step(real, targets):
            calls["n"] += 1
            losses = clean(real, targets)
            return {**losses, "generator": losses["generator"] * (math.nan if calls["n"] > poison_after else 1)}
    fixed_z = torch.randn(4, 8, generator=torch.Generator().manual_seed(9))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizers["generator"], T_max=9)  # stepped per step
    training = Training(modules, optimizers, step, Batches(images, torch.zeros(48), 16, seed=1),
                        schedulers={"generator": schedule})
    history = fit(training, epochs, path.parent, path.stem, {"width": 0.125},
                  snapshot=lambda: render(modules["generator"], fixed_z), snapshots_per_epoch=2, fresh=fresh).history
    return modules, history, optimizers


def saved(path):
    """Where ``train_tiny_gan(path, ...)`` keeps its checkpoint."""
    return checkpoint_path(path.parent, path.stem, {"width": 0.125})


def test_gan_training_resumes_bit_for_bit_and_keeps_snapshots(tmp_path):
    whole, whole_history, whole_optimizers = train_tiny_gan(tmp_path / "whole.pt", 3)
    train_tiny_gan(tmp_path / "split.pt", 1)
    resumed, resumed_history, resumed_optimizers = train_tiny_gan(tmp_path / "split.pt", 3, seed=7)  # other weights
    for name in whole:
        for key, value in whole[name].state_dict().items():
            assert torch.equal(value, resumed[name].state_dict()[key]), f"{name}.{key} differs"
    assert resumed_history["epochs"] == whole_history["epochs"]
    lr = resumed_optimizers["generator"].param_groups[0]["lr"]  # the schedule resumed too: 9 of 9 steps, lr 0
    assert lr == whole_optimizers["generator"].param_groups[0]["lr"] and lr == pytest.approx(0.0, abs=1e-12)
    # before training, then twice per epoch of 3 steps: after steps 2 and 3
    assert whole_history["snapshot_epochs"] == [0.0, 0.667, 1.0, 1.667, 2.0, 2.667, 3.0]
    assert len(whole_history["snapshots"]) == 7 and len(whole_history["steps"]["generator"]) == 9
    assert all(torch.equal(a, b) for a, b in zip(whole_history["snapshots"], resumed_history["snapshots"]))
    assert whole_history["snapshots"][0].dtype == torch.uint8 and whole_history["snapshots"][0].shape == (4, 1, 28, 28)
    assert set(whole_history["epochs"][0]) == {"discriminator", "generator", "D(real)", "D(fake)"}


def test_fresh_start_retrains(tmp_path):
    _, first, _ = train_tiny_gan(tmp_path / "m.pt", 1)
    _, again, _ = train_tiny_gan(tmp_path / "m.pt", 1, seed=3, fresh=True)
    assert again["epochs"] != first["epochs"]


def test_gan_nan_guard_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    path = tmp_path / "gan.pt"
    train_tiny_gan(path, 1)
    before = saved(path).read_bytes()
    with pytest.raises(DivergedError, match="epoch 1, step 1"):
        train_tiny_gan(path, 2, poison_after=1)
    assert saved(path).read_bytes() == before and load_checkpoint(saved(path))["epoch"] == 1


def test_trained_generator_loads_and_mismatches_are_refused(tmp_path):
    path = tmp_path / "gan.pt"
    modules, _, _ = train_tiny_gan(path, 1)
    loaded = load_module(Generator(8, 0.125), saved(path), "generator")
    z = torch.randn(3, 8)
    torch.testing.assert_close(render(loaded, z), render(modules["generator"], z))
    with pytest.raises(CheckpointError, match="does not match Generator"):
        load_module(Generator(8, 0.25), saved(path), "generator")
    with pytest.raises(CheckpointError, match="no module 'decoder'"):
        load_module(Generator(8, 0.125), saved(path), "decoder")


def test_truncated_training_checkpoint_is_refused_and_a_failed_save_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "gan.pt"
    train_tiny_gan(path, 1)
    good = saved(path).read_bytes()
    truncated = tmp_path / "truncated.pt"
    saved(truncated).write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        train_tiny_gan(truncated, 2)

    real_write = Path.write_bytes

    def interrupted_write(self, data):  # the disk fills up half-way through the epoch-2 checkpoint
        real_write(self, data[: len(data) // 2])
        raise OSError("No space left on device")

    monkeypatch.setattr(Path, "write_bytes", interrupted_write)
    with pytest.raises(OSError, match="No space left"):
        train_tiny_gan(path, 2)
    assert saved(path).read_bytes() == good
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
