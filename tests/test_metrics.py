"""Quality and cost metrics against closed forms, hand-solved cases and torchmetrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from kdlib.cost import macs_per_image, speed
from kdlib.features import FEATURES, FeatureNet
from kdlib.metrics import (class_statistics, frechet_distance, frechet_distance_from_moments, knn_radii, pixel_steps,
                           precision_recall_density_coverage)

D = torch.float64


def random_rotation(d: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=D))
    return q


def test_frechet_distance_closed_form_for_commuting_covariances():
    """Same eigenvectors: FD = |m1 - m2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2."""
    q = random_rotation(6, 0)
    a, b = torch.tensor([1.0, 2, 3, 4, 5, 6], dtype=D), torch.tensor([6.0, 1, 0.5, 4, 2, 9], dtype=D)
    m1, m2 = torch.zeros(6, dtype=D), torch.arange(6, dtype=D)
    expected = float((m1 - m2).square().sum() + (a.sqrt() - b.sqrt()).square().sum())
    got = frechet_distance_from_moments(m1, q @ torch.diag(a) @ q.T, m2, q @ torch.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_closed_form_2x2_non_commuting():
    """For 2 x 2: tr sqrt(C1 C2) = sqrt(tr(C1 C2) + 2 sqrt(det(C1 C2)))."""
    c1 = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=D)
    c2 = torch.tensor([[1.0, -0.7], [-0.7, 3.0]], dtype=D)
    product = c1 @ c2
    trace_sqrt = math.sqrt(float(product.trace()) + 2 * math.sqrt(float(torch.linalg.det(product))))
    m1, m2 = torch.tensor([1.0, 2.0], dtype=D), torch.tensor([0.0, -1.0], dtype=D)
    expected = 1 + 9 + float(c1.trace() + c2.trace()) - 2 * trace_sqrt
    assert frechet_distance_from_moments(m1, c1, m2, c2) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_samples_uses_unbiased_moments_and_is_zero_for_identical_sets():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(500, 8, generator=generator, dtype=D)
    y = 2 * torch.randn(400, 8, generator=generator, dtype=D) + 1
    expected = frechet_distance_from_moments(x.mean(0), torch.cov(x.T), y.mean(0), torch.cov(y.T))
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance(x, x) < 1e-9
    assert frechet_distance(x.float(), x.float()) >= 0.0  # clamped, never negative


def test_frechet_distance_refuses_too_few_samples():
    with pytest.raises(ValueError, match="10 samples for 16 feature dimensions"):
        frechet_distance(torch.randn(10, 16), torch.randn(100, 16))


class Embedding(nn.Module):
    """The feature network's penultimate layer, as torchmetrics expects a custom extractor."""

    num_features = FEATURES

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = FeatureNet().eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.body(images)


def test_frechet_distance_agrees_with_torchmetrics():
    fid_module = pytest.importorskip("torchmetrics.image.fid")
    embedding = Embedding()
    generator = torch.Generator().manual_seed(2)
    real = torch.rand(600, 1, 28, 28, generator=generator) * 2 - 1
    fake = (torch.rand(600, 1, 28, 28, generator=generator) * 2 - 1) * 0.5 + 0.2
    metric = fid_module.FrechetInceptionDistance(feature=embedding, input_img_size=(1, 28, 28))
    metric.update(real, real=True)
    metric.update(fake, real=False)
    with torch.no_grad():
        ours = frechet_distance(embedding(real), embedding(fake))
    assert ours == pytest.approx(float(metric.compute()), rel=1e-6)


def test_prdc_hand_solved_one_dimensional_case():
    """real 0..5 (k=1: every radius 1), fake {0.5, 10} (k=1: both radii 9.5)."""
    real = torch.arange(6.0)[:, None]
    fake = torch.tensor([[0.5], [10.0]])
    result = precision_recall_density_coverage(real, fake, k=1)
    assert result["precision"] == pytest.approx(0.5)  # 0.5 lies in the balls of 0 and 1; 10 in none
    assert result["recall"] == pytest.approx(1.0)  # every real point is within 9.5 of 0.5
    assert result["density"] == pytest.approx(1.0)  # (2 balls + 0 balls) / (k * 2 fakes)
    assert result["coverage"] == pytest.approx(2 / 6)  # the balls of 0 and 1 contain a fake


