"""Measuring generated images: Fréchet distance, precision/recall, density/coverage, class statistics.

All of them work on features of a classifier trained on the data set (see
``kdlib.features``): Inception features mean little on 28x28 grayscale images, so
the Fréchet distance here is on the domain classifier's penultimate layer
(often called the Fréchet LeNet Distance); it is comparable only between runs
that use the same feature network.
"""

from __future__ import annotations

import math

import torch


def check_features(features: torch.Tensor, name: str = "features") -> torch.Tensor:
    """``features`` as they are, if samples x dimensions and finite; else a ValueError that says what is wrong."""
    if features.dim() != 2:
        raise ValueError(f"{name} must be samples x dimensions, got shape {list(features.shape)}")
    bad = int((~torch.isfinite(features)).any(1).sum())
    if bad:
        raise ValueError(f"{name}: {bad} of {len(features)} rows hold NaN or inf (did the generator or the "
                         f"feature network diverge?); the metrics need finite features")
    return features


def _moments(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance, in float64."""
    x = check_features(features.detach()).to(torch.float64)
    n, d = x.shape
    if n <= d:
        raise ValueError(f"{n} samples for {d} feature dimensions: the covariance is singular. "
                         f"Use more than {d} samples (10,000 is usual).")
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / (n - 1)


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix, by its eigenvalues."""
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance_from_moments(mean1: torch.Tensor, cov1: torch.Tensor,
                                  mean2: torch.Tensor, cov2: torch.Tensor) -> float:
    """``|m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2))``, never negative.

    ``tr((C1 C2)^(1/2))`` is the sum of the square roots of the eigenvalues of the
    symmetric matrix ``C1^(1/2) C2 C1^(1/2)``, which has the same eigenvalues as
    ``C1 C2`` but gives real ones in floating point.
    """
    mean1, cov1, mean2, cov2 = (t.to(torch.float64) for t in (mean1, cov1, mean2, cov2))
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mean1 - mean2).square().sum() + cov1.trace() + cov2.trace() - 2 * trace_sqrt
    return max(float(distance), 0.0)


