"""Equal tuning for the students: every distillation objective and its scratch baseline searched on one grid.

GAN (``--family gan``, the default): each objective gets the same search: Adam's learning rate on one log grid
(1e-4 to 1e-1), and for the objectives that train a discriminator (output + adversarial, scratch) also its width
(the student's, 0.12, or the teacher's, 1); every configuration trains the `quick` profile's student (width 0.12,
sub-pixel upsampling, 1 epoch, batch 64, one seed) from the shipped GAN teacher, its learning rate cosine-annealed
to 0 (the scratch baseline too: ``GANScratch(anneal=True)``). The scratch recipe the course had before this search
(2e-4, no schedule, width-1 discriminator) is trained once beside the grid for reference (the dashed line).

VAE (``--family vae``): the distilled student and the scratch VAE, both at width 0.12 (``--width 0.25``: the `quick`
profile's VAE students) for the `quick` profile's 2 epochs (batch 256), on the same learning-rate grid, each with one
more setting on a grid of four values: the distilled student's share of decoder latents drawn from the teacher's
posteriors (0, 0.25, 0.5, 1; the rest from N(0, I)), the scratch VAE's KL weight beta (0.06, 0.125, 0.25, 1; 1 is the
ELBO). Each VAE is sampled from its own ex-post prior (``kdlib.course.generator_of``), as notebook 06 samples it.

Both train on the first 50,000 training images, and score each configuration by the Fréchet distance of 5,000
samples to the *last 10,000 training images*, held out from training, on the shipped ruler: the test set, on which
the course reports, plays no part in the choice. A diverged run (NaN loss) is reported as such.

Writes ``OUT/tuning[-vae].csv`` (``--out``, default ``runs/student-tuning``; the committed tables: ``--out docs/results/student-tuning``) and ``.png`` (one panel per objective) and prints, per
objective, the best configuration and whether it lies at an edge of the grid.

``--width W`` searches students of another width (the `full` profile's 0.25 and 0.5) and writes
``tuning[-vae]-width-W.csv`` and ``.png``; ``--epochs N`` trains every student N epochs (the `full` profile's
GAN students train 4, its VAE students 10) and writes ``...-epochs-N``; ``--init teacher`` searches the distilled GAN students cut from
the teacher (``kdlib.pruning``: its most important channels kept; ``--init teacher-random-channels``, as many drawn
at random, the control), the scratch GAN's points being those of the default search, and writes
``tuning-init-INIT...``. ``--confirm 0 1 2`` trains each objective's best configuration again
with those seeds and reports the mean and standard deviation (in ``...-best.csv``, beside the best of the grid).

``--critic-rates 1e-4 3e-4 ...`` searches, for every objective that trains a discriminator (scratch, output +
adversarial, the pruning control, the remedies), the discriminator's own learning rate on that grid, crossed with the
generator's (``--rates``), at the discriminator width every earlier search chose (the teacher's, 1); it writes
``...-critic-rates-...``. The scratch GAN's discriminator otherwise trains at its generator's rate.

``--kl-weights 0.03 0.06 ...`` gives the scratch VAE's KL weights another grid (the default: 0.06, 0.125, 0.25, 1) and
writes ``...-beta-0.03-0.06-...``.

``--objectives NAME ...`` searches only those objectives (``...-only-NAME...``), e.g. a long run of two of them;
``--device cuda`` trains on a GPU. The teacher's own samples are scored the same way, as the floor a student aims at.

Run: ``python bench/student_tuning.py [--family gan|vae] [--rates 1e-4 3e-4 1e-3 3e-3 1e-2 3e-2 1e-1] [--seed 0]
[--width 0.12] [--epochs N] [--init random|teacher|teacher-random-channels] [--confirm 0 1 2] [--objectives NAME ...]
[--critic-rates R ...] [--kl-weights B ...] [--device cpu]``
"""

from __future__ import annotations

import argparse
import csv
import statistics
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from kdlib import (GANScratch, OutputAdversarial, OutputDistillation, OutputFeatures, Student, VAEDistillation,
                   VAEScratch, generated, load, markdown_table, sampler, scale, train_student)  # noqa: E402
from kdlib.distill import AnnealToELBO, AnnealToGAN, OutputFeaturesAdversarial, PruneFinetune  # noqa: E402
from kdlib.train import DivergedError  # noqa: E402
from kdlib.course import generator_of, shipped_ruler, shipped_teacher  # noqa: E402
from kdlib.data import Split  # noqa: E402
from kdlib.course.config import profile_values  # noqa: E402
from kdlib.metrics import frechet_distance  # noqa: E402
from kdlib.plots import objective_label  # noqa: E402
from kdlib.progress import progress  # noqa: E402
from kdlib.store import project_root  # noqa: E402

