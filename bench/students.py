"""Notebook 06's table rebuilt from a run folder's records and checkpoints alone, in a fresh process, with the targets.

Nothing is trained: with the settings notebook 06 recorded (its ruler, its teachers: the shipped ones or the
run's, the student widths and seeds), the teachers and every student of every seed (notebook 04) are loaded
through their records, measured again, and compared with the rows of the run's evaluation record.

Run: ``python bench/students.py [--run-dir runs/quick]`` (the folder ``make run`` writes)
"""

from __future__ import annotations

import argparse
import time

import torch

from kdlib import LABELS, markdown_table
from kdlib.course import Evaluation, RunDir, evaluation_rows, target_checks, target_rows
from kdlib.course.config import SETTINGS, Config, resolve_device
from kdlib.course.report import MODEL_COLUMNS
from kdlib.course.shipped import generative_teacher, ruler_for
from kdlib.store import project_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=str(project_root() / "runs" / "quick"),
                        help="a run folder where notebooks 04 and 06 ran (default: runs/notebooks-quick)")
    args = parser.parse_args()
    run = RunDir(args.run_dir)
    recorded = Evaluation.load(run)
    values = {key: value for key, value in recorded.config.items() if key in SETTINGS}
    values.setdefault("vae_student_widths", values["student_widths"])  # older records: one list for both families
    for name in ("gan_objectives", "vae_objectives"):  # older records: the objectives of the settings' defaults
        values.setdefault(name, SETTINGS[name].default)
    cfg = Config(recorded.profile, resolve_device(None), run, values)
    start = time.perf_counter()
    teachers = {family: generative_teacher(cfg, family) for family in ("gan", "vae")}
    seeds = [cfg.seed + k for k in range(cfg.generative_student_seeds)]
    rows = evaluation_rows(run, ruler_for(cfg), cfg.dataset,
                           {family: cfg.widths(family) for family in ("gan", "vae")},
                           {family: cfg.objective_names(family) for family in ("gan", "vae")}, cfg.eval_samples, cfg.seed,
                           cfg.device, teachers, seeds)
    print(f"{run.path}: {cfg.dataset}, {cfg.eval_samples:,} samples per model, seeds {seeds}, {cfg.device}, "
          f"{torch.get_num_threads()} threads; measured in {time.perf_counter() - start:.0f} s\n")
    print(markdown_table([{"model": r.name, "seed": r.seed if r.seed is not None else "-",
                           **{LABELS[key]: getattr(r, key) for key in MODEL_COLUMNS}} for r in rows]))
    print()
    print(markdown_table(target_rows(target_checks(rows))))
    before = {(r.name, r.seed): r.frechet_distance for r in recorded.rows}
    differences = [abs(r.frechet_distance - before[r.name, r.seed]) / before[r.name, r.seed] for r in rows
                   if (r.name, r.seed) in before]
    print(f"\nagainst notebook 06's rows: {len(differences)} of {len(rows)} models found, largest relative "
          f"difference in Fréchet distance {max(differences, default=float('nan')):.2e}")


if __name__ == "__main__":
    main()
