"""The Gaussian mixture against independent references, and the ex-post prior of a VAE that it makes."""

import pytest
import torch
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from kdlib.evaluate import Ruler, compare, latents, reference, sampler
from kdlib.features import FeatureNet
from kdlib.mixture import RIDGE, GaussianMixture, ex_post_prior, fit_mixture
from kdlib.models import VAE, Decoder, Generator, as_generator


def _two_clusters(n: int = 4000) -> torch.Tensor:
    """A 30/70 mixture of two well-separated Gaussians in 2-d with known parameters (see ``TRUE``)."""
    stream = torch.Generator().manual_seed(1)
    first = torch.randn(int(0.3 * n), 2, generator=stream) @ torch.tensor([[1.0, 0.0], [0.5, 0.5]]) + 8
    second = torch.randn(n - len(first), 2, generator=stream) * torch.tensor([0.5, 2.0]) - 8
    return torch.cat([first, second])


def test_log_prob_matches_torch_distributions():
    mixture = GaussianMixture(torch.tensor([0.2, 0.8], dtype=torch.float64),
                              torch.tensor([[0.0, 1.0], [2.0, -1.0]], dtype=torch.float64),
                              torch.tensor([[[1.0, 0.3], [0.3, 2.0]], [[0.5, 0.0], [0.0, 0.25]]], dtype=torch.float64))
    reference = MixtureSameFamily(Categorical(mixture.weights), MultivariateNormal(mixture.means, mixture.covariances))
    points = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    assert torch.allclose(mixture.log_prob(points), reference.log_prob(points), atol=1e-10)


def test_one_component_is_the_sample_mean_and_covariance():
    points = torch.randn(500, 3, generator=torch.Generator().manual_seed(0)).double() * torch.tensor([1.0, 2.0, 0.5])
    mixture, _ = fit_mixture(points, 1)
    centred = points - points.mean(0)
    assert torch.allclose(mixture.means[0], points.mean(0), atol=1e-12)
    assert torch.allclose(mixture.covariances[0], centred.T @ centred / len(points) + RIDGE * torch.eye(3), atol=1e-10)
    assert mixture.weights.item() == pytest.approx(1.0)


def test_em_recovers_a_known_mixture_and_never_lowers_the_likelihood():
    mixture, history = fit_mixture(_two_clusters(), 2, seed=0)
    order = mixture.means[:, 0].argsort(descending=True)  # the component at +8 first
    assert torch.allclose(mixture.weights[order], torch.tensor([0.3, 0.7], dtype=torch.float64), atol=1e-6)
    assert torch.allclose(mixture.means[order], torch.tensor([[8.0, 8.0], [-8.0, -8.0]], dtype=torch.float64),
                          atol=0.15)
    first = torch.tensor([[1.25, 0.25], [0.25, 0.25]], dtype=torch.float64)  # A^T A for x = z A
    assert torch.allclose(mixture.covariances[order[0]], first, atol=0.1)
    assert torch.allclose(mixture.covariances[order[1]].diagonal(), torch.tensor([0.25, 4.0], dtype=torch.float64),
                          rtol=0.1)
    assert all(later >= earlier - 1e-12 for earlier, later in zip(history, history[1:]))


def test_samples_follow_the_mixture_and_repeat_with_the_seed():
    mixture, _ = fit_mixture(_two_clusters(), 2, seed=0)
    samples = mixture.sample(20_000, torch.Generator().manual_seed(3))
    assert samples.dtype == torch.float32
    assert torch.equal(samples, mixture.sample(20_000, torch.Generator().manual_seed(3)))
    expected_mean = (mixture.weights.unsqueeze(1) * mixture.means).sum(0)
    assert torch.allclose(samples.double().mean(0), expected_mean, atol=0.1)
    assert (samples[:, 0] > 0).double().mean().item() == pytest.approx(mixture.weights[mixture.means[:, 0] > 0].item(),
                                                                      abs=0.01)


@pytest.mark.parametrize("points, components, message", [
    (torch.zeros(10), 2, "n x d tensor"),
    (torch.tensor([[0.0, float("nan")], [1.0, 1.0]]), 1, "non-finite"),
    (torch.zeros(5, 2), 6, "components=6"),
    (torch.zeros(5, 2), 0, "components=0"),
])
def test_bad_input_is_refused_by_name(points, components, message):
    with pytest.raises(ValueError, match=message):
        fit_mixture(points, components)


def _narrow_prior(point: torch.Tensor) -> GaussianMixture:
    """One component at ``point`` with a tiny covariance: its samples are ``point`` to 1e-4."""
    dims = len(point)
    return GaussianMixture(torch.ones(1, dtype=torch.float64), point.double().unsqueeze(0),
                           1e-10 * torch.eye(dims, dtype=torch.float64).unsqueeze(0))


def test_a_decoder_samples_from_its_prior_and_the_latents_repeat_with_the_seed():
    vae = VAE(4, 0.25)
    prior, _ = fit_mixture(torch.randn(300, 4, generator=torch.Generator().manual_seed(2)) * 3 + 5, 2)
    decoder = Decoder(vae, prior)
    drawn = latents(decoder, 4, seed=7)(50)
    assert torch.equal(drawn, prior.sample(50, torch.Generator().manual_seed(7)))
    assert drawn.mean().item() == pytest.approx(5, abs=1.0)  # not N(0, I)
    assert torch.equal(sampler(decoder, 4, seed=7)(50), decoder(drawn))
    plain = latents(Decoder(vae), 4, seed=7)(50)  # no prior: N(0, I) from the seeded stream
    assert torch.equal(plain, torch.randn(50, 4, generator=torch.Generator().manual_seed(7)))


def test_a_prior_that_does_not_fit_the_model_is_refused():
    with pytest.raises(ValueError, match="over 3 dimensions, the VAE's latents over 4"):
        Decoder(VAE(4, 0.25), _narrow_prior(torch.zeros(3)))
    with pytest.raises(ValueError, match="not a Generator"):
        as_generator(Generator(4, 0.25), _narrow_prior(torch.zeros(4)))


def test_the_ex_post_prior_is_fitted_to_the_posterior_means():
    vae = VAE(4, 0.25).train()
    images = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    prior = ex_post_prior(vae, images, components=1, batch=10)
    with torch.no_grad():
        means = vae.eval().encode(images)[0].double()
    assert torch.allclose(prior.means[0], means.mean(0), atol=1e-6)
    assert vae.eval() is vae and ex_post_prior(vae.train(), images, 1).means.shape == (1, 4)
    assert vae.training  # left in the mode it was given in


def test_fidelity_compares_every_model_on_the_first_models_latents(tmp_path):
    vae = VAE(4, 0.25).eval()
    net = FeatureNet().eval()
    images = torch.randint(0, 256, (300, 1, 28, 28), generator=torch.Generator().manual_seed(6), dtype=torch.uint8)
    measure = Ruler(net, 0.5, reference(net, images, torch.arange(300) % 10), {}, tmp_path / "net.pt")
    teacher = Decoder(vae, _narrow_prior(torch.full((4,), 2.0)))
    same_decoder_other_prior = Decoder(vae, _narrow_prior(torch.full((4,), -2.0)))
    results = compare({"teacher": teacher, "copy": same_decoder_other_prior}, measure, samples=200)
    assert results["teacher"][1] == 0.0 and results["copy"][1] == pytest.approx(0.0, abs=1e-6)  # same latents
    assert results["copy"][0].frechet_distance != pytest.approx(results["teacher"][0].frechet_distance)  # own prior
