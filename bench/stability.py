"""Are the students' learning rates stable with a margin? Every student of a profile, at its rate, over many seeds,
thread counts and CPU instruction sets, with the step where any run diverged.

A seeded run repeats exactly only on one machine and thread count. Another CPU, or another number of torch threads,
adds the same numbers in another order, and a learning rate near the edge of stability can then fall over: the
distilled VAE of ``make run`` diverged on an AVX2-only AMD EPYC and finished on an Intel Xeon (issue 51). This
script trains every student of a profile for the profile's budget: the GAN students of every objective (the pruning
control and the remedies included) and the VAE students at each width, notebook 01's classifier students and
notebook 05's flow students, from the shipped teachers, with seeds 0 to N-1 at each thread count. ``--isa avx2``
also limits torch's kernels to AVX2 (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``, ``MKL_ENABLE_INSTRUCTIONS``):
the kernels an AVX2-only CPU runs, which repeat that divergence step for step on an AVX-512 machine. Nothing is
evaluated: a run either finishes or stops with ``DivergedError``.

Each run is one line of ``OUT/runs/*.jsonl``, so an interrupted grid resumes where it stopped. The table, one row
per profile, student, width and rate, goes to ``OUT/stability.csv`` and ``OUT/stability.md``.

Run: ``python bench/stability.py --profile quick [--seeds 10] [--threads 1 2] [--isa native avx2]
[--kinds gan vae classifier flow] [--out runs/stability]``. The committed table: ``--out docs/results/stability``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch

from kdlib import OBJECTIVES, Student, hard_labels, load, predict_logits, scale, soft_labels, train_classifier
from kdlib.classifiers import PIXELS, STUDENT_MLP
from kdlib.course.config import PROFILES, Config, profile_values
from kdlib.course.records import RunDir
from kdlib.course.shipped import flow_space, load_shipped
from kdlib.diffusion import ConsistencyDistillation, OneStepRegression, progressive_distillation, train_latent
from kdlib.distill import train_student
from kdlib.store import project_root
from kdlib.tables import markdown_table
from kdlib.train import DivergedError

DATASET = "fashion-mnist"
KINDS = ("gan", "vae", "classifier", "flow")
# The kernels of an AVX2-only CPU, chosen on any x86 CPU that has AVX2: torch's own, oneDNN's and MKL's.
ISAS = {"native": {}, "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                               "MKL_ENABLE_INSTRUCTIONS": "AVX2"}}
HIGHER_T = 4.0  # notebook 01 trains a student at this temperature beside the profile's when the profile's is lower


@dataclasses.dataclass(frozen=True)
class Case:
    """One student of a profile at its learning rate: what a row of the table is about."""

    profile: str
    kind: str  # "gan", "vae", "classifier" or "flow"
    student: str  # the objective's name (GAN, VAE), notebook 01's or notebook 05's name of the student
    width: float | None  # of a GAN or VAE student; None for the others
    rate: float
    budget: str  # in words: "1 epoch(s) of 937 steps"
    factor: float = 1.0  # the rate is the profile's times this: 1, or above 1 to check the margin

    @property
    def title(self) -> str:
        """The student in words, as the table shows it: "GAN distilled: output + adversarial", "classifier labels"."""
        if self.kind in ("gan", "vae"):
            return f"{self.kind.upper()} {OBJECTIVES[self.kind][self.student].title}"
        return f"{self.kind} {self.student}"

    @property
    def label(self) -> str:
        width = "" if self.width is None else f" {self.width:g}"
        return f"{self.profile} {self.kind}{width} {self.student} {self.rate:g}" + (
            f" (x{self.factor:g})" if self.factor != 1 else "")


def cases(profile: str, kinds: tuple[str, ...] = KINDS, factor: float = 1.0) -> list[Case]:
    """Every student the profile trains, with its rate (times ``factor``): each GAN and VAE objective (control and
    remedies included, as the budget curve trains them) at each width, notebook 01's students, notebook 05's."""
    return [dataclasses.replace(case, rate=case.rate * factor, factor=factor) for case in _cases(profile, kinds)]


def _cases(profile: str, kinds: tuple[str, ...]) -> list[Case]:
    values = profile_values(profile, DATASET)
    train_size = values["train_size"] or 60_000
    found = []
    for family, widths, epochs, batch in (("gan", values["student_widths"], values["gan_student_epochs"],
                                           values["gan_batch_size"]),
                                          ("vae", values["vae_student_widths"], values["vae_student_epochs"],
                                           values["batch_size"])):
        if family in kinds:
            budget = f"{epochs} epoch(s) of {train_size // batch:,} steps"
            found += [Case(profile, family, name, width, values[f"{family}_{name}_learning_rate"][index], budget)
                      for name in OBJECTIVES[family] for index, width in enumerate(widths)]
    if "classifier" in kinds:
        steps = -(-(values["student_train_size"] or train_size) // values["batch_size"]) * values["student_epochs"]
        temperatures = [values["temperature"]] + ([HIGHER_T] if values["temperature"] < HIGHER_T else [])
        found += [Case(profile, "classifier", name, None, values["learning_rate"], f"{steps:,} steps")
                  for name in ["labels", *(f"distilled T={t:g}" for t in temperatures)]]
    if "flow" in kinds:
        steps = values["latent_student_steps"]
        found += [Case(profile, "flow", "one-step regression", None, values["regression_learning_rate"], f"{steps:,} steps"),
                  Case(profile, "flow", "progressive distillation", None, values["progressive_learning_rate"],
                       f"5 rounds of {steps // 5:,} steps"),
                  Case(profile, "flow", "consistency distillation", None, values["consistency_learning_rate"],
                       f"{steps:,} steps")]
    return found


@cache
def teacher(name: str) -> torch.nn.Module:
    return load_shipped(name)[0]


@cache
def training_set() -> tuple[torch.Tensor, torch.Tensor]:
    train = load(DATASET, "train")
    return train.images, train.labels


@cache
def flow_codes() -> torch.Tensor:
    return flow_space(teacher(f"vae-{DATASET}"), DATASET)[0]


def train(case: Case, seed: int, work: Path) -> None:
    """Train ``case``'s student with ``seed`` into the folder ``work``, as its notebook does; raises
    ``DivergedError`` when a loss becomes NaN or infinite or blows up (``kdlib.train.check_blowup``)."""
    values = profile_values(case.profile, DATASET)
    images, labels = training_set()
    images, labels = images[:values["train_size"]], labels[:values["train_size"]]
    if case.kind in ("gan", "vae"):
        settings = Config(case.profile, torch.device("cpu"), RunDir(work), values)  # the notebooks' objectives
        objective = dataclasses.replace(settings.objective(case.kind, case.student, case.width), learning_rate=case.rate)
        cut = case.kind == "gan" and case.student != "scratch" and values["gan_student_init"] != "random"
        student = Student(objective, case.width, values["gan_student_upsampling"] if case.kind == "gan" else
                          "transposed", values["gan_student_init"] if cut else "random")
        epochs, batch = ((values["gan_student_epochs"], values["gan_batch_size"]) if case.kind == "gan"
                         else (values["vae_student_epochs"], values["batch_size"]))
        train_student(student, teacher(f"{case.kind}-{DATASET}"), images, labels, epochs, batch, seed, work)
    elif case.kind == "classifier":
        few = images[:values["student_train_size"]]
        target = labels[:len(few)]
        if case.student == "labels":
            loss = hard_labels(target)
        else:
            logits = predict_logits(teacher(f"classifier-{DATASET}"), scale(few, PIXELS))
            loss = soft_labels(logits, target, float(case.student.removeprefix("distilled T=")), values["alpha"])
        train_classifier(case.student, STUDENT_MLP, few, loss, values["student_epochs"], work, dataset=DATASET,
                         batch_size=values["batch_size"], learning_rate=case.rate, seed=seed)
    else:
        flow, codes, steps = teacher(f"flow-{DATASET}"), flow_codes(), values["latent_student_steps"]
        if case.student == "one-step regression":
            train_latent(OneStepRegression(case.rate, pairs=values["regression_pairs"]), codes, steps, 512, seed,
                         work, flow)
        elif case.student == "progressive distillation":
            progressive_distillation(flow, codes, steps // 5, 512, seed, work, learning_rate=case.rate)
        else:
            train_latent(ConsistencyDistillation(case.rate), codes, steps, 512, seed, work, flow)


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of the grid and how it ended."""

    case: Case
    seed: int
    threads: int
    isa: str
    finished: bool
    where: str  # "" when finished, else "epoch E, step S"
    seconds: float
    capability: str  # the kernels torch ran: torch.backends.cpu.get_cpu_capability(), e.g. "AVX2" or "AVX512"

    def key(self) -> tuple:
        return self.case, self.seed, self.threads, self.isa


