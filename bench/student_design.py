"""Does the CPU-designed student lose quality? GAN students of the old design (the teacher's, width 1/8: transposed
convolutions) and of the new one (width 0.12, sub-pixel upsampling), trained from the shipped GAN teacher (or from
scratch) for the `quick` profile's epoch, over seeds, with the learning rates the course used before
``bench/student_tuning.py`` (distilled students 1e-2, scratch 2e-4 without schedule): the design is the only change.

Each (objective, design, seed) student is trained (``kdlib.train_student``, checkpoints under
``runs/bench-student-design``: a second run loads them) and measured on the shipped ruler: Fréchet distance,
precision, recall on 10,000 samples, fidelity to the teacher on the same latents, training time. The table gives
each configuration's mean and standard deviation over the seeds; ``bench/generator_speed.py`` gives their speed.

Run: ``python bench/student_design.py [--seeds 0 1 2] [--objectives output output+adversarial scratch]``
"""

from __future__ import annotations

import argparse
import statistics

import torch

from kdlib import (OBJECTIVES, GANScratch, OutputAdversarial, OutputDistillation, Student, generated, load,
                   markdown_table, sampler, train_student)
from kdlib.course import shipped_ruler, shipped_teacher
from kdlib.course.config import SETTINGS
from kdlib.evaluate import fidelity, image_quality
from kdlib.progress import progress
from kdlib.store import project_root

SAMPLES, DATASET = 10_000, "fashion-mnist"
DESIGNS = {"old: 1/8, transposed": (0.125, "transposed"), "new: 0.12, sub-pixel": (0.12, "subpixel")}


def quick(name: str):
    """The `quick` profile's value of a setting: the recipe notebook 04 trains its students with."""
    return SETTINGS[name].quick


def objective(name: str):
    """The objective ``name`` with the settings the comparison was made with."""
    if name == "output":
        return OutputDistillation(learning_rate=1e-2)
    if name == "output+adversarial":
        return OutputAdversarial(learning_rate=1e-2,
                                 adversarial_weight=quick("adversarial_weight"),
                                 discriminator_learning_rate=quick("gan_learning_rate"))
    if name == "scratch":  # the recipe the README's table was measured with, before bench/student_tuning.py
        return GANScratch(learning_rate=2e-4, anneal=False)
    raise SystemExit(f"objective {name!r} is not one of ['output', 'output+adversarial', 'scratch'] "
                     f"({list(OBJECTIVES['gan'])})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--objectives", nargs="+", default=["output", "output+adversarial", "scratch"])
    args = parser.parse_args()
    teacher, provenance = shipped_teacher("gan", DATASET)
    measure, _ = shipped_ruler(DATASET, samples=SAMPLES)
    train = load(DATASET, "train")
    checkpoints = project_root() / "runs" / "bench-student-design" / "checkpoints"
    identity = {"dataset": DATASET, "train_size": len(train), "teacher": provenance.checkpoint.sha256}
    shared = sampler(teacher, teacher.latent_dim, seed=0)
    teacher_images = generated(shared, SAMPLES)
    runs = [(name, design, seed) for name in args.objectives for design in DESIGNS for seed in args.seeds]
    measured: dict[tuple[str, str], list[dict[str, float]]] = {}
    for name, design, seed in progress(runs, desc="students"):
        student = Student(objective(name), *DESIGNS[design])
        model, trained = train_student(student, teacher, train.images, train.labels, quick("gan_student_epochs"),
                                       quick("gan_batch_size"), seed, checkpoints, identity)
        images = generated(sampler(model, model.latent_dim, seed=0), SAMPLES)
        quality = image_quality(images, measure.net, measure.real)
        measured.setdefault((name, design), []).append(
            {"Fréchet distance": quality.frechet_distance, "precision": quality.precision, "recall": quality.recall,
             "fidelity": fidelity(images, teacher_images), "training (s)": trained.history["seconds"]})
    rows = []
    for (name, design), values in measured.items():
        row = {"objective": name, "design": design, "seeds": len(values)}
        for key in values[0]:
            column = [v[key] for v in values]
            spread = statistics.stdev(column) if len(column) > 1 else float("nan")
            row[key] = f"{statistics.mean(column):.4g} ± {spread:.2g}"
        rows.append(row)
    print(f"GAN students of the shipped teacher ({DATASET}), quick recipe "
          f"({quick('gan_student_epochs')} epoch(s), batch {quick('gan_batch_size')}), {SAMPLES:,} samples each on the "
          f"shipped ruler, {torch.get_num_threads()} threads; mean ± standard deviation over seeds {args.seeds}\n")
    print(markdown_table(rows))
    for name in args.objectives:
        old, new = ([v["Fréchet distance"] for v in measured[(name, design)]] for design in DESIGNS)
        print(f"{name}: new design against old, Fréchet distance {statistics.mean(new):.1f} against "
              f"{statistics.mean(old):.1f} (difference {statistics.mean(new) - statistics.mean(old):+.1f}; "
              f"standard deviations {statistics.stdev(new) if len(new) > 1 else float('nan'):.1f} and "
              f"{statistics.stdev(old) if len(old) > 1 else float('nan'):.1f})")


if __name__ == "__main__":
    main()