def test_prdc_identical_disjoint_and_subset():
    generator = torch.Generator().manual_seed(3)
    real = torch.randn(300, 5, generator=generator)
    k = 5
    same = precision_recall_density_coverage(real, real.clone(), k)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] == pytest.approx((k + 1) / k)  # each ball holds its centre and k neighbours
    far = precision_recall_density_coverage(real, real + 100.0, k)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    subset = precision_recall_density_coverage(real, real[:150], k)
    assert subset["precision"] == 1.0  # every fake point is a real point
    assert subset["coverage"] >= 0.5 and subset["recall"] >= 0.5


def test_prdc_and_radii_against_a_brute_force_reference():
    """Every quantity from the whole distance matrices in NumPy (sorted rows, no chunks, no topk)."""
    generator = torch.Generator().manual_seed(5)
    real, fake = torch.randn(400, 6, generator=generator), 1.2 * torch.randn(300, 6, generator=generator) + 0.2
    r, f = real.double().numpy(), fake.double().numpy()
    rr, ff, rf = (np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)) for a, b in ((r, r), (f, f), (r, f)))
    for k in (1, 3, 5):
        real_radii, fake_radii = np.sort(rr, 1)[:, k], np.sort(ff, 1)[:, k]  # column 0 is the point itself
        inside = rf <= real_radii[:, None]  # [real, fake]: the fake point lies in the real point's ball
        expected = {"precision": inside.any(0).mean(), "recall": (rf <= fake_radii[None, :]).any(1).mean(),
                    "density": inside.sum(0).mean() / k, "coverage": inside.any(1).mean()}
        np.testing.assert_allclose(knn_radii(real, k).numpy(), real_radii, rtol=1e-5)
        result = precision_recall_density_coverage(real, fake, k)
        assert result == pytest.approx(expected, abs=1 / 300), k  # at most one point may flip on float32 rounding


def test_prdc_chunks_give_the_same_answer(monkeypatch):
    import kdlib.metrics as metrics

    generator = torch.Generator().manual_seed(4)
    real, fake = torch.randn(257, 4, generator=generator), torch.randn(123, 4, generator=generator) + 0.3
    whole = precision_recall_density_coverage(real, fake)
    original = metrics._pairwise_chunks
    monkeypatch.setattr(metrics, "_pairwise_chunks", lambda a, b, chunk=2048: original(a, b, chunk=17))
    assert precision_recall_density_coverage(real, fake) == whole


def test_class_statistics():
    one_class = torch.zeros(100, 10)
    one_class[:, 3] = 1
    stats = class_statistics(one_class)
    assert stats["inception_score"] == pytest.approx(1.0)
    assert stats["classes_covered"] == 1
    assert stats["class_kl_to_data"] == pytest.approx(math.log(10))
    balanced = torch.eye(10).repeat(10, 1)
    stats = class_statistics(balanced)
    assert stats["inception_score"] == pytest.approx(10.0)
    assert stats["class_kl_to_data"] == pytest.approx(0.0, abs=1e-12)
    assert stats["classes_covered"] == 10 and stats["class_shares"] == [0.1] * 10
    with pytest.raises(ValueError, match="distribution"):
        class_statistics(torch.ones(5, 10))


@pytest.mark.parametrize("layer, shape, expected", [
    (nn.Conv2d(3, 8, 3, padding=1), (1, 3, 16, 16), 8 * 3 * 9 * 16 * 16),
    (nn.Conv2d(1, 4, 5, stride=2), (1, 1, 28, 28), 4 * 1 * 25 * 12 * 12),
    (nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1), (1, 8, 7, 7), 7 * 7 * 8 * 4 * 16),
    (nn.Linear(784, 10), (1, 784), 7840),
])
def test_macs_against_hand_counts(layer, shape, expected):
    assert macs_per_image(layer, torch.zeros(shape)) == expected


def test_macs_refuses_a_batch_and_speed_reports_positive_numbers():
    with pytest.raises(ValueError, match="batch of 1"):
        macs_per_image(nn.Linear(4, 2), torch.zeros(2, 4))
    layer = nn.Linear(16, 16)
    result = speed(lambda n: layer(torch.zeros(n, 16)), batch=32, rounds=2, warmup=1)
    assert result["images_per_second"] > 0 and result["latency_ms"] > 0 and result["threads"] >= 1


