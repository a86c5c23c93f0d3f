"""Latent flow matching and its distillation (kdlib.diffusion) against hand computations and exactly linear
teachers, whose samplers are matrices that a student must recover."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kdlib.diffusion import (CodeBatches, ConsistencyDistillation, FlowMatching, Halving, LatentGenerator,
                             OneStepRegression, Standardiser, Velocity, consistency_sample, consistency_target,
                             denoised, euler_sample, flow_matching_loss, halving_target, interpolate,
                             posterior_codes, progressive_distillation, sample, train_latent)
from kdlib.models import VAE

DIM = 3


class Linear(nn.Module):
    """v(x, t) = x A^T, the same at every time: Euler's map over any step sizes is a product of (I - h A)."""

    def __init__(self, matrix: torch.Tensor) -> None:
        super().__init__()
        self.dim = matrix.shape[0]
        self.matrix = nn.Parameter(matrix.clone())

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert t.shape == (len(x),)
        return x @ self.matrix.T


def matrix(seed: int = 0) -> torch.Tensor:
    return 0.5 * torch.eye(DIM) + 0.2 * torch.randn(DIM, DIM, generator=torch.Generator().manual_seed(seed))


def test_interpolation_and_the_boundary_condition():
    data, noise = torch.randn(4, DIM), torch.randn(4, DIM)
    assert torch.equal(interpolate(data, noise, 0.0), data) and torch.equal(interpolate(data, noise, 1.0), noise)
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    assert torch.allclose(interpolate(data, noise, t), (1 - t[:, None]) * data + t[:, None] * noise)
    net = Velocity(DIM, hidden=8, blocks=1)
    x = torch.randn(5, DIM)
    assert torch.equal(denoised(net, x, 0.0), x)  # f(x, 0) = x for any network: the consistency boundary
    assert torch.allclose(denoised(net, x, 0.7), x - 0.7 * net(x, torch.full((5,), 0.7)))


def test_euler_sampling_of_a_linear_flow_is_a_matrix_power():
    a = matrix()
    noise = torch.randn(6, DIM)
    for steps in (1, 2, 8):
        expected = noise @ torch.linalg.matrix_power(torch.eye(DIM) - a / steps, steps).T
        assert torch.allclose(euler_sample(Linear(a), noise, steps), expected, atol=1e-6)
    # one step of either sampler is the data estimate at t = 1
    assert torch.allclose(consistency_sample(Linear(a), noise, 1), euler_sample(Linear(a), noise, 1))


def test_flow_matching_loss_by_hand():
    data, noise, t = torch.tensor([[1.0, 0.0, 2.0]]), torch.tensor([[0.0, 1.0, 1.0]]), torch.tensor([0.5])
    zero = Linear(torch.zeros(DIM, DIM))  # predicts v = 0: the loss is |noise - data|^2 = 1 + 1 + 1
    assert flow_matching_loss(zero, data, noise, t).item() == pytest.approx(3.0)
    # the straight path's own velocity has zero loss: v(x_t) = noise - data
    class Exact(nn.Module):
        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return noise - data
    assert flow_matching_loss(Exact(), data, noise, t).item() == 0.0


def test_halving_target_is_two_explicit_teacher_steps():
    teacher = Velocity(DIM, hidden=16, blocks=2)
    x, t, size = torch.randn(7, DIM), torch.full((7,), 0.75), 0.125
    with torch.no_grad():
        middle = x - size * teacher(x, t)
        end = middle - size * teacher(middle, t - size)
        target = halving_target(teacher, x, t, size)
    assert torch.allclose(x - 2 * size * target, end, atol=1e-6)  # one student step of 2h lands there


def test_consistency_target_by_hand():
    a, b = matrix(1), matrix(2)
    x, t, size = torch.randn(5, DIM), torch.full((5,), 0.5), 0.25
    step = x - size * x @ a.T  # the teacher's Euler step to t - size = 0.25
    expected = step - 0.25 * step @ b.T  # the target model's data estimate there
    assert torch.allclose(consistency_target(Linear(a), Linear(b), x, t, size), expected, atol=1e-6)
    # at the last interval the target is the teacher's point itself: f(x, 0) = x
    last = consistency_target(Linear(a), Linear(b), x, torch.full((5,), 0.25), 0.25)
    assert torch.allclose(last, x - 0.25 * x @ a.T, atol=1e-6)


def test_multistep_consistency_sampling_by_hand():
    a = matrix(3)
    noise = torch.randn(4, DIM)
    got = consistency_sample(Linear(a), noise, 2, torch.Generator().manual_seed(5))
    fresh = torch.randn(noise.shape, generator=torch.Generator().manual_seed(5))
    first = noise - noise @ a.T
    renoised = 0.5 * first + 0.5 * fresh
    assert torch.allclose(got, renoised - 0.5 * renoised @ a.T, atol=1e-6)


def test_one_step_regression_recovers_a_linear_teacher(tmp_path):
    a = matrix(4)
    teacher = Linear(a)
    codes = torch.randn(256, DIM)
    student, trained = train_latent(OneStepRegression(learning_rate=3e-2, teacher_steps=8, pairs=512), codes,
                                    steps=400, batch_size=128, seed=0, checkpoints=tmp_path, teacher=teacher)
    eight_steps = torch.linalg.matrix_power(torch.eye(DIM) - a / 8, 8)
    assert torch.allclose(torch.eye(DIM) - student.matrix.detach(), eight_steps, atol=2e-3)
    assert torch.equal(teacher.matrix.detach(), a)  # the teacher is not trained
    assert trained.history["steps"]["regression"][-1] < 1e-5


