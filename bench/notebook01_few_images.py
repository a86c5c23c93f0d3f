"""Is the `quick` profile's student on labels tuned as much as the distilled one? And what are soft labels worth?

In the `quick` profile notebook 01's students learn from the first 6,000 Fashion-MNIST training images for 50
epochs (``student_train_size``, ``student_epochs``): Hinton et al.'s (2015) section 5, soft labels as a regulariser
for a network that sees a fraction of the data its teacher saw. The distilled student's T and alpha were chosen by a
sweep of 8 points (``sweeps/notebook01-quick-few-clean.yaml``); here the student on labels gets a search of the same
size over its own settings, the learning rate (``--rates``) and the number of epochs (``--epoch-grid``: fewer epochs
is early stopping, with the cosine schedule ending at the shorter length), and is chosen the same way, on the last
5,000 training images, held out from every student. The comparison is then made on the test set.

``--dropout`` adds the student on labels regularised as its teacher was (dropout 50% on hidden units, 20% on pixels:
``kdlib.TEACHER_MLP``'s rates), searched over the same rates at the longest length: a baseline given what the teacher
got, as the MNIST bench (``bench/notebook01_mnist_students.py``) gives it the teacher's shifts.

``--more-images`` adds students on labels that learn from more images in the same number of steps (6,000 images
for 50 epochs, 12,000 for 25, ...), at the learning rate the search chose: how many labelled images the teacher's
soft labels on 6,000 are worth, in this budget.

The shipped teacher trained on all 60,000 training images, the held-out ones included, so a student that copies it is
flattered on them (the teacher's own held-out errors are printed): the held-out images choose *within* each kind of
student, and only the test set compares the two kinds. Mean, spread (max - min) and the errors per seed.

Run: ``python bench/notebook01_few_images.py [--images 6000] [--epochs 50] [--seeds 0 1 2] [--rates ...]
[--epoch-grid 25 50] [--dropout] [--more-images 12000 24000 55000] [--temperature T] [--alpha A] [--csv FILE]``
(checkpoints in runs/bench-nb01-few: a rerun loads them; on 2 cores about 12 minutes with --dropout)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch

from notebook01_mnist_students import error_columns, errors_over_seeds, write_csv

from kdlib import (PIXELS, STUDENT_MLP, TEACHER_MLP, hard_labels, load, markdown_table, misclassified, predict_logits,
                   scale, soft_labels)
from kdlib.classifiers import Loss
from kdlib.course import load_shipped
from kdlib.course.config import profile_values
from kdlib.store import project_root

QUICK = profile_values("quick")

HELD_OUT = 5_000  # the last training images, as validation_size in the sweeps
DATASET = "fashion-mnist"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=QUICK["student_train_size"])
    parser.add_argument("--epochs", type=int, default=QUICK["student_epochs"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rates", type=float, nargs="+", default=[3e-4, 1e-3, 3e-3, 1e-2])
    parser.add_argument("--epoch-grid", type=int, nargs="+", default=[25, 50])
    parser.add_argument("--dropout", action="store_true", help="also the student on labels with the teacher's dropout")
    parser.add_argument("--more-images", type=int, nargs="*", default=[12_000, 24_000, 55_000])
    parser.add_argument("--temperature", type=float, default=QUICK["temperature"])
    parser.add_argument("--alpha", type=float, default=QUICK["alpha"])
    parser.add_argument("--csv", type=Path, help="also write the table here")
    args = parser.parse_args()
    keep = 60_000 - HELD_OUT
    if any(n > keep for n in (args.images, *args.more_images)):
        parser.error(f"--images and --more-images must be at most {keep:,}: the last {HELD_OUT:,} are held out")
    teacher, manifest = load_shipped(f"classifier-{DATASET}")
    train, test = load(DATASET, "train"), load(DATASET, "test")
    validation = (scale(train.images[keep:], PIXELS), train.labels[keep:])
    tests = (scale(test.images, PIXELS), test.labels)
    folder = project_root() / "runs" / "bench-nb01-few"
    print(f"teacher: pretrained/{manifest.checkpoint.file}, {misclassified(teacher, *validation)} held-out errors "
          f"(it trained on them), {misclassified(teacher, *tests)} test errors", flush=True)
    rows: list[dict] = []

    def measure(student: str, images: int, epochs: int, rate: float, loss_of: Callable[[torch.Tensor], Loss],
                extra: dict | None = None, dropout: bool = False) -> dict:
        """Train one kind of student with every seed on the first ``images`` training images; one table row."""
        architecture = {**STUDENT_MLP, **({key: TEACHER_MLP[key] for key in ("dropout", "input_dropout")}
                                          if dropout else {})}
        held, tested = errors_over_seeds(f"bench_{student}", architecture, train.images[:images],
                                         loss_of(train.labels[:images]), epochs, folder, args.seeds,
                                         [validation, tests], dataset=DATASET, learning_rate=rate, extra=extra)
        row = {"student": student, "dropout": "teacher's" if dropout else "none", "images": images,
               "epochs": epochs, "learning rate": rate,
               "T": extra["temperature"] if extra else "", "alpha": extra["alpha"] if extra else "",
               **error_columns(held, tested)}
        rows.append(row)
        print(markdown_table([row]), flush=True)
        return row

    search = [measure("labels", args.images, epochs, rate, hard_labels)
              for rate in args.rates for epochs in args.epoch_grid]
    if args.dropout:
        search += [measure("labels", args.images, max(args.epoch_grid), rate, hard_labels, dropout=True)
                   for rate in args.rates]
    best = min(search, key=lambda row: row["held-out errors (mean)"])
    with torch.no_grad():
        table = predict_logits(teacher, scale(train.images[:args.images], PIXELS))
    distilled = measure("distilled", args.images, args.epochs, QUICK["learning_rate"],
                        lambda labels: soft_labels(table, labels, args.temperature, args.alpha),
                        {"teacher": manifest.checkpoint.sha256[:16], "temperature": args.temperature, "alpha": args.alpha})
    for images in args.more_images:
        measure("labels", images, max(1, round(args.epochs * args.images / images)), best["learning rate"],
                hard_labels, dropout=best["dropout"] != "none")
    print(markdown_table(rows))
    gap = best["test errors (mean)"] - distilled["test errors (mean)"]
    noise = max(best["test spread"], distilled["test spread"])
    print(f"\nstudent on labels chosen on the held-out images: learning rate {best['learning rate']:g}, "
          f"{best['epochs']} epochs, dropout {best['dropout']}, {best['test errors (mean)']} test errors; distilled (T = {args.temperature:g}, "
          f"alpha = {args.alpha:g}): {distilled['test errors (mean)']}; difference {gap:+.1f}, largest spread "
          f"{noise}: {'beyond' if abs(gap) > noise else 'within'} it")
    if args.csv:
        write_csv(rows, args.csv)


if __name__ == "__main__":
    main()
