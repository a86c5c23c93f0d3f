"""Which guard keeps the VAE students' learning rate stable: a lower rate, gradient-norm clipping, or a warm-up?

The distilled VAE of the `quick` profile (width 0.25, two epochs, rate 2e-2) diverged on an AVX2-only CPU (issue 51),
and the rate search had found 3e-2 diverging: the chosen rate had no margin. This script trains the student with
each guard, in a loop written out here (the objective's own losses, Adam, ``torch.nn.utils.clip_grad_norm_`` on
all of the student's parameters, a linear warm-up of the rate over a share of the steps), and writes one line per
run to ``OUT/PART.jsonl``:

- ``--part stability``: seeds 0 to 9 at the rates given, with AVX2 kernels when ``ATEN_CPU_CAPABILITY=avx2`` (and
  ``ONEDNN_MAX_CPU_ISA=AVX2``, ``MKL_ENABLE_INSTRUCTIONS=AVX2``) are set: finished, or the epoch and step of the
  divergence, with the share of steps clipped and the gradient norm's median and 99th percentile;
- ``--part quality``: seeds 0, 1 and 2, scored as ``bench/student_tuning.py`` scores (the Fréchet distance of 5,000
  samples from the student's ex-post prior to the last 10,000 training images, which no student saw).

``--student scratch`` runs the same for the scratch VAE (reconstruction + 0.125 KL). A guard is written
``RATE:CLIP:WARM`` (CLIP 0: none; WARM: the share of the steps over which the rate rises linearly, 0: none).
``--part table`` prints both parts' tables from ``OUT``, one row per student and guard. The committed runs:
``--out docs/results/stability/guard``.

Run: ``python bench/vae_rate_guard.py --part stability --guards 2e-2:0:0 2e-2:1000:0 2e-2:300:0 3e-2:300:0
[--student distilled|scratch] [--threads 2] [--out runs/vae-rate-guard]``
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

from kdlib.batches import Batches
from kdlib.course import shipped_teacher
from kdlib.distill import Student, VAEDistillation, VAEScratch
from kdlib.losses import vae_losses
from kdlib.store import project_root, settings_digest
from kdlib.tables import markdown_table

sys.path.insert(0, str(Path(__file__).parent))
from student_tuning import TRAIN, held_out_scorer  # noqa: E402

WIDTH, EPOCHS, BATCH, SCRATCH_BETA = 0.25, 2, 256, 0.125


def losses_of(name: str, objective: VAEDistillation | VAEScratch, model: torch.nn.Module, teacher: torch.nn.Module,
              images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The student's loss terms for a batch: the distilled student's decoder and encoder terms, or the scratch VAE's
    reconstruction and weighted KL."""
    if name == "distilled":
        return objective.losses(model, teacher, images)[0]
    logits, mean, log_variance = model(images)
    reconstruction, kl = vae_losses(logits, images, mean, log_variance)
    return {"reconstruction": reconstruction, "KL": SCRATCH_BETA * kl}


def train(name: str, teacher: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, rate: float, clip: float,
          warm: float, seed: int) -> tuple[torch.nn.Module, dict]:
    """The student trained with one guard from ``train_student``'s start for ``seed``; the model and what happened."""
    student = Student(VAEDistillation(rate) if name == "distilled" else VAEScratch(rate), WIDTH)
    torch.manual_seed(int(settings_digest({"family": "vae", "width": WIDTH, "seed": seed}), 16) % 2**31)
    model = student.build(teacher.latent_dim)
    real = Batches(images, labels, BATCH, seed=seed, drop_last=True, value_range=(0.0, 1.0))
    optimizer = torch.optim.Adam(model.parameters(), lr=rate)
    total, steps, clipped, norms, outcome = EPOCHS * len(real), 0, 0, [], "finished"
    teacher.eval()
    for epoch in range(EPOCHS):
        model.train()
        for index, (batch, _) in enumerate(real.epoch(epoch)):
            loss = sum(losses_of(name, student.objective, model, teacher, batch).values())
            if not torch.isfinite(loss):
                outcome = f"diverged at epoch {epoch}, step {index}"
                break
            optimizer.zero_grad()
            loss.backward()
            steps += 1
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else math.inf).item()
            norms.append(norm)
            clipped += clip > 0 and norm > clip
            if warm > 0:
                optimizer.param_groups[0]["lr"] = rate * min(1.0, steps / (warm * total))
            optimizer.step()
        if outcome != "finished":
            break
    finite = sorted(n for n in norms if math.isfinite(n))
    return model.eval(), {"outcome": outcome, "clipped share": round(clipped / max(steps, 1), 4),
                          "median norm": round(statistics.median(finite), 1),
                          "99th percentile norm": round(finite[int(0.99 * len(finite))], 1)}


