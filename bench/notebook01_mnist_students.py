"""Is notebook 01's student on labels a fair baseline? MNIST students with and without the teacher's shifts.

The `full` profile's notebook 01 (the shipped MNIST teacher, 77 test errors, trained with dropout on images shifted
by up to 2 pixels; the 800 x 800 student, batch 256, Adam 1e-3 cosine-annealed) makes about 31% fewer test errors
with soft labels (T = 20, alpha = 0.5: the defaults of ``--temperature`` and ``--alpha``) than on labels, against
the unregularised student on labels of Hinton et al. Here both students get the same data augmentation, so the
baseline gets what the teacher got:

- **shifts** (``--jitter``): every image the students see shifted by up to that many pixels. The student on labels
  gets the shifted images; the distilled student the teacher's logits *of the shifted images*
  (``kdlib.classifiers.teacher_soft_labels``: "consistent" teaching, Beyer et al. 2022), since a table of logits of the
  unshifted images would describe other images than the student sees;
- **longer training** (``--epochs``): Beyer et al. find that distillation keeps gaining long after training on
  labels has stopped ("patient" teaching).

The students train on the first 55,000 training images. The last 5,000 are reported too, but they cannot choose
between the students: the shipped teacher was trained on them (17 errors there against 77 of the 10,000 test
images), so a student that copies the teacher is flattered on them. Mean, spread (max - min) and the errors per seed.

Its helpers (``errors_over_seeds``, ``error_columns``, ``write_csv``) also serve the other notebook-01 benches.

Run: ``python bench/notebook01_mnist_students.py [--epochs 30] [--jitter 0 2] [--seeds 0 1 2] [--temperature 20]
[--alpha 0.5] [--csv FILE]`` (checkpoints in runs/bench-nb01-mnist: an interrupted run resumes; on 2 cores about
1.5 minutes per student and 30 epochs, 2.5 for a distilled student on shifted images, whose teacher runs on every
batch)
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from typing import Any

import torch

from kdlib import (PIXELS, STUDENT_MLP, hard_labels, load, markdown_table, misclassified, predict_logits, scale,
                   soft_labels, train_classifier)
from kdlib.classifiers import Loss, teacher_soft_labels
from kdlib.course import load_shipped
from kdlib.course.config import profile_values
from kdlib.store import project_root

FULL = profile_values("full", "mnist")

HELD_OUT = 5_000
Judged = tuple[torch.Tensor, torch.Tensor]  # scaled images and their labels


def errors_over_seeds(name: str, architecture: dict[str, Any], images: torch.Tensor, loss: Loss, epochs: int,
                      folder: Path, seeds: list[int], judged_on: list[Judged], *, dataset: str, learning_rate: float,
                      jitter: int = 0, extra: dict[str, Any] | None = None) -> list[list[int]]:
    """One kind of notebook-01 student trained with each seed (batch 256), or loaded from ``folder``: its errors on
    each (images, labels) set of ``judged_on``, one list per set, one entry per seed."""
    errors: list[list[int]] = [[] for _ in judged_on]
    for seed in seeds:
        model, _ = train_classifier(name, architecture, images, loss, epochs, folder, dataset=dataset, batch_size=256,
                                    learning_rate=learning_rate, seed=seed, jitter=jitter, extra_settings=extra)
        for found, judged in zip(errors, judged_on):
            found.append(misclassified(model, *judged))
    return errors


def error_columns(held: list[int], tested: list[int]) -> dict[str, Any]:
    """A table row's errors: held-out and test means, the test spread (max - min), and the errors per seed."""
    return {"held-out errors (mean)": round(sum(held) / len(held), 1),
            "test errors (mean)": round(sum(tested) / len(tested), 1), "test spread": max(tested) - min(tested),
            "seeds": len(tested), "test errors per seed": " ".join(map(str, tested)),
            "held-out errors per seed": " ".join(map(str, held))}


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """The table's rows as CSV, the columns of its widest row."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(max(rows, key=len)))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[30])
    parser.add_argument("--jitter", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--temperature", type=float, default=FULL["temperature"])
    parser.add_argument("--alpha", type=float, default=FULL["alpha"])
    parser.add_argument("--csv", type=Path, help="also write the table here")
    args = parser.parse_args()
    teacher, manifest = load_shipped("classifier-mnist")
    train, test = load("mnist", "train"), load("mnist", "test")
    keep = len(train) - HELD_OUT
    images, labels = train.images[:keep], train.labels[:keep]
    validation = (scale(train.images[keep:], PIXELS), train.labels[keep:])
    tests = (scale(test.images, PIXELS), test.labels)
    table = predict_logits(teacher, scale(images, PIXELS))
    folder = project_root() / "runs" / "bench-nb01-mnist"
    print(f"teacher: pretrained/{manifest.checkpoint.file}, {misclassified(teacher, *validation)} held-out errors, "
          f"{misclassified(teacher, *tests)} test errors")
    rows = []
    for epochs in args.epochs:
        for jitter in args.jitter:
            students = {"labels": hard_labels(labels),
                        "distilled": (teacher_soft_labels(teacher, labels, args.temperature, args.alpha) if jitter
                                      else soft_labels(table, labels, args.temperature, args.alpha))}
            for student, loss in students.items():
                extra = {"teacher": manifest.checkpoint.sha256[:16], "temperature": args.temperature, "alpha": args.alpha} \
                    if student == "distilled" else None
                held, tested = errors_over_seeds(f"bench_{student}", STUDENT_MLP, images, loss, epochs, folder,
                                                 args.seeds, [validation, tests], dataset="mnist", learning_rate=1e-3,
                                                 jitter=jitter, extra=extra)
                soft = {"T": args.temperature, "alpha": args.alpha} if student == "distilled" else {"T": "", "alpha": ""}
                rows.append({"epochs": epochs, "shift (pixels)": jitter, "student": student, **soft,
                             **error_columns(held, tested)})
                print(markdown_table(rows[-1:]), flush=True)
    for row in rows:
        if row["student"] == "distilled":
            base = next(r for r in rows if r["student"] == "labels" and r["epochs"] == row["epochs"]
                        and r["shift (pixels)"] == row["shift (pixels)"])
            row["fewer test errors than on labels"] = f"{1 - row['test errors (mean)'] / base['test errors (mean)']:.1%}"
    print(markdown_table(rows))
    if args.csv:
        write_csv(rows, args.csv)


if __name__ == "__main__":
    main()