def test_interleaved_speed_takes_turns_and_reports_medians_and_ranges(monkeypatch):
    """On a fake clock: model "slow" takes 2 ms per image, "fast" 1 ms, and in the third timed round the machine is
    twice as slow for whoever runs; every round both run, in rotated order, and the medians ignore the slow round."""
    from kdlib import cost

    clock, calls = [0.0], []
    monkeypatch.setattr(cost.time, "perf_counter", lambda: clock[0])

    def model(name: str, per_image: float):
        def run(n: int) -> None:
            calls.append((name, n))
            round_index = sum(1 for c in calls if c == (name, 8)) - 1  # this model's round (a batch call starts one)
            clock[0] += per_image * n * (2.0 if round_index == 1 + 2 else 1.0)  # warm-up 1, then the 3rd timed round
        return run

    result = cost.interleaved_speed({"slow": model("slow", 0.002), "fast": model("fast", 0.001)}, batch=8, rounds=5,
                                    warmup=1, latency_calls=3, warm_calls=0)
    batch_calls = [name for name, n in calls if n == 8]
    assert batch_calls == ["slow", "fast", "fast", "slow", "slow", "fast", "fast", "slow", "slow", "fast", "fast", "slow"]
    assert result["slow"]["images_per_second"] == pytest.approx(8 / 0.016)
    assert result["slow"]["images_per_second_range"] == pytest.approx((8 / 0.032, 8 / 0.016))
    assert result["slow"]["images_per_second_rounds"] == pytest.approx((500, 500, 250, 500, 500))  # in round order
    assert result["fast"]["latency_ms"] == pytest.approx(1.0) and result["fast"]["latency_ms_range"] == pytest.approx((1.0, 2.0))
    assert result["fast"]["rounds"] == 5 and result["fast"]["batch"] == 8
    with pytest.raises(ValueError, match="at least one model and one round"):
        cost.interleaved_speed({}, rounds=5)


def test_interleaved_speed_times_each_model_after_an_untimed_call_of_its_own(monkeypatch):
    """On a fake clock: a batch call takes 10 ms when the previous call was another model's (cold caches) and 1 ms
    when it was the same model's; with one warm call every timed call is warm, with none every one is cold."""
    from kdlib import cost

    clock, calls = [0.0], []
    monkeypatch.setattr(cost.time, "perf_counter", lambda: clock[0])

    def model(name: str):
        def run(n: int) -> None:
            cold = not calls or calls[-1] != name
            calls.append(name)
            clock[0] += (0.010 if cold else 0.001) * (n == 8)  # the batch-1 latency calls take no time here
        return run

    runs = {"teacher": model("teacher"), "student": model("student"), "other student": model("other student")}
    warm = cost.interleaved_speed(runs, batch=8, rounds=3, warmup=1, latency_calls=1, warm_calls=1)
    assert warm["student"]["images_per_second"] == pytest.approx(8 / 0.001) and warm["student"]["warm_calls"] == 1
    assert warm["teacher"]["images_per_second_range"] == pytest.approx((8 / 0.001, 8 / 0.001))
    assert calls[:6] == ["teacher"] * 3 + ["student"] * 3  # warm, timed, latency; then the next model
    cold = cost.interleaved_speed(runs, batch=8, rounds=3, warmup=1, latency_calls=1, warm_calls=0)  # rotated: no
    assert cold["student"]["images_per_second"] == pytest.approx(8 / 0.010)                          # model twice
    with pytest.raises(ValueError, match="warm_calls"):
        cost.interleaved_speed(runs, warm_calls=-1)


def test_evaluate_generator_end_to_end_scores_the_real_images_as_perfect():
    from kdlib.batches import scale
    from kdlib.evaluate import evaluate_generator, reference

    torch.manual_seed(0)
    net = FeatureNet().eval()
    images = torch.randint(0, 256, (300, 1, 28, 28), dtype=torch.uint8)
    labels = torch.arange(300) % 10
    real = reference(net, images, labels)
    replay = {"next": 0}

    def generate(n: int) -> torch.Tensor:  # hands out the real images in order, then noise for timing
        start = replay["next"]
        replay["next"] += n
        return scale(images[start:start + n]) if start + n <= 300 else torch.rand(n, 1, 28, 28) * 2 - 1

    model = nn.Linear(8, 784)
    result = evaluate_generator(generate, model, torch.zeros(1, 8), net, real, samples=300, batch=100)
    assert result.frechet_distance < 1e-6
    assert result.precision == result.recall == result.coverage == 1.0
    assert result.parameters == 8 * 784 + 784 and result.macs_per_image == 8 * 784
    assert result.samples == 300 and result.images_per_second > 0


