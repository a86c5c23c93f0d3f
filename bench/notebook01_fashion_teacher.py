"""Is the shipped Fashion-MNIST MLP teacher held back by its dropout? Teachers with lighter dropout, and students.

Notebook 01's teacher (``kdlib.TEACHER_MLP``: 784-1200-1200-10, Hinton et al.'s dropout of 50% of the hidden units
and 20% of the pixels) learns Fashion-MNIST from the recipe ``classifier-fashion-mnist`` (50 epochs, batch 128, Adam
1e-3 cosine-annealed, no shifts). Trained so on the first 55,000 images it makes 1,021 test errors, more than the
800 x 800 student on labels (963 in 30 epochs): a teacher no better than its student has little to hand on. This
bench trains the same teacher with each dropout of ``--dropouts`` (hidden, pixels), everything else the recipe's,
on the first 55,000 training images, and reports its errors on them, on the last 5,000 (held out: the only ones
that may choose) and on the test set. With ``--students``, the teacher with the fewest held-out errors and the
recipe's teacher each teach the `full` profile's student (30 epochs, batch 256, Adam 1e-3 cosine-annealed, T and
alpha the profile's) with each seed of ``--seeds``, beside the same student on labels with the same seeds.

Run: ``python bench/notebook01_fashion_teacher.py [--dropouts 0.5,0.2 0.3,0.1 0.2,0] [--students] [--csv FILE]``
(checkpoints in runs/bench-nb01-fashion-teacher: an interrupted run resumes; on 2 cores about 13 minutes per
teacher and 2 per student)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from notebook01_mnist_students import HELD_OUT, Judged, error_columns, errors_over_seeds, write_csv

from kdlib import (PIXELS, STUDENT_MLP, TEACHER_MLP, hard_labels, load, markdown_table, misclassified,
                   predict_logits, scale, soft_labels, train_classifier)
from kdlib.course.config import RECIPES, SETTINGS
from kdlib.store import project_root

DATASET = "fashion-mnist"
RECIPE = RECIPES[f"classifier-{DATASET}"].settings


def dropout_pair(text: str) -> tuple[float, float]:
    """``"0.5,0.2"`` as (hidden dropout, pixel dropout), each in [0, 1)."""
    try:
        hidden, pixels = (float(part) for part in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--dropouts {text!r}: give each as HIDDEN,PIXELS, e.g. 0.5,0.2") from err
    if not (0 <= hidden < 1 and 0 <= pixels < 1):
        raise argparse.ArgumentTypeError(f"--dropouts {text!r}: each rate must lie in [0, 1)")
    return hidden, pixels


def teacher_row(dropout: tuple[float, float], images: torch.Tensor, labels: torch.Tensor, judged: list[Judged],
                folder: Path) -> tuple[dict[str, Any], torch.nn.Module]:
    """The recipe's teacher with ``dropout`` (hidden, pixels), trained on ``images`` or loaded: its errors."""
    architecture = {**TEACHER_MLP, "dropout": dropout[0], "input_dropout": dropout[1]}
    model, trained = train_classifier("teacher", architecture, images, hard_labels(labels), RECIPE["epochs"], folder,
                                      dataset=DATASET, batch_size=RECIPE["batch_size"],
                                      learning_rate=RECIPE["learning_rate"], seed=RECIPE["seed"],
                                      jitter=RECIPE["jitter"])
    own = misclassified(model, scale(images, PIXELS), labels)
    held, tested = (misclassified(model, *pair) for pair in judged)
    recipe = " (the recipe's)" if dropout == (TEACHER_MLP["dropout"], TEACHER_MLP["input_dropout"]) else ""
    return ({"teacher": f"dropout {dropout[0]:g} / {dropout[1]:g}{recipe}", "training errors": own,
             "training error rate": f"{own / len(images):.1%}", "held-out errors": held, "test errors": tested,
             "training (s)": trained.history["seconds"]}, model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dropouts", type=dropout_pair, nargs="+", default=[(0.5, 0.2), (0.3, 0.1), (0.2, 0.0)])
    parser.add_argument("--students", action="store_true", help="also distil the student from the best teacher")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--csv", type=Path, help="also write the tables here (teachers; students beside, -students)")
    args = parser.parse_args()
    recipe_dropout = (TEACHER_MLP["dropout"], TEACHER_MLP["input_dropout"])
    if args.students and recipe_dropout not in args.dropouts:
        parser.error(f"--students compares with the recipe's teacher: include its dropout "
                     f"{recipe_dropout[0]:g},{recipe_dropout[1]:g} in --dropouts")
    train, test = load(DATASET, "train"), load(DATASET, "test")
    keep = len(train) - HELD_OUT
    images, labels = train.images[:keep], train.labels[:keep]
    judged = [(scale(train.images[keep:], PIXELS), train.labels[keep:]), (scale(test.images, PIXELS), test.labels)]
    folder = project_root() / "runs" / "bench-nb01-fashion-teacher"
    teachers, models = [], {}
    for dropout in args.dropouts:
        row, models[dropout] = teacher_row(dropout, images, labels, judged, folder)
        teachers.append(row)
        print(markdown_table(teachers[-1:]), flush=True)
    print(markdown_table(teachers))
    if args.csv:
        write_csv(teachers, args.csv)
    if not args.students:
        return
    best = min(args.dropouts, key=lambda d: teachers[args.dropouts.index(d)]["held-out errors"])
    temperature, alpha = (SETTINGS[name].default("full", DATASET) for name in ("temperature", "alpha"))
    epochs = SETTINGS["student_epochs"].full
    students = [("labels", "", hard_labels(labels), None)]
    for dropout in dict.fromkeys([recipe_dropout, best]):
        table = predict_logits(models[dropout], scale(images, PIXELS))
        students.append(("distilled", teachers[args.dropouts.index(dropout)]["teacher"],
                         soft_labels(table, labels, temperature, alpha),
                         {"teacher_dropout": list(dropout), "temperature": temperature, "alpha": alpha}))
    rows = []
    for kind, teacher, loss, extra in students:
        held, tested = errors_over_seeds(f"bench_{kind}", STUDENT_MLP, images, loss, epochs, folder, args.seeds,
                                         judged, dataset=DATASET, learning_rate=1e-3, extra=extra)
        soft = {"T": temperature, "alpha": alpha} if extra else {"T": "", "alpha": ""}
        rows.append({"student": kind, "teacher": teacher or "none", **soft, "epochs": epochs,
                     **error_columns(held, tested)})
        print(markdown_table(rows[-1:]), flush=True)
    print(markdown_table(rows))
    if args.csv:
        write_csv(rows, args.csv.with_name(f"{args.csv.stem}-students{args.csv.suffix}"))


if __name__ == "__main__":
    main()