QUICK = profile_values("quick")

DATASET, TRAIN, SAMPLES = "fashion-mnist", 50_000, 5_000
WIDTH, UPSAMPLING = QUICK["student_widths"][0], QUICK["gan_student_upsampling"]
POSTERIOR_FRACTIONS, KL_WEIGHTS = (0.0, 0.25, 0.5, 1.0), (0.06, 0.125, 0.25, 1.0)
SETTING = {"gan": "discriminator width", "vae": "setting"}  # the name of the second column searched


def held_out_scorer(device: torch.device | str = "cpu") -> tuple[Split, Callable[[torch.nn.Module], float]]:
    """The training set and ``distance_of(model)``: the Fréchet distance of ``SAMPLES`` samples of ``model`` (seed 0;
    a VAE from its ex-post prior) to the last training images, held out from every student, on the shipped ruler."""
    measure, _ = shipped_ruler(DATASET, device=device, samples=SAMPLES)
    train = load(DATASET, "train")
    held_out, _ = measure.net.embed(scale(train.images[TRAIN:]).to(device))

    def distance_of(model: torch.nn.Module) -> float:
        generator = generator_of(model, DATASET)
        features, _ = measure.net.embed(generated(sampler(generator, generator.latent_dim, device, seed=0), SAMPLES))
        return frechet_distance(features, held_out)
    return train, distance_of