def frechet_distance(features1: torch.Tensor, features2: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (samples x dimensions)."""
    return frechet_distance_from_moments(*_moments(features1), *_moments(features2))


def _pairwise_chunks(a: torch.Tensor, b: torch.Tensor, chunk: int = 2048):
    """Rows of the distance matrix between ``a`` and ``b``, ``chunk`` rows at a time."""
    for start in range(0, len(a), chunk):
        yield start, torch.cdist(a[start:start + chunk], b)


def knn_radii(points: torch.Tensor, k: int = 5) -> torch.Tensor:
    """Each point's distance to its k-th nearest other point: the radius of its k-NN ball."""
    points = check_features(points.detach().float())
    if len(points) <= k:
        raise ValueError(f"need more than k={k} points for k-nearest-neighbour radii, got {len(points)}")
    radii = torch.empty(len(points), dtype=points.dtype, device=points.device)
    for start, distances in _pairwise_chunks(points, points):
        # the (k+1)-th smallest distance (+1 skips the point itself); topk is several times faster than kthvalue
        radii[start:start + len(distances)] = distances.topk(k + 1, dim=1, largest=False).values[:, -1]
    return radii


def precision_recall_density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5,
                                      real_radii: torch.Tensor | None = None) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).

    Each real point's k-NN ball (radius: distance to its k-th nearest real
    neighbour) approximates the real manifold; likewise for the fake points.

    - precision: share of fake points inside some real ball (fidelity);
    - recall: share of real points inside some fake ball (diversity);
    - density: real balls containing each fake point, averaged and divided by k
      (about 1 when fake and real are alike; can exceed 1);
    - coverage: share of real balls that contain at least one fake point.

    Distances are computed in chunks, so 10,000 x 10,000 fits in memory.
    ``real_radii`` (from ``knn_radii(real, k)``) saves recomputing them for every
    model compared against the same real set.
    """
    real, fake = check_features(real.detach().float(), "real features"), check_features(fake.detach().float())
    if fake.shape[1:] != real.shape[1:]:
        raise ValueError(f"real and fake features must be N x D with the same D, got "
                         f"{list(real.shape)} and {list(fake.shape)}")
    if real_radii is None:
        real_radii = knn_radii(real, k)
    elif real_radii.shape != real.shape[:1]:
        raise ValueError(f"real_radii has shape {list(real_radii.shape)}, expected [{len(real)}]")
    fake_radii = knn_radii(fake, k)
    fake_in_real = torch.zeros(len(fake), dtype=torch.bool, device=fake.device)
    balls_per_fake = torch.zeros(len(fake), dtype=torch.float64, device=fake.device)
    real_covered = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    real_in_fake = torch.zeros(len(real), dtype=torch.bool, device=real.device)
    for start, distances in _pairwise_chunks(real, fake):  # rows: real points, columns: fake points (one pass)
        rows = slice(start, start + len(distances))
        inside = distances <= real_radii[rows, None]  # fake point (column) in real point's (row's) ball
        fake_in_real |= inside.any(0)
        balls_per_fake += inside.sum(0)
        real_covered[rows] = inside.any(1)
        real_in_fake[rows] = (distances <= fake_radii[None, :]).any(1)  # real point in some fake point's ball
    return {"precision": float(fake_in_real.float().mean()), "recall": float(real_in_fake.float().mean()),
            "density": float(balls_per_fake.mean() / k), "coverage": float(real_covered.float().mean())}


def class_statistics(probabilities: torch.Tensor, data_distribution: torch.Tensor | None = None,
                     min_share: float = 0.01) -> dict[str, object]:
    """What a classifier says about generated images.

    ``probabilities`` are p(y|x) per sample (N x classes). Returns the histogram of
    predicted classes (shares), its KL divergence to the data set's class
    distribution (uniform if not given), the number of classes predicted for at
    least ``min_share`` of the samples, and the classifier-based Inception Score
    ``exp(mean_x KL(p(y|x) || p(y)))`` with ``p(y)`` the mean of ``p(y|x)``; it runs
    from 1 (every sample the same, or every sample ambiguous) to the number of classes.
    """
    p = probabilities.detach().to(torch.float64).cpu()
    if p.dim() != 2 or (p < 0).any() or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype), atol=1e-4):
        raise ValueError("probabilities must be N x classes, each row a distribution (softmax of the logits)")
    classes = p.shape[1]
    target = (torch.full((classes,), 1.0 / classes, dtype=torch.float64) if data_distribution is None
              else data_distribution.to(torch.float64).cpu())
    shares = torch.bincount(p.argmax(1).cpu(), minlength=classes).to(torch.float64) / len(p)
    kl_to_data = float((torch.special.xlogy(shares, shares) - torch.special.xlogy(shares, target)).sum())
    marginal = p.mean(0, keepdim=True)
    mean_kl = float((torch.special.xlogy(p, p) - torch.special.xlogy(p, marginal)).sum(1).mean())
    return {"class_shares": shares.tolist(), "class_kl_to_data": kl_to_data,
            "classes_covered": int((shares >= min_share).sum()), "inception_score": math.exp(mean_kl)}


def recognisable_share(probabilities: torch.Tensor, threshold: float = 0.9) -> float:
    """The share of images a classifier assigns to one class with probability at least ``threshold``: how many
    look clearly like something. Read it against the same share for real images (``recognisable_ratio``)."""
    p = probabilities.detach()
    if p.dim() != 2 or not 0.0 < threshold <= 1.0:
        raise ValueError(f"probabilities must be N x classes and 0 < threshold <= 1, got shape {list(p.shape)} "
                         f"and threshold {threshold}")
    return float((p.max(1).values >= threshold).double().mean())


def pixel_steps(images: torch.Tensor) -> float:
    """Sharpness: the mean absolute difference between neighbouring pixels (down and across), averaged over the
    two directions. Blur lowers it; compare only images on one value range (a ratio to real images reads best)."""
    if images.dim() != 4 or images.shape[-1] < 2 or images.shape[-2] < 2:
        raise ValueError(f"images must be N x C x H x W with H, W >= 2, got shape {list(images.shape)}")
    x = images.detach().double()
    down = (x[..., 1:, :] - x[..., :-1, :]).abs().mean()
    across = (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
    return float((down + across) / 2)