def tables(folder: Path) -> str:
    """The stability and quality tables of the runs in ``folder``: one row per student and guard."""
    out = []
    for part in ("stability", "quality"):
        path = folder / f"{part}.jsonl"
        if not path.is_file():
            continue
        runs = [json.loads(line) for line in path.read_text().splitlines()]
        guards = sorted({(r["student"], r["rate"], r["clip"], r["warm-up share"]) for r in runs},
                        key=lambda g: (g[0], g[1], -g[2] if g[2] else -math.inf, g[3]))
        rows = []
        for student, rate, clip, warm in guards:
            mine = [r for r in runs if (r["student"], r["rate"], r["clip"], r["warm-up share"]) == (student, rate, clip, warm)]
            row = {"student": student, "learning rate": f"{rate:g}", "clipped at": f"{clip:g}" if clip else "no",
                   "warm-up": f"{warm:.0%} of the steps" if warm else "no",
                   "kernels, threads": ", ".join(sorted({f"{r['kernels']}, {r['threads']}" for r in mine})),
                   "seeds": len(mine), "finished": sum(r["outcome"] == "finished" for r in mine)}
            if part == "stability":
                row["steps clipped (mean)"] = f"{statistics.mean(r['clipped share'] for r in mine):.1%}" if clip else "-"
                row["diverged (seed: where)"] = "; ".join(f"{r['seed']}: {r['outcome'].removeprefix('diverged at ')}"
                                                          for r in mine if r["outcome"] != "finished")
            else:
                scores = [r["Fréchet distance"] for r in mine if r["Fréchet distance"] is not None]
                row["Fréchet distance, held-out images"] = (f"{statistics.mean(scores):.1f} ± {statistics.stdev(scores):.1f}"
                                                            if len(scores) > 1 else "-")
                row["per seed"] = ", ".join(f"{r['Fréchet distance']:.1f}" if r["Fréchet distance"] is not None
                                            else "diverged" for r in mine)
            rows.append(row)
        out.append(f"{part}:\n\n" + markdown_table(rows))
    return "\n\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["stability", "quality", "table"], required=True)
    parser.add_argument("--guards", nargs="+", default=[], help="RATE:CLIP:WARM, e.g. 2e-2:300:0")
    parser.add_argument("--student", choices=["distilled", "scratch"], default="distilled")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=project_root() / "runs" / "vae-rate-guard")
    args = parser.parse_args()
    if args.part == "table":
        print(tables(args.out))
        return
    if not args.guards:
        parser.error("give the guards to train with: --guards RATE:CLIP:WARM ...")
    torch.set_num_threads(args.threads)
    teacher, _ = shipped_teacher("vae", "fashion-mnist")
    if args.part == "quality":
        train_set, distance_of = held_out_scorer()
        images, labels, seeds = train_set.images[:TRAIN], train_set.labels[:TRAIN], range(3)
    else:
        from kdlib import load
        train_set = load("fashion-mnist", "train")
        images, labels, seeds = train_set.images, train_set.labels, range(10)
    args.out.mkdir(parents=True, exist_ok=True)
    for guard in args.guards:
        rate, clip, warm = map(float, guard.split(":"))
        for seed in seeds:
            start = time.perf_counter()
            model, result = train(args.student, teacher, images, labels, rate, clip, warm, seed)
            if args.part == "quality":
                result["Fréchet distance"] = round(distance_of(model), 1) if result["outcome"] == "finished" else None
            line = {"student": args.student, "rate": rate, "clip": clip, "warm-up share": warm, "seed": seed,
                    "threads": args.threads, "kernels": torch.backends.cpu.get_cpu_capability(), **result,
                    "seconds": round(time.perf_counter() - start, 1)}
            with (args.out / f"{args.part}.jsonl").open("a") as file:
                file.write(json.dumps(line) + "\n")
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
