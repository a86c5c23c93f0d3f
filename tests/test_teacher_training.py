"""kdlib.generative: the load-or-train functions of the generative teachers and the GAN's learning-rate schedule."""

from __future__ import annotations

import pytest
import torch

from kdlib import fixed_latents, train_gan, train_vae
from kdlib.generative import GAN_LATENT, VAE_LATENT, hold_then_decay
from kdlib.store import load_checkpoint

IMAGES = torch.randint(0, 256, (96, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


def test_the_schedule_holds_for_half_the_steps_then_falls_linearly_to_zero():
    factor = hold_then_decay(10)  # steps 0..4 held, then 5/5, 4/5, ... 1/5, and 0 after the last step
    assert [factor(step) for step in range(11)] == pytest.approx([1, 1, 1, 1, 1, 1.0, 0.8, 0.6, 0.4, 0.2, 0.0])
    odd = hold_then_decay(7)  # half = 3 steps held
    assert [odd(step) for step in range(8)] == pytest.approx([1, 1, 1, 1.0, 0.75, 0.5, 0.25, 0.0])


def weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [tensor.clone() for tensor in module.state_dict().values()]


def test_the_gan_trains_with_the_schedule_repeats_and_loads_instead_of_retraining(tmp_path):
    settings = dict(dataset="fashion-mnist", epochs=2, batch_size=32, learning_rate=2e-4, seed=3)
    generator, discriminator, trained = train_gan(IMAGES, tmp_path / "a", **settings)
    steps = 2 * (len(IMAGES) // 32)
    assert len(trained.history["steps"]["generator"]) == steps
    state = load_checkpoint(trained.checkpoint)
    for name in ("generator", "discriminator"):  # the last step ran at 1/(steps - half) of the rate, now 0
        assert state["optimizers"][name]["param_groups"][0]["lr"] == 0.0
    assert trained.settings["latent_dim"] == GAN_LATENT and trained.settings["train_size"] == len(IMAGES)
    again, _, _ = train_gan(IMAGES, tmp_path / "b", **settings)  # from scratch elsewhere: bit for bit
    assert all(torch.equal(a, b) for a, b in zip(weights(generator), weights(again)))
    loaded, _, reloaded = train_gan(IMAGES, tmp_path / "a", **settings)  # the finished run: loaded
    assert reloaded.history["seconds"] == trained.history["seconds"]
    assert all(torch.equal(a, b) for a, b in zip(weights(generator), weights(loaded)))
    _, _, other = train_gan(IMAGES, tmp_path / "a", **(settings | {"seed": 4}))
    assert other.checkpoint != trained.checkpoint  # another setting, another file
    first = trained.history["snapshots"][-1]
    assert first.dtype == torch.uint8 and first.shape == (64, 1, 28, 28)
    expected = ((generator.eval()(fixed_latents(GAN_LATENT, 3)) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(first, expected)  # the snapshots render the fixed latents of seed + 1


def test_the_vae_is_annealed_to_zero_and_named_by_its_settings(tmp_path):
    settings = dict(dataset="fashion-mnist", epochs=2, batch_size=32, learning_rate=1e-3, seed=0)
    vae, trained = train_vae(IMAGES, tmp_path, **settings)
    state = load_checkpoint(trained.checkpoint)
    assert state["optimizers"]["vae"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert vae.latent_dim == VAE_LATENT and set(trained.history["epochs"][0]) == {"negative ELBO", "reconstruction", "KL"}
    assert trained.history["epochs"][-1]["negative ELBO"] < trained.history["epochs"][0]["negative ELBO"]
    _, longer = train_vae(IMAGES, tmp_path, **(settings | {"epochs": 3}))
    assert longer.checkpoint != trained.checkpoint
    assert "kl_weight" not in trained.settings  # the ELBO's runs keep the names they had before beta existed
    _, beta = train_vae(IMAGES, tmp_path, **(settings | {"kl_weight": 0.5}))
    assert beta.settings["kl_weight"] == 0.5 and beta.checkpoint != trained.checkpoint
    assert set(beta.history["epochs"][0]) == {"loss", "reconstruction", "KL"}
    with pytest.raises(ValueError, match="would train nothing"):
        train_vae(IMAGES[:10], tmp_path, **(settings | {"batch_size": 32, "epochs": 0}))