@pytest.mark.parametrize("generate, message", [
    (lambda n: torch.randint(0, 256, (n, 1, 28, 28)).float(), r"range from 0 to 255, not \[-1, 1\]"),
    (lambda n: torch.zeros(max(1, n - 10), 1, 28, 28), r"expected generated images of shape \[100, 1, 28, 28\], got \[90"),
    (lambda n: torch.zeros(n, 28, 28), r"got \[100, 28, 28\]"),
    (lambda n: torch.full((n, 1, 28, 28), float("nan")), "NaN or inf"),
])
def test_evaluate_generator_refuses_images_of_the_wrong_range_count_or_shape(generate, message):
    from kdlib.evaluate import evaluate_generator, reference

    net = FeatureNet().eval()
    images = torch.randint(0, 256, (50, 1, 28, 28), dtype=torch.uint8)
    real = reference(net, images, torch.arange(50) % 10)
    with pytest.raises(ValueError, match=message):
        evaluate_generator(generate, nn.Linear(8, 784), torch.zeros(1, 8), net, real, samples=300, batch=100)


def test_metrics_refuse_non_finite_features():

    good = torch.randn(300, 4, generator=torch.Generator().manual_seed(2))
    bad = good.clone()
    bad[7, 1], bad[9, 0] = float("nan"), float("inf")
    for compute in (lambda: frechet_distance(good, bad), lambda: precision_recall_density_coverage(good, bad),
                    lambda: precision_recall_density_coverage(bad, good), lambda: knn_radii(bad)):
        with pytest.raises(ValueError, match="2 of 300 rows hold NaN or inf"):
            compute()


def test_feature_network_trains_once_then_loads(tmp_path, monkeypatch):
    import kdlib.features as features
    from kdlib.data import Split

    generator = torch.Generator().manual_seed(5)
    labels = torch.arange(200) % 10
    # each class a different brightness, so that the network has something to learn
    images = (labels[:, None, None, None] * 25 + torch.randint(0, 20, (200, 1, 28, 28), generator=generator)).to(torch.uint8)
    split = Split(images, labels, tuple("0123456789"), tmp_path)
    monkeypatch.setattr(features, "load", lambda name, which: split)
    net, accuracy, checkpoint = features.feature_network("synthetic", tmp_path / "checkpoints", epochs=3, batch_size=50)
    assert 0.5 < accuracy <= 1.0
    assert list((tmp_path / "checkpoints").glob("feature_net_synthetic_*.pt")) == [checkpoint]
    monkeypatch.setattr(features.Batches, "epoch", lambda *a: pytest.fail("retrained instead of loading"))
    again, same_accuracy, _ = features.feature_network("synthetic", tmp_path / "checkpoints", epochs=3, batch_size=50)
    assert same_accuracy == accuracy
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))


def test_precomputed_real_radii_give_the_same_answer():

    generator = torch.Generator().manual_seed(6)
    real, fake = torch.randn(200, 4, generator=generator), torch.randn(150, 4, generator=generator)
    assert precision_recall_density_coverage(real, fake, 3, knn_radii(real, 3)) == \
        precision_recall_density_coverage(real, fake, 3)
    with pytest.raises(ValueError, match="real_radii"):
        precision_recall_density_coverage(real, fake, 3, knn_radii(real[:10], 3))


def test_sampler_gives_every_model_the_same_latents_whatever_ran_before():
    from kdlib.evaluate import sampler

    identity = nn.Identity()
    first = sampler(identity, 6, seed=3)(5)
    torch.randn(100)  # other code drawing from the global stream does not matter
    again = sampler(identity, 6, seed=3)(5)
    assert torch.equal(first, again) and first.shape == (5, 6)
    assert not torch.equal(first, sampler(identity, 6, seed=4)(5))


def test_summary_row_reads_the_evaluator_output():
    from kdlib.evaluate import Measurement, Quality, summary_row

    quality = Quality(frechet_distance=3.0, precision=0.5, recall=0.25, density=1.0, coverage=0.75,
                      class_shares=(0.05, 0.2, 0.75), class_kl_to_data=0.1, classes_covered=3, inception_score=7.0)
    row = summary_row("model", quality)
    assert "parameters" not in row and row["class shares"] == "5.0% to 75.0%" and row["recall"] == 0.25
    cost = {"samples": 10, "parameters": 10, "macs_per_image": 20, "images_per_second": 1.0, "latency_ms": 1.0,
            "threads": 1, "device": "cpu", "batch": 4}
    with_cost = summary_row("model", Measurement(**vars(quality), **cost))
    assert with_cost == row and len(row) <= 8  # a lesson's table shows the images' quality; cost has tables of its own


