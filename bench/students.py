"""Notebook 05's table rebuilt from a run folder's records and checkpoints alone, in a fresh process, with the targets.

Nothing is trained: the teachers (notebooks 02, 03) and students (notebook 04)
are loaded through their records, measured on the ruler the teachers were
measured with (the shipped ruler or the run's own feature network), and compared with the rows of the
run's evaluation record, when notebook 05 ran.

Run: ``python bench/students.py [--run-dir runs/quick]``
"""

from __future__ import annotations

import argparse
import time

import torch

from kdlib import LABELS, markdown_table
from kdlib.course import Evaluation, RunDir, Teacher, evaluation_rows, target_checks, target_rows
from kdlib.course.config import Config, resolve_device
from kdlib.course.shipped import ruler_for
from kdlib.course.report import MODEL_COLUMNS
from kdlib.store import project_root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=str(project_root() / "runs" / "quick"),
                        help="a run folder where notebooks 02-04 ran (default: runs/quick)")
    args = parser.parse_args()
    run = RunDir(args.run_dir)
    config = Teacher.load(run, family="gan").config  # the ruler's settings, as the teachers were measured
    device = resolve_device(None)
    start = time.perf_counter()
    # Records from before the shipped rulers were measured with the run's own feature network.
    measure = ruler_for(Config(config["profile"], device, run, {"ruler_source": "run", **config}))
    widths = (Evaluation.load(run).config if (run.path / "records" / Evaluation.FILE).is_file() else {}).get(
        "student_widths", [0.125])
    rows = evaluation_rows(run, measure, config["dataset"], widths, config["eval_samples"], config["seed"], device)
    print(f"{run.path}: {config['dataset']}, {config['eval_samples']:,} samples per model, {device}, "
          f"{torch.get_num_threads()} threads; measured in {time.perf_counter() - start:.0f} s\n")
    print(markdown_table([{"model": r.name, **{LABELS[key]: getattr(r, key) for key in MODEL_COLUMNS}} for r in rows]))
    print()
    print(markdown_table(target_rows(target_checks(rows))))
    if (run.path / "records" / Evaluation.FILE).is_file():
        before = {r.name: r.frechet_distance for r in Evaluation.load(run).rows}
        differences = [abs(r.frechet_distance - before[r.name]) / before[r.name] for r in rows if r.name in before]
        print(f"\nagainst notebook 05's rows: {len(differences)} of {len(rows)} models found, largest relative "
              f"difference in Fréchet distance {max(differences, default=float('nan')):.2e}")


if __name__ == "__main__":
    main()
