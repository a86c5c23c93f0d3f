"""Notebook 05's table rebuilt from a run folder's checkpoints alone, in a fresh process, with the course's targets.

Nothing is trained: the teachers (notebooks 02, 03) and students (notebook 04)
are loaded from the run folder, measured on the run's ruler (cached feature
network), and compared with the rows notebook 05 recorded, when it ran.

Run: ``python bench/students.py [--run-dir runs/quick]``
"""

from __future__ import annotations

import argparse
import time

import torch

from kdlib.config import resolve_device
from kdlib.evaluate import ruler
from kdlib.report import MODEL_COLUMNS
from kdlib.runs import RunDir, project_root
from kdlib.students import evaluation_table, target_checks, target_rows
from kdlib.tables import markdown_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=str(project_root() / "runs" / "quick"),
                        help="a run folder where notebooks 02-04 ran (default: runs/quick)")
    args = parser.parse_args()
    run = RunDir(args.run_dir)
    config = run.read_metrics("02_gan_teacher")["config"]  # the ruler's settings, as the teachers were measured
    device = resolve_device(None)
    start = time.perf_counter()
    measure = ruler(config["dataset"], run, config["feature_epochs"], device, config["seed"],
                    config["eval_samples"], config["train_size"])
    rows = evaluation_table(run, measure, config["eval_samples"], config["seed"], device)
    seconds = time.perf_counter() - start
    print(f"{run.path}: {config['dataset']}, {config['eval_samples']:,} samples per model, {device}, "
          f"{torch.get_num_threads()} threads; measured in {seconds:.0f} s\n")
    print(markdown_table([{"model": r["name"], **{label: r[key] for key, label in MODEL_COLUMNS.items()}}
                          for r in rows]))
    print()
    print(markdown_table(target_rows(target_checks(rows))))
    recorded = run.path / "metrics" / "05_evaluation.json"
    if recorded.is_file():
        before = {r["name"]: r for r in run.read_metrics("05_evaluation")["rows"]}
        differences = [abs(r["frechet_distance"] - before[r["name"]]["frechet_distance"]) / before[r["name"]]["frechet_distance"]
                       for r in rows if r["name"] in before]
        print(f"\nagainst notebook 05's rows: {len(differences)} of {len(rows)} models found, largest relative "
              f"difference in Fréchet distance {max(differences, default=float('nan')):.2e}")


if __name__ == "__main__":
    main()
