"""Notebook 05's science, measured outside the notebook: the flow teacher's recipe, the students' learning rate,
and the targets.

``--part teacher``: the shipped flow recipe (``kdlib.course.config.RECIPES["flow-fashion-mnist"]``) trained for
fewer optimiser steps (2,000 and 8,000) beside the shipped teacher (30,000), each sampled with 8, 32 and 128 Euler
steps: how much of the gap to the decoder's floor is training, and how much the sampler's step count.

``--part tuning``: the equal search that chose each student's learning rate (``regression_learning_rate``,
``progressive_learning_rate``, ``consistency_learning_rate``): each of the three students (one-step regression,
progressive distillation, consistency distillation) trained from the shipped teacher with the `quick` profile's
steps and pairs, one seed, at every learning rate of one grid (1e-4 to 1e-2), and scored at one sampling step (and
at four for the two students that have four-step samplers). Every point is deterministic, so the grid may be run
in parts (``--rates``) and the CSVs joined. Scored, like bench/student_tuning.py, on the *last
10,000 training images* (held out from nothing the students see, since they train on codes and the teacher's
samples, but not the test set on which the course reports).

Both score Fréchet distances of ``--samples`` images on the shipped ruler, and write a CSV under ``--out``
(default ``runs/diffusion-distillation``; the committed tables: ``--out docs/results/diffusion``).

``--part targets``: the targets of the course, read from a run folder's notebook-05 record
(``records/diffusion.json``): each student at one and four steps against the teacher at 32, and against the
teacher's own sampler at the same step count, beyond two standard deviations over seeds; and the speed-up.

Run: ``python bench/diffusion_distillation.py --part teacher|tuning|targets [--run-dir runs/quick] [--out DIR]``
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

import torch

from kdlib import generated, load, markdown_table, sampler
from kdlib.course import DiffusionResult, RunDir, flow_space, load_shipped, shipped_ruler
from kdlib.course.config import RECIPES, profile_values
from kdlib.diffusion import (ConsistencyDistillation, FlowMatching, LatentGenerator, OneStepRegression,
                             progressive_distillation, train_latent)
from kdlib.evaluate import image_quality, reference
from kdlib.store import project_root

QUICK = profile_values("quick")

DATASET = "fashion-mnist"
RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


def held_out_scorer(samples: int):
    """``score(generator)``: the Fréchet distance of ``samples`` of its images against the last 10,000 training
    images; ``score(images)`` of given images (in [-1, 1]). The ruler and the reference are made once."""
    measure, _ = shipped_ruler(DATASET, samples=samples)
    train = load(DATASET, "train")
    held_out = reference(measure.net, train.images[-10_000:], train.labels[-10_000:])

    def score(generator: torch.nn.Module | torch.Tensor, seed: int = 0) -> float:
        if isinstance(generator, torch.Tensor):
            return image_quality(generator, measure.net, held_out).frechet_distance
        torch.manual_seed(seed)
        images = generated(sampler(generator, generator.latent_dim, "cpu", seed), samples)
        return image_quality(images, measure.net, held_out).frechet_distance
    return score


def write(out: Path, name: str, rows: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / name, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(markdown_table(rows))
    print(f"wrote {out / name}")


def teacher_part(samples: int, work: Path, out: Path) -> None:
    vae, _ = load_shipped(f"vae-{DATASET}")
    codes, standardiser = flow_space(vae, DATASET)
    settings = RECIPES[f"flow-{DATASET}"].settings
    score = held_out_scorer(samples)
    shipped, _ = load_shipped(f"flow-{DATASET}")
    teachers = {}
    for steps in (2_000, 8_000):
        start = time.perf_counter()
        teachers[steps], trained = train_latent(FlowMatching(settings["learning_rate"]), codes, steps,
                                                settings["batch_size"], settings["seed"], work)
        print(f"{steps} steps trained in {trained.history['seconds']:.0f} s ({time.perf_counter() - start:.0f} s)")
    teachers[settings["steps"]] = shipped
    rows = [{"training steps": steps, **{f"FD at {n} Euler steps": round(score(LatentGenerator(
        model, vae, standardiser, n)), 1) for n in (8, 32, 128)}} for steps, model in teachers.items()]
    with torch.no_grad():
        floor = round(score(torch.sigmoid(vae.decode(standardiser.inverse(codes[:samples]))) * 2 - 1), 1)
    rows.append({"training steps": "decoder's floor (real codes decoded)",
                 **{f"FD at {n} Euler steps": floor for n in (8, 32, 128)}})
    write(out, "teacher.csv", rows)


def tuning_part(samples: int, work: Path, rates: list[float], out: Path) -> None:
    vae, _ = load_shipped(f"vae-{DATASET}")
    codes, standardiser = flow_space(vae, DATASET)
    teacher, manifest = load_shipped(f"flow-{DATASET}")
    score = held_out_scorer(samples)
    steps, pairs = QUICK["latent_student_steps"], QUICK["regression_pairs"]
    rows = []
    for rate in rates:
        identity = {"teacher": manifest.checkpoint.sha256}
        regression, _ = train_latent(OneStepRegression(rate, pairs=pairs), codes, steps, 512, 0, work, teacher, identity)
        rounds = progressive_distillation(teacher, codes, steps // 5, 512, 0, work, learning_rate=rate,
                                          identity=identity)
        consistency, _ = train_latent(ConsistencyDistillation(rate), codes, steps, 512, 0, work, teacher, identity)
        measured = {"one-step regression, 1 step": (regression, 1, "euler"),
                    "progressive distillation, 1 step": (rounds[1][0], 1, "euler"),
                    "progressive distillation, 4 steps": (rounds[4][0], 4, "euler"),
                    "consistency distillation, 1 step": (consistency, 1, "consistency"),
                    "consistency distillation, 4 steps": (consistency, 4, "consistency")}
        for name, (model, n, kind) in measured.items():
            rows.append({"student": name, "learning rate": rate,
                         "Fréchet distance (held out)": round(score(LatentGenerator(model, vae, standardiser, n,
                                                                                    kind)), 1)})
            print(rows[-1], flush=True)
    write(out, "tuning.csv", rows)
    for name in dict.fromkeys(r["student"] for r in rows):
        mine = [r for r in rows if r["student"] == name]
        best = min(mine, key=lambda r: r["Fréchet distance (held out)"])
        edge = best["learning rate"] in (min(rates), max(rates))
        print(f"{name}: best learning rate {best['learning rate']:g} ({best['Fréchet distance (held out)']})"
              f"{', at an edge of the grid' if edge else ''}")


def targets_part(run_dir: Path) -> None:
    result = DiffusionResult.load(RunDir(run_dir))
    teacher = {r.steps: r.frechet_distance for r in result.rows if r.method == "teacher (Euler)"}
    rows = []
    for method in dict.fromkeys(r.method for r in result.rows if r.seed is not None):
        for steps, bar in ((1, 1.1), (4, 1.05)):
            values = [r.frechet_distance for r in result.rows if r.method == method and r.steps == steps]
            if not values:
                continue
            mean, spread = statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0
            rows.append({"student": method, "steps": steps, "seeds": len(values),
                         "Fréchet distance": f"{mean:.1f} ± {spread:.1f}",
                         "vs teacher at 32": f"{mean / teacher[32]:.2f}x (target <= {bar}x: "
                                             f"{'met' if mean <= bar * teacher[32] else 'not met'})",
                         "teacher at same steps": f"{teacher[steps]:.1f}",
                         "better beyond 2 sd": "yes" if teacher[steps] - mean > 2 * spread and len(values) > 1
                         else "no"})
    print(markdown_table(rows))
    ms = result.milliseconds_per_image
    print(f"latents: {ms['teacher, 32 steps (latents)'] / ms['student, 1 step (latents)']:.1f}x faster at one step "
          f"(target >= 16x); end to end {ms['teacher, 32 steps + decoder'] / ms['student, 1 step + decoder']:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("teacher", "tuning", "targets"), default="targets")
    parser.add_argument("--samples", type=int, default=5_000)
    parser.add_argument("--rates", type=float, nargs="+", default=list(RATES))
    parser.add_argument("--run-dir", type=Path, default=project_root() / "runs" / "quick",
                        help="the run folder whose notebook 05 record --part targets reads (default runs/quick, what "
                             "make run writes)")
    parser.add_argument("--out", type=Path, default=project_root() / "runs" / "diffusion-distillation",
                        help="where the tables go (default runs/diffusion-distillation; the committed ones: --out "
                             "docs/results/diffusion)")
    parser.add_argument("--work", type=Path, default=None, help="checkpoints (default: a temporary folder)")
    args = parser.parse_args()
    if args.part == "targets":
        targets_part(args.run_dir)
        return
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        (teacher_part(args.samples, work, args.out) if args.part == "teacher"
         else tuning_part(args.samples, work, args.rates, args.out))


if __name__ == "__main__":
    main()
