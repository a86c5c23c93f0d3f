"""The generative teachers' training: a DCGAN and a VAE, each by one load-or-train function.

A run's teachers and the course's shipped ones are trained by these same functions, from different settings, so
the two differ only in those settings.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from kdlib.batches import Batches
from kdlib.models import VAE, Decoder, Discriminator, Generator
from kdlib.train import Trained, Training, fit, gan_step, render, seed_everything, vae_step

GAN_LATENT = 64  # the GAN teacher's latent size (its students share it)
VAE_LATENT = 16  # the VAE teacher's latent size (its students share it)
GAN_PIXELS = (-1.0, 1.0)  # tanh's range
VAE_PIXELS = (0.0, 1.0)  # the Bernoulli's range


def hold_then_decay(total_steps: int) -> Callable[[int], float]:
    """Learning-rate factor per step: 1 for the first half of training, then linearly down to 0 at the end
    (the schedule of Isola et al.'s and Zhu et al.'s GANs); the last steps' small updates settle the game."""
    if total_steps < 1:
        raise ValueError(f"the schedule spans {total_steps} step(s): give at least one epoch (epochs >= 1) and more "
                         f"training images than one batch")
    half = total_steps // 2

    def factor(step: int) -> float:
        return 1.0 if step < half else max(0.0, (total_steps - step) / (total_steps - half))
    return factor


def fixed_latents(latent_dim: int, seed: int, device: torch.device | str = "cpu", count: int = 64) -> torch.Tensor:
    """The latents every snapshot and sample grid of a run renders (seed + 1: apart from the training stream)."""
    return torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(seed + 1)).to(device)


def train_gan(images: torch.Tensor, checkpoints: Path, *, dataset: str, epochs: int, batch_size: int,
              learning_rate: float, seed: int, width: float = 1.0, device: torch.device | str = "cpu",
              snapshots_per_epoch: int = 4, fresh: bool = False) -> tuple[Generator, Discriminator, Trained]:
    """A DCGAN teacher (``Generator`` and ``Discriminator``, both at ``width``) trained on the uint8 ``images`` (all
    of them), or loaded from ``checkpoints`` when a run of exactly these settings is there.

    Both players use Adam with beta1 = 0.5 at ``learning_rate``, held for the first half of the steps and then
    decayed linearly to 0 (``hold_then_decay``); one ``gan_step`` per batch of ``batch_size`` real images.
    """
    settings = {"name": "gan_teacher", "dataset": dataset, "train_size": len(images), "epochs": epochs,
                "batch_size": batch_size, "learning_rate": learning_rate, "schedule": "hold, then linear to 0",
                "seed": seed, "latent_dim": GAN_LATENT, "width": width}
    seed_everything(seed)
    generator, discriminator = Generator(GAN_LATENT, width).to(device), Discriminator(width).to(device)
    batches = Batches(images, torch.zeros(len(images)), batch_size, seed=seed, value_range=GAN_PIXELS,
                      drop_last=True, device=device)
    optimizers = {name: torch.optim.Adam(net.parameters(), lr=learning_rate, betas=(0.5, 0.999))
                  for name, net in (("generator", generator), ("discriminator", discriminator))}
    decay = hold_then_decay(epochs * len(batches))
    training = Training({"generator": generator, "discriminator": discriminator}, optimizers,
                        gan_step(generator, discriminator, optimizers["generator"], optimizers["discriminator"]),
                        batches, schedulers={name: torch.optim.lr_scheduler.LambdaLR(optimizer, decay)
                                             for name, optimizer in optimizers.items()})
    fixed_z = fixed_latents(GAN_LATENT, seed, device)
    trained = fit(training, epochs, checkpoints, "gan_teacher", settings, snapshot=lambda: render(generator, fixed_z),
                  snapshots_per_epoch=snapshots_per_epoch, fresh=fresh, description="GAN teacher")
    return generator, discriminator, trained


def train_vae(images: torch.Tensor, checkpoints: Path, *, dataset: str, epochs: int, batch_size: int,
              learning_rate: float, seed: int, kl_weight: float = 1.0, device: torch.device | str = "cpu",
              snapshots_per_epoch: int = 2, fresh: bool = False) -> tuple[VAE, Trained]:
    """A VAE teacher (width 1, ``VAE_LATENT`` latents) trained on the uint8 ``images`` (all of them) by Adam on the
    negative ELBO (with ``kl_weight`` != 1: reconstruction + beta * KL), the learning rate cosine-annealed to 0
    epoch by epoch; or loaded from ``checkpoints``."""
    settings = {"name": "vae_teacher", "dataset": dataset, "train_size": len(images), "epochs": epochs,
                "batch_size": batch_size, "learning_rate": learning_rate, "schedule": "cosine to 0",
                "seed": seed, "latent_dim": VAE_LATENT, "width": 1.0} | ({"kl_weight": kl_weight} if kl_weight != 1 else {})
    seed_everything(seed)
    vae = VAE(VAE_LATENT, 1.0).to(device)
    batches = Batches(images, torch.zeros(len(images)), batch_size, seed=seed, value_range=VAE_PIXELS, device=device)
    optimizer = torch.optim.Adam(vae.parameters(), lr=learning_rate)
    training = Training({"vae": vae}, {"vae": optimizer}, vae_step(vae, optimizer, kl_weight), batches,
                        epoch_schedulers={"vae": torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)})
    decoder, fixed_z = Decoder(vae), fixed_latents(VAE_LATENT, seed, device)
    trained = fit(training, epochs, checkpoints, "vae_teacher", settings, snapshot=lambda: render(decoder, fixed_z),
                  snapshots_per_epoch=snapshots_per_epoch, fresh=fresh, description="VAE teacher")
    return vae, trained
