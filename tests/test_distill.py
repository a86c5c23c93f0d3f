"""Distillation losses against hand computations, and students that actually approach their teacher."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

import kdlib.losses
from kdlib.batches import Batches
from kdlib.distill import (OBJECTIVES, Adaptors, AnnealToELBO, AnnealToGAN, GANScratch, LatentBatches, OutputAdversarial,
                           OutputDistillation, OutputFeatures, OutputFeaturesAdversarial, PruneFinetune, Student,
                           VAEDistillation, VAEScratch, decoder_loss, feature_loss, gaussian_kl, hidden_maps, output_loss,
                           train_student)
from kdlib.models import VAE, Generator
from kdlib.train import Training


def test_output_loss_by_hand():
    student = torch.tensor([[0.0, 0.5], [1.0, -1.0]])
    teacher = torch.tensor([[0.0, 1.0], [0.0, -1.0]])
    assert output_loss(student, teacher).item() == pytest.approx((0 + 0.25 + 1 + 0) / 4)
    with pytest.raises(ValueError, match="differ in shape"):
        output_loss(student, teacher[:1])


def test_feature_loss_by_hand_and_adaptor_shapes():
    adapted = [torch.ones(1, 2, 1, 1), torch.zeros(1, 1, 2, 2)]
    teacher = [torch.zeros(1, 2, 1, 1), torch.full((1, 1, 2, 2), 2.0)]
    assert feature_loss(adapted, teacher).item() == pytest.approx((1.0 + 4.0) / 2)
    with pytest.raises(ValueError, match="one adapted map per teacher map"):
        feature_loss(adapted[:1], teacher)
    student, big = Generator(8, 0.125), Generator(8, 1.0)
    adaptors = Adaptors(student, big)
    _, student_maps = hidden_maps(student, torch.randn(3, 8))
    _, teacher_maps = hidden_maps(big, torch.randn(3, 8))
    assert [m.shape for m in adaptors(student_maps)] == [m.shape for m in teacher_maps]
    assert [m.shape[1:] for m in teacher_maps] == [(128, 7, 7), (64, 14, 14)]
    assert sum(p.numel() for p in adaptors.parameters()) == (16 * 128 + 128) + (8 * 64 + 64)


def test_hidden_maps_reproduce_the_forward_pass():
    generator = Generator(8, 0.25).eval()
    z = torch.randn(4, 8)
    images, maps = hidden_maps(generator, z)
    torch.testing.assert_close(images, generator(z))
    assert len(maps) == 2 and (maps[0] >= 0).all()


def test_gaussian_kl_by_hand_and_against_torch_distributions():
    zero = torch.zeros(1, 1)
    assert gaussian_kl(zero, zero, zero, zero).item() == 0.0
    # N(1, 1) vs N(0, 1): 1/2; N(0, e) vs N(0, 1): (e - 1 - 1) / 2
    assert gaussian_kl(torch.ones(1, 1), zero, zero, zero).item() == pytest.approx(0.5)
    assert gaussian_kl(zero, torch.ones(1, 1), zero, zero).item() == pytest.approx((math.e - 2) / 2)
    generator = torch.Generator().manual_seed(0)
    m1, v1, m2, v2 = (torch.randn(5, 4, generator=generator) for _ in range(4))
    expected = kl_divergence(Normal(m1, (0.5 * v1).exp()), Normal(m2, (0.5 * v2).exp())).sum(1).mean()
    torch.testing.assert_close(gaussian_kl(m1, v1, m2, v2), expected)


def test_decoder_loss_by_hand():
    # teacher p = 1/2, student q = sigmoid(ln 3) = 3/4: KL per pixel = 1/2 ln(2/3) + 1/2 ln(2) = 1/2 ln(4/3)
    teacher, student = torch.zeros(2, 3), torch.full((2, 3), math.log(3))
    assert decoder_loss(student, teacher).item() == pytest.approx(3 * 0.5 * math.log(4 / 3))
    assert decoder_loss(teacher, teacher).item() == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="differ in shape"):
        decoder_loss(student, teacher[:, :2])


def test_latent_batches_repeat_per_epoch():
    batches = LatentBatches(4, 3, steps=5, seed=2)
    first, again = list(batches.epoch(1)), list(batches.epoch(1))
    assert len(batches) == 5 and len(first) == 5 and first[0][0].shape == (3, 4)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again))
    assert not torch.equal(first[0][0], next(batches.epoch(2))[0])
    with pytest.raises(ValueError):
        LatentBatches(4, 0, 5)


def real_batches(n: int = 64, batch: int = 16, value_range=(-1.0, 1.0)) -> Batches:
    images = torch.randint(0, 256, (n, 1, 28, 28), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    return Batches(images, torch.arange(n) % 10, batch, drop_last=True, value_range=value_range)


def test_every_objective_is_registered_with_its_defaults_and_trains_the_student():
    assert {family: list(names) for family, names in OBJECTIVES.items()} == {
        "gan": ["output", "output_adversarial", "output_features", "scratch", "prune_finetune",
                "output_features_adversarial", "anneal_to_gan"],
        "vae": ["distilled", "scratch", "anneal_to_elbo"]}
    assert [name for family in OBJECTIVES.values() for name, cls in family.items() if cls.baseline] == [
        "scratch", "prune_finetune", "scratch"]
    assert OutputAdversarial().weight == 0.01 and OutputFeatures().weight == 1.0
    assert OutputAdversarial(learning_rate=3e-3).learning_rate == 3e-3  # output's settings, inherited
    expected = {"output": ({"generator"}, LatentBatches), "output_adversarial": ({"generator", "discriminator"}, Batches),
                "output_features": ({"generator", "adaptors"}, LatentBatches), "scratch": ({"generator", "discriminator"}, Batches),
                "prune_finetune": ({"generator", "discriminator"}, Batches),
                "output_features_adversarial": ({"generator", "adaptors", "discriminator"}, Batches),
                "anneal_to_gan": ({"generator", "discriminator"}, Batches)}
    teacher = Generator(8, 0.5).eval()
    for name, cls in OBJECTIVES["gan"].items():
        student = Generator(8, 0.125)
        training = cls().training(student, teacher, real_batches(), epochs=2)
        modules, batches = expected[name]
        assert isinstance(training, Training) and set(training.modules) == modules
        assert training.modules["generator"] is student and isinstance(training.batches, batches)
        assert len(training.batches) == 4  # as many steps as the real images give, for every objective
    vae_teacher = VAE(4, 0.5).eval()
    for cls in OBJECTIVES["vae"].values():
        training = cls().training(VAE(4, 0.125), vae_teacher, real_batches(value_range=(0.0, 1.0)), epochs=1)
        assert set(training.modules) == {"vae"} and training.batches is not None


def test_an_annealed_scratch_baseline_takes_both_players_to_zero_like_the_distilled_students():
    teacher, real = Generator(8, 0.5).eval(), real_batches()
    steps = 2 * len(real)
    for objective in (GANScratch(learning_rate=1e-3, anneal=True), OutputDistillation(learning_rate=1e-3)):
        training = objective.training(Generator(8, 0.125), teacher, real, epochs=2)
        for _ in range(steps):
            for optimizer in training.optimizers.values():
                optimizer.step()  # no gradients: changes nothing, keeps the scheduler's order check quiet
            for scheduler in training.schedulers.values():
                scheduler.step()
        assert training.schedulers and all(o.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
                                           for key, o in training.optimizers.items() if key in training.schedulers)
    plain = GANScratch(learning_rate=1e-3, anneal=False).training(Generator(8, 0.125), teacher, real, epochs=2)
    assert not plain.schedulers and set(GANScratch().training(
        Generator(8, 0.125), teacher, real, epochs=2).schedulers) == {"generator", "discriminator"}


def test_the_scratch_critic_has_its_own_rate_and_a_tied_one_names_the_old_checkpoint():
    teacher, real = Generator(8, 0.5).eval(), real_batches()
    rates = lambda objective: {key: optimizer.param_groups[0]["lr"] for key, optimizer in  # noqa: E731
                               objective.training(Generator(8, 0.125), teacher, real, epochs=1).optimizers.items()}
    assert rates(GANScratch(learning_rate=1e-2, anneal=False)) == {"generator": 1e-2, "discriminator": 1e-2}
    assert rates(GANScratch(learning_rate=1e-2, anneal=False, discriminator_learning_rate=3e-3)) == {
        "generator": 1e-2, "discriminator": 3e-3}
    assert rates(PruneFinetune(learning_rate=3e-2, discriminator_learning_rate=1e-3)) == {
        "generator": 3e-2, "discriminator": 1e-3}
    # Tied (None), the settings are those a scratch student had before the field existed: its checkpoint keeps its name.
    assert Student(GANScratch(), 0.12, "subpixel").settings() == {
        "family": "gan", "objective": "scratch", "width": 0.12, "upsampling": "subpixel", "learning_rate": 1e-2,
        "discriminator_width": 1.0, "anneal": True}
    assert Student(GANScratch(discriminator_learning_rate=1e-3), 0.12).settings()["discriminator_learning_rate"] == 1e-3


def test_student_names_and_bad_students():
    assert Student(OutputAdversarial(), 0.125).name == "distilled: output + adversarial (GAN, width 1/8)"
    assert Student(VAEScratch(), 0.25).name == "scratch (VAE, width 1/4)" and Student(VAEScratch(), 0.25).family == "vae"
    assert Student(OutputFeatures(weight=2.0), 0.5).settings() == {
        "family": "gan", "objective": "output_features", "width": 0.5, "upsampling": "transposed",
        "learning_rate": 3e-3, "weight": 2.0}
    sub_pixel = Student(OutputDistillation(), 0.12, "subpixel")
    assert sub_pixel.name == "distilled: output (GAN, width 0.12)" and sub_pixel.settings()["upsampling"] == "subpixel"
    assert isinstance(sub_pixel.build(8).net[-2], nn.PixelShuffle)
    with pytest.raises(ValueError, match="is for GAN generators"):
        Student(VAEScratch(), 0.25, "subpixel")
    with pytest.raises(ValueError, match="objective must be one of"):
        Student("output", 0.5)
    with pytest.raises(ValueError, match=r"width must be in \(0, 1\)"):
        Student(OutputDistillation(), 1.0)


def fidelity(student, teacher, z) -> float:
    student.eval()
    with torch.no_grad():
        return (student(z) - teacher(z)).abs().mean().item()


@pytest.mark.parametrize("objective", [OutputDistillation(2e-3), OutputAdversarial(2e-3, discriminator_width=0.125),
                                       OutputFeatures(2e-3)], ids=lambda o: o.name)
def test_a_distilled_generator_gets_closer_to_its_teacher(objective):
    torch.manual_seed(0)
    teacher, student = Generator(8, 0.25).eval(), Generator(8, 0.125)
    with torch.no_grad():  # a teacher with some structure: random weights, then batch-norm statistics from use
        teacher.train()
        teacher(torch.randn(256, 8))
        teacher.eval()
    z = torch.randn(64, 8, generator=torch.Generator().manual_seed(1))
    before = fidelity(student, teacher, z)
    training = objective.training(student, teacher, real_batches(32 * 200, 32), epochs=1)
    student.train()
    for inputs, targets in training.batches.epoch(0):  # the learning rate kept constant
        logged = training.step(inputs, targets)
    assert "output" in logged and ("total" in logged) == (objective.name != "output")
    assert fidelity(student, teacher, z) < 0.5 * before


def test_the_output_step_is_the_squared_error_to_the_teacher_by_hand():
    torch.manual_seed(0)
    teacher, student = Generator(8, 0.5).eval(), Generator(8, 0.125)
    by_hand = Generator(8, 0.125)
    by_hand.load_state_dict(student.state_dict())
    training = OutputDistillation(1e-2).training(student, teacher, real_batches(), epochs=1)
    z = torch.randn(16, 8)
    optimizer = torch.optim.Adam(by_hand.parameters(), lr=1e-2)
    with torch.no_grad():
        target = teacher(z)
    loss = ((by_hand(z) - target) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert training.step(z, z)["output"].item() == pytest.approx(loss.item())
    assert all(torch.equal(a, b) for a, b in zip(student.parameters(), by_hand.parameters()))


def _adversarial_pair(first, second):
    """Two objectives' trainings on copies of one student, their discriminators drawn alike."""
    torch.manual_seed(0)
    teacher, student = Generator(8, 0.5).eval(), Generator(8, 0.125)
    twin = Generator(8, 0.125)
    twin.load_state_dict(student.state_dict())
    trainings = []
    for objective, model in ((first, student), (second, twin)):
        torch.manual_seed(1)
        trainings.append(objective.training(model, teacher, real_batches(), epochs=1))
        for module in trainings[-1].modules.values():
            module.train()  # as kdlib.train.fit sets them
    return teacher, student, twin, trainings