def test_a_halving_round_recovers_two_teacher_steps_in_one(tmp_path):
    a = matrix(5)
    rounds = progressive_distillation(Linear(a), torch.randn(256, DIM), steps_per_round=400, batch_size=128,
                                      seed=0, checkpoints=tmp_path, teacher_steps=2, learning_rate=3e-2)
    assert list(rounds) == [1]
    one_step = torch.eye(DIM) - rounds[1][0].matrix.detach()
    assert torch.allclose(one_step, torch.linalg.matrix_power(torch.eye(DIM) - a / 2, 2), atol=2e-3)


def test_progressive_rounds_each_start_from_the_last(tmp_path):
    teacher = Velocity(DIM, hidden=8, blocks=1)
    rounds = progressive_distillation(teacher, torch.randn(64, DIM), steps_per_round=4, batch_size=16, seed=0,
                                      checkpoints=tmp_path, teacher_steps=8)
    assert list(rounds) == [4, 2, 1]
    assert all(trained.settings["teacher_steps"] == 2 * steps for steps, (_, trained) in rounds.items())
    with pytest.raises(ValueError, match="power of two"):
        progressive_distillation(teacher, torch.randn(64, DIM), 4, 16, 0, tmp_path, teacher_steps=6)
    with pytest.raises(ValueError, match="even number"):
        Halving(teacher_steps=3)


def test_consistency_distillation_trains_and_keeps_its_target_model(tmp_path):
    teacher = Velocity(DIM, hidden=16, blocks=1)
    codes = torch.randn(256, DIM)
    student, trained = train_latent(ConsistencyDistillation(intervals=4, ema_decay=0.5), codes, 8, 32, 0,
                                    tmp_path, teacher=teacher)
    state = torch.load(trained.checkpoint, weights_only=True)
    assert set(state["modules"]) == {"velocity", "target"}
    # the target model is an average of the student's past weights: between the teacher's and the student's
    kept = state["modules"]["target"]["inputs.weight"]
    assert not torch.equal(kept, student.inputs.weight.detach()) and not torch.equal(kept, teacher.inputs.weight)
    with pytest.raises(ValueError, match="ema_decay"):
        ConsistencyDistillation(ema_decay=1.0)


def test_training_repeats_and_resumes_exactly(tmp_path):
    codes = torch.randn(200, DIM)
    first, _ = train_latent(FlowMatching(), codes, 8, 32, 3, tmp_path / "a", architecture={"hidden": 8})
    again, _ = train_latent(FlowMatching(), codes, 8, 32, 3, tmp_path / "b", architecture={"hidden": 8})
    loaded, _ = train_latent(FlowMatching(), codes, 8, 32, 3, tmp_path / "a", architecture={"hidden": 8})
    for a, b, c in zip(first.parameters(), again.parameters(), loaded.parameters()):
        assert torch.equal(a, b) and torch.equal(a, c)
    other, _ = train_latent(FlowMatching(), codes, 8, 32, 4, tmp_path / "a", architecture={"hidden": 8})
    assert not torch.equal(other.inputs.weight, first.inputs.weight)


def test_bad_input_is_refused(tmp_path):
    net = Velocity(DIM, hidden=8, blocks=1)
    with pytest.raises(ValueError, match="steps=0"):
        euler_sample(net, torch.randn(2, DIM), 0)
    with pytest.raises(ValueError, match="sampler='heun'"):
        sample(net, torch.randn(2, DIM), 2, "heun")
    with pytest.raises(ValueError, match="distils a teacher"):
        train_latent(OneStepRegression(pairs=8), torch.randn(64, DIM), 4, 16, 0, tmp_path)
    with pytest.raises(ValueError, match="steps=2 must be at least chunks=4"):
        train_latent(FlowMatching(), torch.randn(64, DIM), 2, 16, 0, tmp_path)
    with pytest.raises(ValueError, match="non-empty n x dim"):
        CodeBatches(torch.randn(4), 2, 2)
    with pytest.raises(ValueError, match="constant dimension"):
        Standardiser.of(torch.ones(10, DIM))
    with pytest.raises(ValueError, match="16 dimensions"):
        LatentGenerator(Velocity(16), VAE(8), Standardiser.of(torch.randn(10, 8)), 4)


def test_the_latent_generator_decodes_standardised_samples():
    vae = VAE(8, 0.25).eval()
    codes = torch.randn(50, 8) * 3 + 1
    standardiser = Standardiser.of(codes)
    assert torch.allclose(standardiser.inverse(standardiser.forward(codes)), codes, atol=1e-5)
    velocity = Velocity(8, hidden=8, blocks=1)
    generator = LatentGenerator(velocity, vae, standardiser, 4)
    noise = torch.randn(6, 8)
    with torch.no_grad():
        images = generator(noise)
        expected = torch.sigmoid(vae.decode(standardiser.inverse(euler_sample(velocity, noise, 4)))) * 2 - 1
    assert images.shape == (6, 1, 28, 28) and torch.allclose(images, expected)
    pictures = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(posterior_codes(vae, pictures, batch=2), vae.encode(pictures)[0], atol=1e-6)