def read_runs(folder: Path) -> list[Run]:
    """Every run recorded under ``folder/runs``."""
    runs = []
    for path in sorted((folder / "runs").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            data = json.loads(line)
            runs.append(Run(**data | {"case": Case(**data["case"])}))
    return runs


def work(args: argparse.Namespace) -> None:
    """A worker: the runs of its share of the grid (at its thread count and instruction set) not yet recorded."""
    torch.set_num_threads(args.worker_threads)
    os.environ["KDLIB_PROGRESS"] = "0"
    capability = torch.backends.cpu.get_cpu_capability()
    if args.worker_isa == "avx2" and capability != "AVX2":
        sys.exit(f"asked for AVX2 kernels, but torch runs {capability} ones: this CPU has no AVX2")
    done = {run.key() for run in read_runs(args.out)}
    jobs = [(case, seed) for case in grid(args) for seed in range(args.seeds)
            if (case, seed, args.worker_threads, args.worker_isa) not in done]
    mine = jobs[args.worker_shard::args.worker_shards]
    log = args.out / "runs" / f"threads-{args.worker_threads}-{args.worker_isa}-{args.worker_shard}.jsonl"
    for case, seed in mine:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            try:
                train(case, seed, Path(folder))
                finished, where = True, ""
            except DivergedError as error:
                finished, where = False, re.search(r"loss became (\S+ at epoch \d+, step \d+)", str(error)).group(1)
        run = Run(case, seed, args.worker_threads, args.worker_isa, finished, where,
                  round(time.perf_counter() - start, 1), capability)
        with log.open("a") as file:
            file.write(json.dumps(dataclasses.asdict(run)) + "\n")
        print(f"{case.label} seed {seed}, {run.threads} thread(s), {run.isa}: "
              f"{'finished' if finished else 'DIVERGED, ' + where} ({run.seconds:.0f} s)", flush=True)


def kernels(isa: str) -> dict[str, str]:
    """This process's environment with torch's kernels set to ``isa``'s (any other choice of kernels removed)."""
    chosen = {key: value for key, value in os.environ.items() if key not in ISAS["avx2"]}
    return chosen | ISAS[isa]


def grid(args: argparse.Namespace) -> list[Case]:
    chosen = [case for profile in args.profile for factor in args.rate_factors
              for case in cases(profile, tuple(args.kinds), factor)]
    return [case for case in chosen if not args.students or case.student in args.students]


def table(runs: list[Run]) -> list[dict]:
    """One row per case that has runs, in the order of ``cases`` (profiles as ``PROFILES`` lists them): its runs, how
    many finished, and the seed, threads, kernels and step of each divergence."""
    listed = [(case.profile, case.kind, case.student, case.width) for p in PROFILES for case in _cases(p, KINDS)]

    def order(case: Case) -> tuple:  # as the profiles list their students, each rate before its margin checks
        student = (case.profile, case.kind, case.student, case.width)
        return (listed.index(student) if student in listed else len(listed), case.factor, case.rate)
    rows = []
    for case in sorted({run.case for run in runs}, key=order):
        mine = [run for run in runs if run.case == case]
        diverged = [run for run in mine if not run.finished]
        rows.append({"profile": case.profile, "student": case.title, "width": "" if case.width is None else f"{case.width:g}",
                     "learning rate": f"{case.rate:g}" + (f" (x{case.factor:g})" if case.factor != 1 else ""),
                     "budget": case.budget,
                     "seeds": len({run.seed for run in mine}), "threads": " ".join(sorted({str(r.threads) for r in mine})),
                     "kernels": " ".join(sorted({run.capability for run in mine})), "runs": len(mine),
                     "finished": len(mine) - len(diverged),
                     "diverged (seed, threads, kernels: where)": "; ".join(
                         f"{r.seed}, {r.threads}, {r.capability}: {r.where}" for r in diverged)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", nargs="+", default=["quick"], choices=["smoke", "quick", "full"])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 to N-1 (default 10)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts (default 1 2)")
    parser.add_argument("--isa", nargs="+", default=["native"], choices=list(ISAS),
                        help="kernels: the CPU's own ('native') or AVX2's ('avx2'); default native")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--students", nargs="*", default=[], help="only these students (objective names)")
    parser.add_argument("--rate-factors", type=float, nargs="+", default=[1.0],
                        help="train each student at its rate times each factor: 1 (the default), and e.g. 1.5 or 3, "
                             "one step up the rate search's grid, to check the margin")
    parser.add_argument("--out", type=Path, default=project_root() / "runs" / "stability",
                        help="folder of the runs and the table (default runs/stability)")
    for name in ("threads", "isa", "shard", "shards"):  # how the script starts its own workers
        parser.add_argument(f"--worker-{name}", type=int if name != "isa" else str, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seeds < 1 or min(args.threads) < 1:
        parser.error("--seeds and --threads must be at least 1")
    if args.worker_threads is not None:
        work(args)
        return
    (args.out / "runs").mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    for isa in args.isa:
        for threads in args.threads:
            shards = max(1, cores // threads)  # as many workers as the cores hold at this thread count
            workers = [subprocess.Popen([sys.executable, __file__, *sys.argv[1:], "--worker-threads", str(threads),
                                         "--worker-isa", isa, "--worker-shard", str(k), "--worker-shards", str(shards)],
                                        env=kernels(isa) | {"OMP_NUM_THREADS": str(threads)})
                       for k in range(shards)]
            if any(worker.wait() for worker in workers):
                sys.exit(f"a worker at {threads} thread(s), {isa} kernels failed: see its output above")
    rows = table(read_runs(args.out))
    with (args.out / "stability.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "stability.md").write_text(markdown_table(rows) + "\n")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
