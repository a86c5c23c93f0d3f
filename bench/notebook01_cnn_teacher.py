"""Would a much stronger teacher help notebook 01's `quick` students? Its MLP student distilled from a CNN.

The teacher is the shipped Fashion-MNIST ruler (a convolutional network, 7.4% test errors against the shipped MLP
teacher's 10.0%); the student is notebook 01's (``kdlib.STUDENT_MLP``), trained as in the `quick` profile (5
epochs, batch 256, Adam 1e-3 cosine-annealed, seeds 0 to 2) on all 60,000 training images with the teacher's soft
labels at each (T, alpha), beside the same student on labels with the same seeds. This was the `quick` profile's
setting until its students learnt from 6,000 images (``student_train_size``). An ablation, not a recipe: the ruler
stays the course's measuring network.

Run: ``python bench/notebook01_cnn_teacher.py`` (about 3 minutes on 2 cores; checkpoints in runs/bench-cnn-teacher)
"""

from __future__ import annotations

import argparse

import torch

from notebook01_mnist_students import errors_over_seeds

from kdlib import PIXELS, STUDENT_MLP, hard_labels, load, markdown_table, scale, soft_labels
from kdlib.course import shipped_ruler
from kdlib.store import project_root

POINTS = ((1.0, 0.9), (4.0, 0.9))  # (T, alpha): the quick profile's choice, and a softer one
SEEDS = (0, 1, 2)
EPOCHS = 5


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    measure, _ = shipped_ruler("fashion-mnist", samples=500)
    train, test = load("fashion-mnist", "train"), load("fashion-mnist", "test")
    with torch.no_grad():
        images = scale(train.images)  # the ruler's range, [-1, 1]
        logits = torch.cat([measure.net.head(measure.net.body(images[i:i + 2000])) for i in range(0, len(images), 2000)])
    folder = project_root() / "runs" / "bench-cnn-teacher"
    test_images = scale(test.images, PIXELS)
    teacher = f"CNN (the ruler, {round((1 - measure.accuracy) * len(test))} test errors)"
    students = [("on labels", "none", "cnn_labels", hard_labels(train.labels), None)]
    students += [(f"distilled, T = {temperature:g}, alpha = {alpha:g}", teacher, "cnn_distilled",
                  soft_labels(logits, train.labels, temperature, alpha),
                  {"temperature": temperature, "alpha": alpha, "teacher": "ruler-fashion-mnist"})
                 for temperature, alpha in POINTS]
    rows = []
    for student, source, name, loss, extra in students:
        errors, = errors_over_seeds(name, STUDENT_MLP, train.images, loss, EPOCHS, folder, list(SEEDS),
                                    [(test_images, test.labels)], dataset="fashion-mnist", learning_rate=1e-3,
                                    extra=extra)
        rows.append({"student": student, "teacher": source, "test errors (mean)": sum(errors) / len(errors),
                     "per seed": ", ".join(map(str, errors)), "spread": max(errors) - min(errors)})
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
