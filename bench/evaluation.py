"""Evaluating a generator end to end, and the reference points for reading the scores.

1. Trains (or loads from ``runs/bench``) the feature network of each data set and
   prints its test accuracy.
2. Prints the floor and ceilings on the test set: 10,000 real training images, the
   mean image, uniform noise (Fréchet distance, precision, recall, density,
   coverage, Inception Score, classes covered).
3. Times ``kdlib.evaluate_generator`` on 10,000 samples of the course's
   DCGAN generator at width 1 (untrained: the cost measured is the evaluation's).

Run: ``python bench/evaluation.py [--epochs N]`` (goal: step 3 under 30 s on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import time

import torch

from kdlib import LABELS, Generator, evaluate_generator, load, markdown_table
from kdlib.course.config import profile_values, resolve_device
from kdlib.evaluate import floor_and_ceiling, reference
from kdlib.features import feature_network
from kdlib.store import project_root

LATENT = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=profile_values("quick")["feature_epochs"],
                        help="feature network epochs (default: the quick profile's)")
    args = parser.parse_args()
    device = resolve_device(None)
    checkpoints = project_root() / "runs" / "bench" / "checkpoints"
    for dataset in ("mnist", "fashion-mnist"):
        try:
            load(dataset, "test", download=False)
        except FileNotFoundError as err:
            print(f"{dataset}: skipped ({str(err).splitlines()[0]})")
            continue
        start = time.perf_counter()
        net, accuracy, _ = feature_network(dataset, checkpoints, args.epochs, device)
        print(f"\n## {dataset}: feature network test accuracy {accuracy:.2%} "
              f"({args.epochs} epochs; trained or loaded in {time.perf_counter() - start:.0f} s)\n")
        shown = ("frechet_distance", "precision", "recall", "density", "coverage", "inception_score", "classes_covered")
        rows = [{"images vs test set": name, **{LABELS[key]: getattr(quality, key) for key in shown}}
                for name, quality in floor_and_ceiling(net, dataset).items()]
        print(markdown_table(rows))
        test = load(dataset, "test")
        real = reference(net, test.images, test.labels)
        torch.manual_seed(0)
        generator = Generator(LATENT, width=1.0).to(device).eval()
        start = time.perf_counter()
        result = evaluate_generator(lambda n: generator(torch.randn(n, LATENT, device=device)), generator,
                                    torch.zeros(1, LATENT, device=device), net, real)
        print(f"\nevaluate_generator, 10,000 samples: {time.perf_counter() - start:.1f} s on {device} "
              f"with {torch.get_num_threads()} threads ({result.parameters:,} parameters, "
              f"{result.macs_per_image:,} MACs per image, {result.images_per_second:,.0f} images/s "
              f"at batch 256, {result.latency_ms:.2f} ms at batch 1)")


if __name__ == "__main__":
    main()
