"""kdlib.losses against hand-computed values, PyTorch's own losses, and autograd."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kdlib.losses import cross_entropy, distillation_loss, entropy, kl_divergence, soften



@pytest.fixture(autouse=True)
def float64():
    """Exact comparisons in double precision; the default dtype is restored afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def random_logits(n: int = 6, k: int = 5, scale: float = 3.0, seed: int = 0) -> torch.Tensor:
    return scale * torch.randn(n, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_soften_by_hand():
    # softmax([0, ln 2, ln 4]) = [1, 2, 4] / 7; at T = 2 the logits halve: [1, sqrt 2, 2] / (3 + sqrt 2).
    logits = torch.tensor([[0.0, math.log(2), math.log(4)]])
    torch.testing.assert_close(soften(logits), torch.tensor([[1 / 7, 2 / 7, 4 / 7]]))
    expected = torch.tensor([1.0, math.sqrt(2), 2.0]) / (3 + math.sqrt(2))
    torch.testing.assert_close(soften(logits, 2.0)[0], expected)


def test_cross_entropy_by_hand():
    # H([0.5, 0.5], [0.25, 0.75]) = -(0.5 ln 0.25 + 0.5 ln 0.75)
    p = torch.tensor([[0.5, 0.5]])
    q_logits = torch.log(torch.tensor([[0.25, 0.75]]))
    expected = -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))
    assert cross_entropy(p, q_logits).item() == pytest.approx(expected, rel=1e-12)
    # ... and the KL part, H(p, q) - H(p), with H(p) = ln 2.
    assert kl_divergence(p, q_logits).item() == pytest.approx(expected - math.log(2), rel=1e-12)
    assert entropy(p).item() == pytest.approx(math.log(2), rel=1e-12)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 20.0])
def test_cross_entropy_matches_torch_with_probability_targets(temperature):
    z, v = random_logits(seed=1), random_logits(seed=2)
    p = soften(v, temperature)
    torch.testing.assert_close(cross_entropy(p, z, temperature), F.cross_entropy(z / temperature, p))
    torch.testing.assert_close(cross_entropy(p, z, temperature, reduction="none"),
                               F.cross_entropy(z / temperature, p, reduction="none"))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 20.0])
def test_kl_matches_torch_batchmean_and_decomposition(temperature):
    z, v = random_logits(seed=3), random_logits(seed=4)
    p = soften(v, temperature)
    expected = F.kl_div(F.log_softmax(z / temperature, -1), p, reduction="batchmean")
    torch.testing.assert_close(kl_divergence(p, z, temperature), expected)
    # H(p, q) = H(p) + KL(p || q)
    torch.testing.assert_close(cross_entropy(p, z, temperature), entropy(p).mean() + kl_divergence(p, z, temperature))


def test_kl_is_zero_for_identical_and_handles_one_hot_targets():
    z = random_logits(seed=5)
    assert kl_divergence(soften(z, 3.0), z, 3.0).abs().item() < 1e-12
    one_hot = F.one_hot(torch.tensor([0, 2]), 3).double()
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    value = kl_divergence(one_hot, logits)
    assert torch.isfinite(value)
    torch.testing.assert_close(value, F.cross_entropy(logits, torch.tensor([0, 2])))


def test_stable_for_extreme_logits():
    z = torch.tensor([[1000.0, -1000.0, 0.0]])
    p = torch.tensor([[0.0, 1.0, 0.0]])
    assert cross_entropy(p, z).item() == pytest.approx(2000.0)
    assert torch.isfinite(kl_divergence(soften(z), z))


def test_distillation_loss_by_formula():
    z, v = random_logits(seed=6), random_logits(seed=7)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    T, alpha = 4.0, 0.7
    soft = F.kl_div(F.log_softmax(z / T, -1), F.softmax(v / T, -1), reduction="batchmean")
    expected = alpha * T**2 * soft + (1 - alpha) * F.cross_entropy(z, labels)
    torch.testing.assert_close(distillation_loss(z, v, labels, T, alpha), expected)
    torch.testing.assert_close(distillation_loss(z, v, labels, T, 0.0), F.cross_entropy(z, labels))


@pytest.mark.parametrize("temperature", [1.0, 2.5, 10.0, 20.0])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_gradient_formula_matches_autograd(temperature, alpha):
    """d/dz [alpha T^2 KL + (1-alpha) CE] = alpha T (q^T - p^T) / N + (1-alpha) (q - onehot) / N."""
    z, v = random_logits(seed=8).requires_grad_(), random_logits(seed=9)
    labels = torch.tensor([4, 3, 2, 1, 0, 1])
    distillation_loss(z, v, labels, temperature, alpha).backward()
    n = len(z)
    q_t, p_t = F.softmax(z.detach() / temperature, -1), F.softmax(v / temperature, -1)
    hard = F.softmax(z.detach(), -1) - F.one_hot(labels, 5)
    expected = (alpha * temperature**2 * (q_t - p_t) / temperature + (1 - alpha) * hard) / n
    torch.testing.assert_close(z.grad, expected)


def test_soft_cross_entropy_gradient_is_difference_over_t():
    """Hinton et al. eq. 2: dC/dz_i = (q_i - p_i) / T for one sample."""
    T = 5.0
    z, v = random_logits(n=1, seed=10).requires_grad_(), random_logits(n=1, seed=11)
    cross_entropy(soften(v, T), z, T).backward()
    torch.testing.assert_close(z.grad, (soften(z.detach(), T) - soften(v, T)) / T)


@pytest.mark.parametrize("call, message", [
    (lambda z, p, y: soften(z, 0.0), "T must be a finite number > 0"),
    (lambda z, p, y: cross_entropy(p, z, -1.0), "T must be a finite number > 0"),
    (lambda z, p, y: distillation_loss(z, z, y, float("inf"), 0.5), "T must be a finite number > 0, got inf"),
    (lambda z, p, y: kl_divergence(p, z, float("nan")), "T must be a finite number > 0, got nan"),
    (lambda z, p, y: distillation_loss(z, z, y, 4.0, 1.5), r"alpha .* \[0, 1\]"),
    (lambda z, p, y: distillation_loss(z, z, y, 4.0, -0.1), r"alpha .* \[0, 1\]"),
    (lambda z, p, y: distillation_loss(z, z[:, :3], y, 4.0, 0.5), "teacher logits have shape"),
    (lambda z, p, y: kl_divergence(p[:, :3], z), "target probabilities have shape"),
    (lambda z, p, y: cross_entropy(z, z), "not probability distributions"),
    (lambda z, p, y: kl_divergence(p * 2, z), "not probability distributions"),
    (lambda z, p, y: distillation_loss(z, z, y + 5, 4.0, 0.5), r"labels must be in \[0, 4\]"),
    (lambda z, p, y: distillation_loss(z, z, y.double(), 4.0, 0.5), "integer class ids"),
    (lambda z, p, y: cross_entropy(p[0], z[0]), "batch x classes"),
])
def test_bad_input_raises(call, message):
    z = random_logits(seed=12)
    with pytest.raises(ValueError, match=message):
        call(z, soften(z), torch.arange(6) % 5)
