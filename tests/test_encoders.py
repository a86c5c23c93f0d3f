"""A VAE encoder's test scores, against torch.distributions and hand computations."""

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from kdlib.encoders import encoder_scores
from kdlib.models import VAE


def images(n: int = 12) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(4))


def test_scores_match_torch_distributions_and_the_teacher_scores_zero_kl_to_itself():
    torch.manual_seed(0)
    teacher, student, x = VAE(4, 0.25).eval(), VAE(4, 0.125).eval(), images()
    scores = encoder_scores(student, teacher, x, seed=3)
    with torch.no_grad():
        mean, log_variance = student.encode(x)
        std = (0.5 * log_variance).exp()
        z = mean + torch.randn(mean.shape, generator=torch.Generator().manual_seed(3)) * std
        reconstruction = -Bernoulli(logits=student.decode(z), validate_args=False).log_prob(x).sum() / len(x)
        kl = kl_divergence(Normal(mean, std), Normal(0.0, 1.0)).sum() / len(x)
        teacher_reconstruction = -Bernoulli(logits=teacher.decode(mean), validate_args=False).log_prob(x).sum() / len(x)
        teacher_mean, teacher_log_variance = teacher.encode(x)
        from_teacher = kl_divergence(Normal(teacher_mean, (0.5 * teacher_log_variance).exp()), Normal(mean, std))
    assert scores.reconstruction == pytest.approx(float(reconstruction), rel=1e-5)
    assert scores.kl_to_prior == pytest.approx(float(kl), rel=1e-5)
    assert scores.negative_elbo == pytest.approx(scores.reconstruction + scores.kl_to_prior)
    assert scores.teacher_decoder_reconstruction == pytest.approx(float(teacher_reconstruction), rel=1e-5)
    assert scores.kl_from_teacher == pytest.approx(float(from_teacher.sum() / len(x)), rel=1e-5)
    itself = encoder_scores(teacher, teacher, x)
    assert itself.kl_from_teacher == pytest.approx(0.0, abs=1e-6)


def test_the_deterministic_scores_do_not_depend_on_the_batch_and_bad_input_is_refused():
    torch.manual_seed(1)
    teacher, student, x = VAE(4, 0.25).eval(), VAE(4, 0.125).eval(), images()
    whole, batched = encoder_scores(student, teacher, x, batch=1000), encoder_scores(student, teacher, x, batch=5)
    assert batched.teacher_decoder_reconstruction == pytest.approx(whole.teacher_decoder_reconstruction, rel=1e-6)
    assert batched.kl_from_teacher == pytest.approx(whole.kl_from_teacher, rel=1e-6)
    with pytest.raises(ValueError, match="same latent space"):
        encoder_scores(VAE(8, 0.125), teacher, x)
    with pytest.raises(ValueError, match="images in \\[0, 1\\]"):
        encoder_scores(student, teacher, x * 2 - 1)
    with pytest.raises(ValueError, match="no images"):
        encoder_scores(student, teacher, x[:0])
