"""A Gaussian mixture fitted by expectation-maximisation: the ex-post prior of a VAE.

A VAE trained with the prior N(0, I) does not place the codes of real images on that prior: their aggregate
posterior leaves holes, and prior samples that land in a hole decode to blurs. Ghosh et al. (2020, "From
variational to deterministic autoencoders", ICLR) sample instead from a density fitted after training to the codes
of the training images ("ex-post density estimation"), a Gaussian mixture of 10 full-covariance components.
This module fits one (Dempster, Laird and Rubin, 1977), in float64, and samples from it; ``ex_post_prior`` fits
it to a VAE's codes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from kdlib.models import VAE

RIDGE = 1e-6  # added to every covariance's diagonal (as scikit-learn's reg_covar): keeps them invertible


@dataclass(frozen=True)
class GaussianMixture:
    """Weights (k), means (k x d) and covariances (k x d x d) of a mixture of k Gaussians in d dimensions."""

    weights: torch.Tensor
    means: torch.Tensor
    covariances: torch.Tensor

    def log_prob(self, points: torch.Tensor) -> torch.Tensor:
        """log p(x) of each row of ``points`` (n x d)."""
        return torch.logsumexp(self._joint(points.to(self.means)), dim=1).to(points.dtype)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` float32 points: a component by its weight, then a point of that Gaussian (``generator`` seeds both,
        on the CPU)."""
        components = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.means.shape[1], generator=generator)
        means, transposed_factors = self._float32
        every_component = torch.matmul(noise, transposed_factors)  # k x n x d: cheaper than n small products
        return means[components] + every_component[components, torch.arange(n)]

    @functools.cached_property
    def _cholesky(self) -> torch.Tensor:
        """The covariances' lower Cholesky factors, computed once."""
        return torch.linalg.cholesky(self.covariances)

    @functools.cached_property
    def _float32(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and transposed Cholesky factors in float32, computed once: sampling is part of a generator's timed
        cost."""
        return self.means.float(), self._cholesky.float().transpose(1, 2).contiguous()

    def _joint(self, points: torch.Tensor) -> torch.Tensor:
        """log w_k + log N(x | mu_k, Sigma_k), n x k."""
        cholesky = self._cholesky
        centred = points.T.unsqueeze(0) - self.means.unsqueeze(2)  # k x d x n
        whitened = torch.linalg.solve_triangular(cholesky, centred, upper=False)  # L^-1 (x - mu), k x d x n
        log_det = 2 * cholesky.diagonal(dim1=1, dim2=2).log().sum(1)
        dims = points.shape[1]
        log_normal = -0.5 * (whitened.pow(2).sum(1) + log_det.unsqueeze(1) + dims * math.log(2 * math.pi))
        return (self.weights.log().unsqueeze(1) + log_normal).T


def fit_mixture(points: torch.Tensor, components: int = 10, *, seed: int = 0, iterations: int = 200,
                tolerance: float = 1e-6) -> tuple[GaussianMixture, list[float]]:
    """A mixture of ``components`` full-covariance Gaussians fitted to ``points`` (n x d) by EM, and the mean
    log-likelihood after each iteration (EM never lowers it). Starts from ``components`` distinct points drawn with
    ``seed`` as means, every covariance the points' own; stops when the mean log-likelihood gains less than
    ``tolerance`` or after ``iterations``."""
    if points.ndim != 2:
        raise ValueError(f"fit_mixture needs an n x d tensor of points, not shape {tuple(points.shape)}")
    if not torch.isfinite(points).all():
        raise ValueError("fit_mixture got non-finite points (NaN or infinity): check the encoder that made them")
    n, dims = points.shape
    if not 1 <= components <= n:
        raise ValueError(f"components={components}: give between 1 and the number of points ({n})")
    data = points.double()
    start = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:components]
    spread = torch.cov(data.T).reshape(dims, dims) + RIDGE * torch.eye(dims, dtype=data.dtype)
    mixture = GaussianMixture(torch.full((components,), 1 / components, dtype=data.dtype), data[start].clone(),
                              spread.expand(components, dims, dims).clone())
    history: list[float] = []
    for _ in range(iterations):
        joint = mixture._joint(data)
        log_likelihood = torch.logsumexp(joint, dim=1)
        history.append(log_likelihood.mean().item())
        if len(history) > 1 and history[-1] - history[-2] < tolerance:
            break
        mixture = _maximise(data, (joint - log_likelihood.unsqueeze(1)).exp())
    return mixture, history


def _maximise(data: torch.Tensor, responsibilities: torch.Tensor) -> GaussianMixture:
    """The M step: each component's weight, mean and covariance from the points weighted by its responsibilities."""
    mass = responsibilities.sum(0) + 10 * torch.finfo(data.dtype).eps  # n x k -> k
    means = responsibilities.T @ data / mass.unsqueeze(1)
    centred = data.unsqueeze(0) - means.unsqueeze(1)  # k x n x d
    weighted = centred * responsibilities.T.unsqueeze(2)
    covariances = weighted.transpose(1, 2) @ centred / mass.view(-1, 1, 1)
    covariances = covariances + RIDGE * torch.eye(data.shape[1], dtype=data.dtype)
    return GaussianMixture(mass / mass.sum(), means, covariances)


COMPONENTS = 10  # Ghosh et al.'s choice for the ex-post Gaussian mixture
CODES = 10_000  # training images whose codes the ex-post prior is fitted to


@torch.no_grad()
def ex_post_prior(vae: VAE, images: torch.Tensor, components: int = COMPONENTS, seed: int = 0,
                  batch: int = 2000) -> GaussianMixture:
    """The ex-post prior of ``vae``: a Gaussian mixture fitted to its posterior means of ``images`` (in [0, 1],
    e.g. the first ``CODES`` training images), where the decoder learned to make real-looking images."""
    was_training, device = vae.training, next(vae.parameters()).device
    vae.eval()
    codes = torch.cat([vae.encode(images[start:start + batch].to(device))[0].cpu()
                       for start in range(0, len(images), batch)])
    vae.train(was_training)
    return fit_mixture(codes, components, seed=seed)[0]
