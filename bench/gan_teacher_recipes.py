"""What does the shipped GAN teacher need to be recognised as often as issue 14 asks? Candidate recipes, measured.

Trains one candidate recipe of the shipped GAN teacher (``gan-fashion-mnist``) through the same code as
``python -m kdlib teachers`` (``kdlib.course.shipped.make_shipped`` with the candidate in place of today's recipe):
notebook 02's DCGAN, both players at ``--width`` (today's: 1, i.e. 128 and 64 channels in the generator), for
``--epochs`` (today's: 30), the learning rate held for the first half and decayed linearly to 0, batch 64. It writes the
file and its manifest into ``--out`` (never into ``pretrained/``) and prints its quality on the shipped ruler (10,000
samples: Fréchet distance, precision, recall, the recognisable share relative to real test images', class shares)
against issue 14's targets for a shipped GAN teacher. A candidate that meets them is shipped by writing its
settings into ``kdlib.course.config.RECIPES`` and copying its two files into ``pretrained/``: they then verify
exactly as if ``python -m kdlib teachers --only gan-fashion-mnist`` had made them.

Candidates run in parallel, one process each (a GPU makes each a few minutes: ``--device cuda``).

Run: ``python bench/gan_teacher_recipes.py --width 2 --epochs 60 --out runs/gan-candidates/w2-e60 [--device cuda]``
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from teacher_targets import target_checks

from kdlib import markdown_table
from kdlib.course.config import RECIPES
from kdlib.course.shipped import make_shipped

NAME = "gan-fashion-mnist"
FULL_RECIPE_FRECHET = 126.5  # today's `full` recipe's GAN teacher on the shipped ruler (README; bench/teacher_targets.py)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=RECIPES[NAME].settings["epochs"])
    parser.add_argument("--out", type=Path, required=True, help="folder for the candidate's file and manifest")
    parser.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    parser.add_argument("--train-size", type=int, default=None, help="train on the first N images (a smoke test)")
    parser.add_argument("--eval-samples", type=int, default=10_000)
    args = parser.parse_args()
    if args.out.resolve() == (Path(__file__).resolve().parents[1] / "pretrained"):
        parser.error("--out must not be pretrained/: a candidate is shipped by hand, once chosen")
    settings = (RECIPES[NAME].settings | {"epochs": args.epochs} | ({"width": args.width} if args.width != 1 else {})
                | ({"train_size": args.train_size} if args.train_size else {}))
    candidate = dataclasses.replace(RECIPES[NAME], settings=settings, eval_samples=args.eval_samples)
    start = time.perf_counter()
    manifest = make_shipped(NAME, args.out / "work", args.out, args.device, candidate=candidate)
    quality = manifest.quality
    checks = target_checks("GAN", quality, FULL_RECIPE_FRECHET)
    print(markdown_table([{"width": args.width, "epochs": args.epochs, "device": manifest.machine.device,
                           "training (s)": manifest.training_seconds, "wall (s)": time.perf_counter() - start,
                           "Fréchet distance": quality["frechet_distance"], "precision": quality["precision"],
                           "recall": quality["recall"], "recognisable / real's": quality["recognisable_vs_real"],
                           "class shares": f"{quality['smallest_class_share']:.1%} to "
                                           f"{quality['largest_class_share']:.1%}",
                           "not met": ", ".join(k for k, ok in checks.items() if not ok) or "none"}]))


if __name__ == "__main__":
    main()
