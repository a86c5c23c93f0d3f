"""How good a VAE's encoder is, on held-out images: its own negative ELBO, and how well it agrees with a teacher's.

A distilled VAE student learns two things from its teacher (``VAEDistillation``): a decoder, which its samples
show, and an encoder, which they do not. ``encoder_scores`` measures the encoder: the student's test ELBO with its own decoder;
the reconstruction the *teacher's* decoder makes from the student's codes (low only if the student encodes into the
teacher's latent space); and the KL divergence from the teacher's posterior to the student's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kdlib.distill import gaussian_kl
from kdlib.losses import vae_losses
from kdlib.models import VAE


@dataclass(frozen=True)
class EncoderScores:
    """A VAE's scores on test images, each in nats per image (lower is better)."""

    negative_elbo: float  # reconstruction + kl_to_prior: the VAE's own bound on -log p(x)
    reconstruction: float  # -log p(x | z), z one sample of its posterior, decoded by its own decoder
    kl_to_prior: float  # KL(q(z | x) || N(0, I))
    teacher_decoder_reconstruction: float  # -log p(x | z) under the teacher's decoder, z the posterior mean
    kl_from_teacher: float  # KL(q_teacher(z | x) || q(z | x)): 0 for the teacher itself


@torch.no_grad()
def encoder_scores(vae: VAE, teacher: VAE, images: torch.Tensor, seed: int = 0, batch: int = 1000) -> EncoderScores:
    """``vae``'s scores (``EncoderScores``) on ``images`` in [0, 1], ``batch`` at a time; the one posterior sample
    per image that the ELBO needs is drawn from a generator seeded with ``seed``."""
    if vae.latent_dim != teacher.latent_dim:
        raise ValueError(f"the VAE's latents have {vae.latent_dim} dimensions and the teacher's {teacher.latent_dim}: "
                         "an encoder can only be compared with a teacher of the same latent space")
    if not len(images):
        raise ValueError("no images to score")
    vae.eval()
    teacher.eval()
    generator = torch.Generator(device=images.device).manual_seed(seed)
    totals = torch.zeros(4, dtype=torch.float64)
    for start in range(0, len(images), batch):
        x = images[start:start + batch]
        mean, log_variance = vae.encode(x)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        reconstruction, kl = vae_losses(vae.decode(mean + noise * (0.5 * log_variance).exp()), x, mean, log_variance)
        teacher_reconstruction, _ = vae_losses(teacher.decode(mean), x, mean, log_variance)
        kl_from_teacher = gaussian_kl(*teacher.encode(x), mean, log_variance)
        totals += torch.stack([reconstruction, kl, teacher_reconstruction, kl_from_teacher]).double().cpu() * len(x)
    reconstruction, kl, teacher_reconstruction, kl_from_teacher = (totals / len(images)).tolist()
    return EncoderScores(reconstruction + kl, reconstruction, kl, teacher_reconstruction, kl_from_teacher)