def test_gan_compressions_objective_is_output_adversarial_plus_the_feature_term():
    _, student, twin, (whole, adversarial) = _adversarial_pair(OutputFeaturesAdversarial(1e-2, features_weight=0.0),
                                                              OutputAdversarial(1e-2))
    images = torch.rand(16, 1, 28, 28) * 2 - 1
    torch.manual_seed(2)
    logged = whole.step(images, None)
    torch.manual_seed(2)
    reference = adversarial.step(images, None)
    assert set(logged) == {"total", "output", "features", "adversarial", "discriminator"}
    assert logged["features"].item() == 0.0 and logged["total"].item() == pytest.approx(reference["total"].item())
    # The feature term weighted 0 moves nothing: the same step as output + adversarial's, to rounding.
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(student.parameters(), twin.parameters()))
    _, _, _, (weighted, _) = _adversarial_pair(OutputFeaturesAdversarial(1e-2, features_weight=2.0),
                                               OutputAdversarial(1e-2))
    torch.manual_seed(2)
    assert weighted.step(images, None)["features"].item() > 0


def test_annealing_hands_the_student_from_the_teacher_to_the_data():
    objective = AnnealToGAN(1e-2, weight=0.01, handover=0.5)
    assert [objective.teacher_share(done, 100) for done in (0, 25, 50, 80)] == pytest.approx([1.0, 0.5, 0.0, 0.0])
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="handover is the share of the steps"):
            AnnealToGAN(handover=bad)
    # Its first step (share 1) is output + adversarial's, to rounding.
    teacher, student, twin, (annealed, adversarial) = _adversarial_pair(objective, OutputAdversarial(1e-2, weight=0.01))
    images = torch.rand(16, 1, 28, 28) * 2 - 1
    torch.manual_seed(2)
    first = annealed.step(images, None)
    torch.manual_seed(2)
    reference = adversarial.step(images, None)
    assert first["output"].item() == pytest.approx(reference["output"].item())
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(student.parameters(), twin.parameters()))
    # Past the handover the teacher is no longer asked, and the loss is the plain GAN loss.
    annealed.step(images, None)  # 4 steps an epoch: from the third on, past half of them
    calls = []
    teacher.register_forward_hook(lambda *_: calls.append(1))
    torch.manual_seed(3)
    late = annealed.step(images, None)
    assert not calls and late["output"].item() == 0.0
    assert late["total"].item() == pytest.approx(late["adversarial"].item())


