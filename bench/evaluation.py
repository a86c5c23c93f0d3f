"""Evaluating a generator end to end, and the reference points for reading the scores.

1. Trains (or loads from ``runs/bench``) the feature network of each data set and
   prints its test accuracy.
2. Prints the floor and ceilings on the test set: 10,000 real training images, the
   mean image, uniform noise (Fréchet distance, precision, recall, density,
   coverage, Inception Score, classes covered).
3. Times ``kdlib.evaluate.evaluate_generator`` on 10,000 samples of the course's
   DCGAN generator at width 1 (untrained: the cost measured is the evaluation's).

Run: ``python bench/evaluation.py [--epochs N]`` (goal: step 3 under 30 s on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import time

import torch

from kdlib.config import SETTINGS, resolve_device
from kdlib.data import load
from kdlib.evaluate import evaluate_generator, floor_and_ceiling, reference
from kdlib.features import feature_network
from kdlib.models import Generator
from kdlib.runs import RunDir, project_root
from kdlib.tables import markdown_table

LATENT = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=SETTINGS["feature_epochs"].quick,
                        help="feature network epochs (default: the quick profile's)")
    args = parser.parse_args()
    device = resolve_device(None)
    run = RunDir(project_root() / "runs" / "bench")
    for dataset in ("mnist", "fashion-mnist"):
        try:
            load(dataset, "test", download=False)
        except FileNotFoundError as err:
            print(f"{dataset}: skipped ({str(err).splitlines()[0]})")
            continue
        start = time.perf_counter()
        net, accuracy = feature_network(dataset, run, args.epochs, device)
        print(f"\n## {dataset}: feature network test accuracy {accuracy:.2%} "
              f"({args.epochs} epochs; trained or loaded in {time.perf_counter() - start:.0f} s)\n")
        rows = [{"images vs test set": name, "Fréchet distance": r["frechet_distance"], "precision": r["precision"],
                 "recall": r["recall"], "density": r["density"], "coverage": r["coverage"],
                 "Inception Score": r["inception_score"], "classes covered": r["classes_covered"]}
                for name, r in floor_and_ceiling(net, dataset).items()]
        print(markdown_table(rows))
        test = load(dataset, "test")
        real = reference(net, test.images, test.labels)
        torch.manual_seed(0)
        generator = Generator(LATENT, width=1.0).to(device).eval()
        start = time.perf_counter()
        result = evaluate_generator(lambda n: generator(torch.randn(n, LATENT, device=device)), generator,
                                    torch.zeros(1, LATENT, device=device), net, real)
        print(f"\nevaluate_generator, 10,000 samples: {time.perf_counter() - start:.1f} s on {device} "
              f"with {torch.get_num_threads()} threads ({result['parameters']:,} parameters, "
              f"{result['macs_per_image']:,} MACs per image, {result['images_per_second']:,.0f} images/s "
              f"at batch 256, {result['latency_ms']:.2f} ms at batch 1)")


if __name__ == "__main__":
    main()