def test_ruler_and_train_size_on_a_synthetic_data_set(tmp_path, monkeypatch):
    import kdlib.evaluate as evaluate
    import kdlib.features as features
    from kdlib.data import Split

    generator = torch.Generator().manual_seed(7)
    labels = torch.arange(400) % 10
    images = (labels[:, None, None, None] * 25 + torch.randint(0, 20, (400, 1, 28, 28), generator=generator)).to(torch.uint8)
    split = Split(images, labels, tuple("0123456789"), tmp_path)
    for module in (features, evaluate):
        monkeypatch.setattr(module, "load", lambda name, which: split)
    trained_on = []
    real_training = features.classifier_training
    monkeypatch.setattr(features, "classifier_training", lambda model, batches, *a, **k:
                        trained_on.append(len(batches.images)) or real_training(model, batches, *a, **k))
    measure = evaluate.ruler("synthetic", tmp_path / "checkpoints", 1, samples=300, train_size=200)
    assert trained_on == [200] and measure.checkpoint.parent == tmp_path / "checkpoints"
    assert set(measure.floors) == {"real train", "mean image", "uniform noise"}
    assert measure.floors["real train"].frechet_distance < measure.floors["uniform noise"].frechet_distance
    assert [row["images"] for row in measure.floor_rows()] == ["real train", "mean image", "uniform noise"]
    assert measure.real.features.shape == (400, 128) and measure.real.image_shape == (1, 28, 28)


def test_moving_average_against_a_direct_computation():
    from kdlib.plots import moving_average

    values = torch.randn(37, generator=torch.Generator().manual_seed(8)).tolist()
    for window in (1, 5, 50):
        direct = [sum(values[max(0, i + 1 - window):i + 1]) / len(values[max(0, i + 1 - window):i + 1])
                  for i in range(len(values))]
        torch.testing.assert_close(moving_average(values, window), torch.tensor(direct, dtype=torch.float64))


def test_layer_times_splits_each_model_by_layer_on_a_fake_clock(monkeypatch):
    """Each layer advances a fake clock by a known time; layer_times reports those times, each layer's output
    shape and MACs (a Linear(4, 3) on a batch of 5: 5 * 4 * 3), models taken in turn, and refuses bad input."""
    from kdlib import cost

    clock = [0.0]
    monkeypatch.setattr(cost.time, "perf_counter", lambda: clock[0])

    class Ticking(nn.Module):
        def __init__(self, layer: nn.Module, seconds: float) -> None:
            super().__init__()
            self.layer, self.seconds = layer, seconds

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            clock[0] += self.seconds
            return self.layer(x)

    models = {"a": nn.Sequential(Ticking(nn.Linear(4, 3), 0.002), Ticking(nn.ReLU(), 0.001)),
              "b": nn.Sequential(Ticking(nn.Linear(4, 2), 0.004))}
    timings = cost.layer_times(models, torch.zeros(5, 4), rounds=3, warmup=1)
    assert [(t.layer, t.output, t.milliseconds, t.macs) for t in timings["a"]] == [
        ("0: Ticking", (3,), pytest.approx(2.0), 60), ("1: Ticking", (3,), pytest.approx(1.0), 0)]
    assert timings["b"][0].macs == 40 and timings["b"][0].gmacs_per_second == pytest.approx(40 / 4.0 / 1e6)
    assert timings["a"][1].gmacs_per_second == 0.0
    with pytest.raises(ValueError, match="not an nn.Sequential"):
        cost.layer_times({"x": nn.Linear(4, 2)}, torch.zeros(5, 4))
    with pytest.raises(ValueError, match="at least one model and one round"):
        cost.layer_times(models, torch.zeros(5, 4), rounds=0)


def test_a_steady_heap_stops_page_faults_in_repeated_large_calls():
    """After steady_heap, allocating and freeing the same large activations again faults in (almost) no fresh pages:
    the property that keeps a large model's timing free of allocator costs (counted by the kernel, Linux only)."""
    from kdlib import cost

    resource = pytest.importorskip("resource")
    if not cost.steady_heap():
        pytest.skip("glibc's mallopt is not available here")

    def faults_of_one_call() -> int:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(3):  # a model's call: several large activations alive at once, then freed
            a, b = torch.ones(256, 64, 14, 14), torch.ones(256, 64, 14, 14)
            c = a + b
            del a, b, c
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults_of_one_call()  # the first call may grow the heap
    assert faults_of_one_call() < 100  # each call touches 3 x 12.8 MB: ~9,000 pages if they were fresh