def test_the_vae_remedy_hands_the_student_from_the_teacher_to_the_elbo():
    torch.manual_seed(0)
    teacher, student, twin = VAE(4, 0.5).eval(), VAE(4, 0.125), VAE(4, 0.125)
    twin.load_state_dict(student.state_dict())
    real = real_batches(value_range=(0.0, 1.0))
    remedy = AnnealToELBO(1e-2, kl_weight=0.5, handover=0.5).training(student, teacher, real, epochs=1)
    reference = VAEDistillation(1e-2).training(twin, teacher, real, epochs=1)
    images = next(iter(real.epoch(0)))[0]
    torch.manual_seed(1)
    first = remedy.step(images, None)  # share 1: the distilled student's step, the ELBO's terms weighted 0
    torch.manual_seed(1)
    expected = reference.step(images, None)
    assert first["decoder"].item() == pytest.approx(expected["decoder"].item())
    assert first["reconstruction"].item() == 0.0 and first["KL"].item() == 0.0
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(student.parameters(), twin.parameters()))
    for _ in range(2):  # 4 steps an epoch: from the third on, past the handover, the scratch loss alone
        remedy.step(images, None)
    calls = []
    teacher.register_forward_hook(lambda *_: calls.append(1))
    torch.manual_seed(2)
    with torch.no_grad():  # by hand, before the step, on the noise the step will draw
        logits, mean, log_variance = student(images)
        reconstruction, kl = kdlib.losses.vae_losses(logits, images, mean, log_variance)
    torch.manual_seed(2)
    late = remedy.step(images, None)
    assert late["decoder"].item() == 0.0 and late["encoder"].item() == 0.0 and not calls
    assert late["total"].item() == pytest.approx((reconstruction + 0.5 * kl).item(), rel=1e-6)
    with pytest.raises(ValueError, match="handover is the share of the steps"):
        AnnealToELBO(handover=0.0)


