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

Candidates run in parallel, one process each (a GPU makes each a few minutes: ``--device cuda``). ``--measure FILE
...`` measures candidate files already trained (their recipe is stored inside them) with the same function, on this
machine, and ``--csv`` appends each row to a CSV (``docs/results/gan-teacher-recipes.csv``).

Run: ``python bench/gan_teacher_recipes.py --width 2 --epochs 60 --out runs/gan-candidates/w2-e60 [--device cuda]``
or ``python bench/gan_teacher_recipes.py --measure runs/gan-candidates/*/gan-fashion-mnist.pt [--csv FILE]``
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from pathlib import Path
from typing import Any

import torch
from teacher_targets import target_checks

from kdlib import markdown_table
from kdlib.course.config import RECIPES, Recipe
from kdlib.course.shipped import KINDS, make_shipped
from kdlib.store import apply_weights, file_sha256

NAME = "gan-fashion-mnist"
FULL_RECIPE_FRECHET = 126.5  # today's `full` recipe's GAN teacher on the shipped ruler (README; bench/teacher_targets.py)


def row(recipe: Recipe, quality: dict[str, float], file: Path) -> dict[str, Any]:
    """One candidate's table row: its settings, quality on the shipped ruler and the targets it misses."""
    checks = target_checks("GAN", quality, FULL_RECIPE_FRECHET)
    return {"width": recipe.settings.get("width", 1.0), "epochs": recipe.settings["epochs"],
            "Fréchet distance": quality["frechet_distance"], "precision": quality["precision"],
            "recall": quality["recall"], "recognisable / real's": quality["recognisable_vs_real"],
            "class shares": f"{quality['smallest_class_share']:.1%} to {quality['largest_class_share']:.1%}",
            "not met": ", ".join(k for k, ok in checks.items() if not ok) or "none",
            "SHA-256": file_sha256(file)[:16]}


def measured(file: Path, eval_samples: int) -> tuple[Recipe, dict[str, float]]:
    """The recipe stored in a candidate ``file`` and the quality of its generator, measured as a manifest's is."""
    stored = torch.load(file, weights_only=True, map_location="cpu")
    if stored.get("recipe", {}).get("name") != NAME:
        raise ValueError(f"{file} holds no {NAME} candidate (its recipe: {stored.get('recipe')})")
    recipe = dataclasses.replace(RECIPES[NAME], settings=stored["recipe"]["settings"], eval_samples=eval_samples)
    model = KINDS["gan"].empty(recipe)
    apply_weights(model, {"model": {k: v.float() for k, v in stored["model"].items()}}, file)
    return recipe, KINDS["gan"].quality(model.eval(), recipe, file)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=RECIPES[NAME].settings["epochs"])
    parser.add_argument("--out", type=Path, help="folder for the candidate's file and manifest")
    parser.add_argument("--measure", type=Path, nargs="+", metavar="FILE", help="measure these candidate files instead")
    parser.add_argument("--csv", type=Path, help="append each row to this CSV")
    parser.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    parser.add_argument("--train-size", type=int, default=None, help="train on the first N images (a smoke test)")
    parser.add_argument("--eval-samples", type=int, default=10_000)
    args = parser.parse_args()
    if args.measure:
        rows = [row(*measured(file, args.eval_samples), file) for file in args.measure]
    else:
        if args.out is None:
            parser.error("give --out (a folder for the candidate) or --measure FILE ...")
        if args.out.resolve() == (Path(__file__).resolve().parents[1] / "pretrained"):
            parser.error("--out must not be pretrained/: a candidate is shipped by hand, once chosen")
        settings = (RECIPES[NAME].settings | {"epochs": args.epochs}
                    | ({"width": args.width} if args.width != 1 else {})
                    | ({"train_size": args.train_size} if args.train_size else {}))
        candidate = dataclasses.replace(RECIPES[NAME], settings=settings, eval_samples=args.eval_samples)
        manifest = make_shipped(NAME, args.out / "work", args.out, args.device, candidate=candidate)
        rows = [row(candidate, manifest.quality, args.out / manifest.file)
                | {"trained on": f"{manifest.machine.device}, {manifest.training_seconds:.0f} s"}]
    print(markdown_table(rows))
    if args.csv:
        new = not args.csv.exists()
        with open(args.csv, "a", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            if new:
                writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