def configurations(family: str, rates: list[float], width: float, init: str = "random",
                   kl_weights: tuple[float, ...] = KL_WEIGHTS,
                   critic_rates: list[float] | None = None) -> list[tuple[str, float | str | None, object]]:
    """(objective, its second searched setting (GAN: discriminator width, the student's or the teacher's, or None),
    objective object) per point; with an ``init`` cut from the teacher the distilled GAN objectives, the remedies
    (``output_features_adversarial``, ``anneal_to_gan``) and the pruning control (``prune_finetune``: the scratch
    GAN's loss from the cut start, searched as scratch is), not the scratch GAN,
    which starts from random weights whatever the others do: its points are those of the search with
    ``init='random'``). With ``critic_rates`` the second setting of the objectives that train a discriminator is
    its own learning rate instead of its width (the teacher's width, 1, the one every earlier search chose)."""
    if family == "vae":
        return [point for rate in rates for point in
                [("distilled", f"posterior fraction {share:g}", VAEDistillation(rate, posterior_fraction=share))
                 for share in POSTERIOR_FRACTIONS] +
                [("scratch", f"beta {beta:g}", VAEScratch(rate, kl_weight=beta)) for beta in kl_weights] +
                [("anneal_to_elbo", "handover 0.5", AnnealToELBO(rate))]]  # the remedy, scratch's beta after it
    points = []
    weight = QUICK["gan_output_adversarial_weight"]
    # The second setting of the critic's objectives: its width (rate: the objective's default), or its rate (width 1).
    critics = ([(discriminator, {"discriminator_width": discriminator}) for discriminator in (width, 1.0)]
               if critic_rates is None else
               [(critic, {"discriminator_width": 1.0, "discriminator_learning_rate": critic}) for critic in critic_rates])
    for rate in rates:  # GAN
        points.append(("output", None, OutputDistillation(learning_rate=rate)))
        points.append(("output_features", None, OutputFeatures(learning_rate=rate, weight=QUICK["gan_output_features_weight"])))
        for second, critic in critics:
            points.append(("output_adversarial", second, OutputAdversarial(learning_rate=rate, weight=weight, **critic)))
            if init == "random":
                points.append(("scratch", second, GANScratch(learning_rate=rate, anneal=True, **critic)))
            else:  # the pruning control: the scratch baseline's loss and search, from the distilled students' start
                points.append(("prune_finetune", second, PruneFinetune(learning_rate=rate, **critic)))
                for remedy in (OutputFeaturesAdversarial, AnnealToGAN):  # the remedies, searched as the others
                    points.append((remedy.name, second, remedy(learning_rate=rate, weight=weight, **critic)))
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=("gan", "vae"), default="gan")
    parser.add_argument("--rates", type=float, nargs="+", default=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--confirm", type=int, nargs="*", default=[],
                        help="seeds to train each objective's best configuration with again (mean ± sd printed and "
                             "written to tuning[-vae][-width-W]-best.csv)")
    parser.add_argument("--epochs", type=int, help="every student's epochs (default: the quick profile's); another "
                                                   "number writes tuning[-vae][-width-W]-epochs-N")
    parser.add_argument("--width", type=float, default=WIDTH,
                        help="the students' width (default: the quick profile's); another width writes "
                             "tuning[-vae]-width-W")
    parser.add_argument("--init", choices=Student.INITS, default="random",
                        help="where the distilled GAN students' weights start (teacher: cut from the teacher, its "
                             "most important channels; teacher-random-channels: as many drawn at random; "
                             "kdlib.pruning); either searches only them and writes tuning-init-INIT...")
    parser.add_argument("--objectives", nargs="+", metavar="NAME",
                        help="search only these objectives (e.g. output_adversarial scratch); writes ...-only-NAME-...")
    parser.add_argument("--critic-rates", type=float, nargs="+", metavar="RATE",
                        help="search the discriminator's own learning rate on this grid (width 1) instead of its "
                             "width, for every objective that trains one; writes ...-critic-rates-...")
    parser.add_argument("--kl-weights", type=float, nargs="+", default=list(KL_WEIGHTS),
                        help="the scratch VAE's KL weights beta (--family vae)")
    parser.add_argument("--device", default="cpu", help="where the students train (cpu | cuda)")
    parser.add_argument("--out", type=Path, default=project_root() / "runs" / "student-tuning",
                        help="where the tables and figures go (default runs/student-tuning; the committed ones: "
                             "--out docs/results/student-tuning)")
    args = parser.parse_args()
    if args.init != "random" and args.family != "gan":
        parser.error(f"--init {args.init} is for the GAN students")
    if args.critic_rates and args.family != "gan":
        parser.error("--critic-rates is for the GAN students (the VAE trains no discriminator)")
    if len(args.confirm) == 1:
        parser.error("--confirm needs at least two seeds to give a spread")
    family = args.family
    teacher, provenance = shipped_teacher(family, DATASET, args.device)
    train, distance_of = held_out_scorer(args.device)
    checkpoints = project_root() / "runs" / "bench-student-tuning" / "checkpoints"
    identity = {"dataset": DATASET, "train_size": TRAIN, "teacher": provenance.checkpoint.sha256}
    quick_epochs, batch = ((QUICK["gan_student_epochs"], QUICK["gan_batch_size"]) if family == "gan"
                           else (QUICK["vae_student_epochs"], QUICK["batch_size"]))
    epochs = args.epochs or quick_epochs
    upsampling = UPSAMPLING if family == "gan" else "transposed"
    points = configurations(family, args.rates, args.width, args.init, tuple(args.kl_weights), args.critic_rates)
    second = "critic learning rate" if args.critic_rates else SETTING[family]  # the second column searched
    if family == "gan" and args.init == "random" and not args.critic_rates:
        points.append(("scratch, the previous recipe", 1.0, GANScratch(learning_rate=2e-4, anneal=False)))
    if args.objectives:
        unknown = set(args.objectives) - {name for name, _, _ in points}
        if unknown:
            parser.error(f"--objectives: no objective {sorted(unknown)} here; searched: "
                         f"{sorted({name for name, _, _ in points})}")
        points = [point for point in points if point[0] in args.objectives]

    def scored(objective: object, seed: int) -> tuple[float, float]:
        """(Fréchet distance to the held-out images, training seconds) of one student; NaN for both if diverged."""
        try:
            student = Student(objective, args.width, upsampling, args.init if objective.name != "scratch" else "random")
            model, trained = train_student(student, teacher, train.images[:TRAIN], train.labels[:TRAIN], epochs, batch,
                                           seed, checkpoints, identity, args.device)
        except DivergedError:
            return float("nan"), float("nan")
        return distance_of(model), trained.history["seconds"]

    rows, objectives = [], []
    for name, width, objective in progress(points, desc="configurations"):
        distance, seconds = scored(objective, args.seed)
        rows.append({"objective": name, "learning rate": objective.learning_rate,
                     second: "-" if width is None else width,
                     "Fréchet distance (held-out train)": distance, "training (s)": seconds})
        objectives.append(objective)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = (("tuning" if family == "gan" else "tuning-vae") + ("" if args.init == "random" else f"-init-{args.init}")
            + ("" if args.width == WIDTH else f"-width-{args.width:g}")
            + ("" if epochs == quick_epochs else f"-epochs-{epochs}")
            + ("" if tuple(args.kl_weights) == KL_WEIGHTS else "-beta-" + "-".join(f"{b:g}" for b in args.kl_weights))
            + ("" if not args.critic_rates else "-critic-rates-" + "-".join(f"{r:g}" for r in args.critic_rates))
            + ("" if not args.objectives else "-only-" + "-".join(args.objectives)))
    with open(args.out / f"{stem}.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    searched = [name for name in dict.fromkeys(r["objective"] for r in rows) if not name.startswith("scratch, the previous")]
    figure, axes = plt.subplots(1, len(searched), figsize=(4 * len(searched), 3.2), sharey=True, squeeze=False)
    axes = axes[0]
    summary = []
    for ax, name in zip(axes, searched):
        mine = [r for r in rows if r["objective"] == name]
        for width in dict.fromkeys(r[second] for r in mine):
            line = sorted((r["learning rate"], r["Fréchet distance (held-out train)"]) for r in mine
                          if r[second] == width)
            ax.plot(*zip(*line), marker="o", label="no discriminator" if width == "-" else
                    f"discriminator's rate {width:g}" if args.critic_rates else
                    f"discriminator width {width:g}" if family == "gan" else width)
        best = min((r for r in mine if r["Fréchet distance (held-out train)"] == r["Fréchet distance (held-out train)"]),
                   key=lambda r: r["Fréchet distance (held-out train)"])
        edge = best["learning rate"] in (min(args.rates), max(args.rates)) or (
            args.critic_rates and best[second] in (min(args.critic_rates), max(args.critic_rates))) or (  # a share of 0 or 1 is no edge
            name == "scratch" and family == "vae" and best[SETTING[family]] in {f"beta {b:g}" for b in
                                                                              (min(args.kl_weights), max(args.kl_weights))})
        summary.append({"objective": name, "best learning rate": best["learning rate"],
                        second: best[second],
                        "Fréchet distance (held-out train)": best["Fréchet distance (held-out train)"],
                        "at an edge of the grid": "yes" if edge else "no"})
        if args.confirm:  # the best configuration again with each seed: is its lead more than seed noise?
            distances = [scored(objectives[rows.index(best)], seed)[0] for seed in args.confirm]
            summary[-1] |= {f"over seeds {' '.join(map(str, args.confirm))}":
                            f"{statistics.mean(distances):.1f} ± {statistics.stdev(distances):.1f}",
                            "per seed": ", ".join(f"{d:.1f}" for d in distances)}
        for row in mine:
            if row["Fréchet distance (held-out train)"] != row["Fréchet distance (held-out train)"]:  # NaN: diverged
                ax.annotate("diverged", (row["learning rate"], 0.97), xycoords=("data", "axes fraction"), ha="center",
                            va="top", fontsize=7, color="tab:red")
        previous = next((r for r in rows if r["objective"].startswith("scratch, the previous")), None)
        if name == "scratch" and previous:
            ax.axhline(previous["Fréchet distance (held-out train)"], color="gray", linestyle="--", linewidth=1,
                       label="previous recipe (2e-4, no schedule)")
        ax.set_xscale("log")
        finite = [r["Fréchet distance (held-out train)"] for r in mine if r["Fréchet distance (held-out train)"] > 0]
        if finite and max(finite) > 5 * min(finite):  # a broken run scores in the thousands: keep the optimum readable
            ax.set_yscale("log")
        ax.set_xlim(min(args.rates) / 1.5, max(args.rates) * 1.5)  # the whole grid, diverged points included
        ax.set_title(objective_label(family, name), fontsize=10)
        ax.set_xlabel("the generator's learning rate" if args.critic_rates else "learning rate")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("Fréchet distance to held-out train images")
    figure.tight_layout()
    figure.savefig(args.out / f"{stem}.png", dpi=120, bbox_inches="tight")
    print(f"{family.upper()} students (width {args.width:g}, {upsampling}, {args.init} initial weights) of the shipped "
          f"teacher, {epochs} epoch(s) on "
          f"the first {TRAIN:,} training images, batch {batch}, seed {args.seed}; Fréchet distance of {SAMPLES:,} "
          f"samples to the last {len(train) - TRAIN:,} training images (shipped ruler); the teacher's samples score "
          f"{distance_of(teacher):.1f} there\n")
    print(markdown_table(rows))
    print()
    print(markdown_table(summary))
    with open(args.out / f"{stem}-best.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    print(f"\nwrote {args.out / (stem + '.csv')}, {args.out / (stem + '-best.csv')} and {args.out / (stem + '.png')}")


if __name__ == "__main__":
    main()