def test_a_distilled_vae_gets_closer_to_its_teacher():
    torch.manual_seed(0)
    teacher, student = VAE(4, 0.25).eval(), VAE(4, 0.125)
    images = torch.rand(32, 1, 28, 28)
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))

    def gaps():
        with torch.no_grad():
            decoded = (torch.sigmoid(student.decode(z)) - torch.sigmoid(teacher.decode(z))).abs().mean().item()
            return decoded, gaussian_kl(*teacher.encode(images), *student.encode(images)).item()

    before = gaps()
    step = VAEDistillation(2e-3).training(student, teacher, real_batches(value_range=(0.0, 1.0)), epochs=1).step
    for _ in range(200):
        logged = step(images, images)
    after = gaps()
    assert after[0] < 0.5 * before[0] and after[1] < 0.5 * before[1]
    assert logged["total"].item() == pytest.approx((logged["decoder"] + logged["encoder"]).item())


def tiny_data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    stream = torch.Generator().manual_seed(3)
    return torch.randint(0, 256, (n, 1, 28, 28), generator=stream, dtype=torch.uint8), torch.arange(n) % 10


@pytest.mark.parametrize("family", ["gan", "vae"])
def test_every_student_of_a_family_takes_the_same_steps_from_the_same_start(tmp_path, family):
    images, labels = tiny_data()
    teacher = (Generator(8, 0.5) if family == "gan" else VAE(4, 0.5)).eval()
    initial, steps = {}, {}
    for name, cls in ((name, cls) for name, cls in OBJECTIVES[family].items() if not cls.starts_cut):
        student = Student(cls(), 0.25)  # (prune_finetune starts cut from the teacher: test_pruning.py)
        torch.manual_seed(123)  # whatever ran before: the student's start depends on its family, width and seed only
        model, trained = train_student(student, teacher, images, labels, 1, 16, 0, tmp_path)
        steps[name] = len(next(iter(trained.history["steps"].values())))
        initial[name] = trained.history["snapshots"][0]
        assert trained.checkpoint.is_file() and trained.settings["objective"] == name
        assert not model.training
    assert set(steps.values()) == {64 // 16}
    first = next(iter(initial.values()))
    assert all(torch.equal(first, rendered) for rendered in initial.values())  # the same untrained student


def test_a_student_is_loaded_not_retrained_and_another_teacher_means_another_student(tmp_path):
    images, labels = tiny_data()
    teacher = Generator(8, 0.5).eval()
    student = Student(OutputDistillation(), 0.25)
    model, first = train_student(student, teacher, images, labels, 1, 16, 0, tmp_path, {"teacher": "a"})
    torch.randn(1000)
    again, loaded = train_student(student, teacher, images, labels, 1, 16, 0, tmp_path, {"teacher": "a"})
    assert loaded.checkpoint == first.checkpoint and loaded.history["epochs"] == first.history["epochs"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    _, other = train_student(student, teacher, images, labels, 1, 16, 0, tmp_path, {"teacher": "b"})
    assert other.checkpoint != first.checkpoint
    with pytest.raises(ValueError, match="64 images make no batch of 100"):
        train_student(student, teacher, images, labels, 1, 100, 0, tmp_path)


@pytest.mark.parametrize("share", [0.0, 0.25, 1.0])
def test_a_distilled_vae_decoder_learns_on_the_share_of_posterior_latents_asked_for(share):
    torch.manual_seed(0)
    teacher, student = VAE(4, 0.25).eval(), VAE(4, 0.125)
    with torch.no_grad():  # a near-deterministic encoder: its posterior samples are its means
        teacher.encoder[-1].bias[4:] = -40.0
    images = torch.rand(16, 1, 28, 28)
    seen = []
    decode = teacher.decode
    teacher.decode = lambda z: seen.append(z) or decode(z)
    VAEDistillation(1e-3, posterior_fraction=share).training(
        student, teacher, real_batches(value_range=(0.0, 1.0)), epochs=1).step(images, images)
    means = teacher.encode(images)[0].detach()
    prior = 16 - round(16 * share)
    assert torch.allclose(seen[0][prior:], means[prior:], atol=1e-6)
    assert not torch.isclose(seen[0][:prior], means[:prior], atol=1e-2).any()
    with pytest.raises(ValueError, match="posterior_fraction"):
        VAEDistillation(posterior_fraction=1.5)


def test_the_scratch_vae_weights_its_kl_term_by_beta():
    torch.manual_seed(0)
    vae, images = VAE(4, 0.125), torch.rand(8, 1, 28, 28)
    step = VAEScratch(1e-3, kl_weight=0.25).training(vae, None, real_batches(value_range=(0.0, 1.0)), 1).step
    logged = step(images, images)
    assert set(logged) == {"loss", "reconstruction", "KL"}  # not the negative ELBO once beta != 1
    assert logged["loss"].item() == pytest.approx((logged["reconstruction"] + 0.25 * logged["KL"]).item(), rel=1e-6)
    with pytest.raises(ValueError, match="kl_weight must be > 0"):
        VAEScratch(1e-3, kl_weight=0.0).training(vae, None, real_batches(value_range=(0.0, 1.0)), 1)


def test_defining_an_objective_elsewhere_leaves_the_courses_objectives_alone():
    before = {family: dict(names) for family, names in OBJECTIVES.items()}

    @dataclasses.dataclass(frozen=True)
    class OutputL1(OutputDistillation):  # as notebook 04's exercise defines one
        name = "output (L1)"
    assert OBJECTIVES == before and OutputL1.name not in OBJECTIVES["gan"]


@pytest.mark.parametrize("objective", [VAEDistillation(2e-2), OutputDistillation(1e-3)])
def test_a_diverged_student_names_its_seed_its_rate_setting_and_the_command_that_lowers_it(tmp_path, objective):
    import ast
    import re

    from kdlib.course.config import check
    from kdlib.train import DivergedError

    images, labels = tiny_data()
    teacher = (Generator(8, 0.5) if objective.family == "gan" else VAE(4, 0.5)).eval()
    with torch.no_grad():  # a teacher whose every output is NaN: the first loss is
        for parameter in teacher.parameters():
            parameter.fill_(float("nan"))
    student = Student(objective, 0.25)
    with pytest.raises(DivergedError) as error:
        train_student(student, teacher, images, labels, 1, 16, 3, tmp_path)
    message = str(error.value)
    setting = f"{objective.family}_{objective.name}_learning_rate"
    assert f"the {student.name} student, seed 3, learning rate {objective.learning_rate:g}, diverged: loss became nan " \
           f"at epoch 0, step 0" in message
    command = re.search(rf"python -m kdlib run -p {setting} '(\[[^']+\])'", message)
    assert command, message
    lowered = check(setting, ast.literal_eval(command.group(1)))  # the course takes the value the message gives
    assert lowered == [{2e-2: 1e-2, 1e-3: 3e-4}[objective.learning_rate]]


def test_every_objective_has_a_title_in_words_unique_in_its_family():
    for family, objectives in OBJECTIVES.items():
        titles = [objective.title for objective in objectives.values()]
        assert len(set(titles)) == len(titles), titles
        assert all("_" not in title and title == title.strip() for title in titles), titles


def test_a_finite_blow_up_gets_the_same_advice_as_a_nan():
    from kdlib.distill import divergence_advice
    from kdlib.train import DivergedError, check_blowup

    with pytest.raises(DivergedError) as error:  # the 20-epoch scratch VAE that once blew up in its last epoch
        check_blowup([{"loss": 222.2, "KL": 38.6}, {"loss": 8.07e9, "KL": 6.46e10}], 19)
    advice = divergence_advice(Student(VAEScratch(1e-2), 0.25), 1, error.value)
    assert "seed 1, learning rate 0.01, diverged: loss 'loss' rose to 8.07e+09 at epoch 19, more than 1,000 times " \
           "its lowest earlier epoch mean (222). " in advice
    assert "python -m kdlib run -p vae_scratch_learning_rate '[0.003]'" in advice