def test_pixel_steps_by_hand_and_blur_lowers_them():
    stripes = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]).reshape(1, 1, 2, 3)
    # across: |1-0|, |0-1| in each of 2 rows -> mean 1; down: all 0 -> mean 0; their average 0.5
    assert pixel_steps(stripes) == pytest.approx(0.5)
    sharp = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    blurred = torch.nn.functional.avg_pool2d(sharp, 3, stride=1, padding=1)
    assert pixel_steps(blurred) < 0.6 * pixel_steps(sharp)
    with pytest.raises(ValueError, match="N x C x H x W"):
        pixel_steps(torch.zeros(3, 16, 16))


def test_the_second_ruler_is_an_untrained_network_of_another_design_drawn_from_its_seed_alone():
    from kdlib.features import RANDOM_FEATURES, RandomFeatures

    torch.manual_seed(1)
    before = torch.rand(3)
    torch.manual_seed(1)
    net, again, other = RandomFeatures(0), RandomFeatures(0), RandomFeatures(1)
    assert torch.equal(torch.rand(3), before)  # drawing its weights left the caller's random stream alone
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    assert not torch.equal(net.body[0].weight, other.body[0].weight)
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    layers = {type(m) for m in net.modules()}
    assert not layers & {type(m) for m in FeatureNet().modules() if next(m.children(), None) is None} - {
        nn.Conv2d, nn.Linear, nn.Flatten}  # no layer kind of the shipped ruler's but convolution, linear, flatten
    assert [m.kernel_size for m in net.modules() if isinstance(m, nn.Conv2d)] == [(5, 5), (5, 5), (3, 3)]
    images = torch.rand(5, 1, 28, 28) * 2 - 1
    assert net.embed(images).shape == (5, RANDOM_FEATURES)
    assert torch.allclose(net.embed(images, batch_size=2), net.body(images), atol=1e-6)


def test_the_second_ruler_measures_the_frechet_distance_of_its_features_and_joins_compare(tmp_path, monkeypatch):
    import kdlib.evaluate as evaluate
    from kdlib.batches import scale
    from kdlib.data import Split
    from kdlib.evaluate import Ruler, compare, reference, second_ruler

    generator = torch.Generator().manual_seed(7)
    labels = torch.arange(400) % 10
    images = (labels[:, None, None, None] * 25 + torch.randint(0, 20, (400, 1, 28, 28), generator=generator)).to(torch.uint8)
    monkeypatch.setattr(evaluate, "load", lambda name, which: Split(images, labels, tuple("0123456789"), tmp_path))
    second = second_ruler("synthetic", seed=3)
    real = scale(images)
    assert second.distance(real) == pytest.approx(0.0, abs=1e-6)
    spread = second.net.embed(real).std(0)
    assert torch.allclose(second.real, second.net.embed(real) / spread) and torch.allclose(second.spread, spread)
    by_hand = frechet_distance(second.net.embed(real[:300] * 0.5) / spread, second.real)
    assert second.distance(real[:300] * 0.5) == pytest.approx(by_hand) and by_hand > 1
    assert second.distance(real[:300]) < second.distance(torch.rand(300, 1, 28, 28) * 2 - 1)
    with pytest.raises(ValueError, match="not \\[-1, 1\\]"):
        second.distance(real * 3)
    net = FeatureNet().eval()
    measure = Ruler(net, 0.5, reference(net, images, labels), {}, tmp_path / "net.pt")

    class Fixed(nn.Module):  # z -> the first len(z) real images, scaled
        latent_dim = 2

        def __init__(self, factor: float) -> None:
            super().__init__()
            self.factor = nn.Parameter(torch.tensor(factor))

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return real[:len(z)] * self.factor.detach()

    results = compare({"a": Fixed(1.0), "b": Fixed(0.5)}, measure, samples=300, second=second)
    assert results["b"][0].frechet_distance_second == pytest.approx(second.distance(real[:300] * 0.5))
    assert results["a"][0].frechet_distance_second == pytest.approx(second.distance(real[:300]))
    assert compare({"a": Fixed(1.0)}, measure, samples=300)["a"][0].frechet_distance_second is None
