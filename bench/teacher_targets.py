"""Issue 14's targets for the shipped rulers and teachers, measured and printed.

For each shipped ruler: its test accuracy against the target, and the share of real
test images it recognises (probability >= 0.9 for one class). For each shipped
classifier teacher: its test errors. For notebook 01's run of each run folder given:
the students' mean test errors over the seeds, their spread, and the targets (the
distilled student ahead of the student on labels by more than the spread; on MNIST in
the `full` profile, at least 40% fewer errors). For the teachers of the
run folders given: Fréchet distance, precision, recall, the recognisable share of
10,000 samples divided by the real images' share, and the range of class shares,
all on the shipped ruler of the run's data set, each teacher sampled as the course
samples it today (a VAE from its ex-post prior: ``kdlib.course.generator_of``), beside the targets a shipped teacher
must meet (its Fréchet distance against today's `full` recipe: pass that run first);
then each shipped GAN and VAE teacher's manifest against those targets.

Run: ``python bench/teacher_targets.py [RUN ...]`` (default: runs/full runs/notebooks-quick runs/full-mnist)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kdlib import generated, markdown_table, recognisable_share, sampler
from kdlib.course import Classifiers, RunDir, Teacher, generator_of, shipped_ruler
from kdlib.evaluate import image_quality
from kdlib.course.config import RECIPES
from kdlib.course.shipped import verify
from kdlib.store import project_root

RULER_ACCURACY = {"mnist": 0.993, "fashion-mnist": 0.925}
GAN = {"frechet_vs_full": 0.5, "precision": 0.7, "recall": 0.6, "recognisable": 0.85, "class_share": (0.05, 0.15)}
VAE = {"frechet_vs_full": 0.6, "recognisable": 0.6}
FEWER_ERRORS_FULL_MNIST = 0.4  # Hinton et al.: 74 vs 146, 49% fewer
SAMPLES = 10_000


def student_targets(path: Path) -> dict[str, object]:
    """Notebook 01's students in the run folder ``path`` against their targets."""
    record = Classifiers.load(RunDir(path))
    teacher, labels, distilled = (next(m for m in record.models if m.name == name)
                                  for name in ("teacher", "student (labels)", "distilled student"))
    gap, spread = labels.mean_errors - distilled.mean_errors, max(labels.spread, distilled.spread)
    fewer = gap / labels.mean_errors
    target = f"fewer errors by more than the spread ({spread})"
    met = gap > spread and len(labels.seeds) > 1
    if record.dataset == "mnist" and record.profile == "full":
        target += f"; >= {FEWER_ERRORS_FULL_MNIST:.0%} fewer"
        met = met and fewer >= FEWER_ERRORS_FULL_MNIST
    return {"run": path.name, "data set": record.dataset, "profile": record.profile, "teacher": teacher.source,
            "teacher errors": teacher.mean_errors, "seeds": len(labels.seeds),
            "student (labels)": f"{labels.mean_errors:.1f} ({', '.join(map(str, labels.test_errors))})",
            "distilled": f"{distilled.mean_errors:.1f} ({', '.join(map(str, distilled.test_errors))})",
            "fewer errors": f"{fewer:.1%}", "target": target, "met": "yes" if met else "no"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path,
                        default=[project_root() / "runs" / name for name in ("full", "notebooks-quick", "full-mnist")])
    args = parser.parse_args()
    rulers = []
    for name in sorted(n for n, r in RECIPES.items() if r.kind == "ruler"):
        _, manifest = verify(name)
        target = RULER_ACCURACY[manifest.dataset]
        rulers.append({"ruler": name, "test accuracy": manifest.quality["test_accuracy"], "target": f">= {target}",
                       "met": "yes" if manifest.quality["test_accuracy"] >= target else "no",
                       "real test recognisable": manifest.quality["real_test_recognisable"]})
    print(markdown_table(rulers), "\n")
    classifiers = []
    for name in sorted(n for n, r in RECIPES.items() if r.kind == "classifier"):
        _, manifest = verify(name)
        classifiers.append({"classifier teacher": name, "test errors": manifest.quality["test_errors"],
                            "test accuracy": manifest.quality["test_accuracy"],
                            "recipe": ", ".join(f"{k} {v}" for k, v in manifest.settings.items())})
    print(markdown_table(classifiers), "\n")
    print(markdown_table([student_targets(path) for path in args.runs
                          if (path / "records" / Classifiers.FILE).is_file()]), "\n")
    rows = []
    for path in args.runs:
        run = RunDir(path)
        for family in ("gan", "vae"):
            if not (path / "records" / Teacher.file_name(family=family)).is_file():
                continue
            teacher = Teacher.load(run, family=family)
            measure, manifest = shipped_ruler(teacher.dataset, samples=SAMPLES)
            generator = generator_of(teacher.model(run), teacher.dataset)  # a VAE from its ex-post prior
            images = generated(sampler(generator, generator.latent_dim, "cpu", seed=0), SAMPLES)
            quality = image_quality(images, measure.net, measure.real)
            _, probabilities = measure.net.embed(images)
            ratio = recognisable_share(probabilities) / manifest.quality["real_test_recognisable"]
            shares = quality.class_shares
            rows.append({"run": path.name, "teacher": f"{family.upper()} ({teacher.profile})",
                         "sampled from": "ex-post prior" if family == "vae" else "N(0, I)",
                         "Fréchet distance": quality.frechet_distance, "precision": quality.precision,
                         "recall": quality.recall, "recognisable / real's": ratio,
                         "class shares": f"{min(shares):.1%} to {max(shares):.1%}"})
    if rows:
        print(markdown_table(rows), "\n")
    full = {r["teacher"].split()[0]: r["Fréchet distance"] for r in rows if "(full)" in r["teacher"]}
    gan_fd = f"{GAN['frechet_vs_full'] * full['GAN']:.1f}" if "GAN" in full else "not measured: no full run given"
    vae_fd = f"{VAE['frechet_vs_full'] * full['VAE']:.1f}" if "VAE" in full else "not measured: no full run given"
    print(f"A shipped GAN teacher must reach: Fréchet distance <= {GAN['frechet_vs_full']}x today's full recipe "
          f"({gan_fd}), precision >= {GAN['precision']}, recall >= {GAN['recall']}, recognisable >= "
          f"{GAN['recognisable']}x the real images', every class {GAN['class_share'][0]:.0%} to "
          f"{GAN['class_share'][1]:.0%} of the samples.")
    print(f"A shipped VAE teacher must reach: Fréchet distance <= {VAE['frechet_vs_full']}x today's full recipe "
          f"({vae_fd}), recognisable >= {VAE['recognisable']}x the real images'.\n")
    shipped = [shipped_teacher_targets(name, full) for name in sorted(RECIPES) if RECIPES[name].kind in ("gan", "vae")]
    if shipped:
        print(markdown_table(shipped))


def target_checks(family: str, quality: dict[str, float], full: float | None) -> dict[str, bool]:
    """Which of a GAN or VAE teacher's targets (``family``: "GAN" or "VAE") its manifest's ``quality`` meets; the
    Fréchet distance only against a `full` recipe teacher's ``full``, when known."""
    targets = GAN if family == "GAN" else VAE
    checks = {"recognisable": quality["recognisable_vs_real"] >= targets["recognisable"]}
    if full is not None:
        checks["Fréchet distance"] = quality["frechet_distance"] <= targets["frechet_vs_full"] * full
    if family == "GAN":
        low, high = GAN["class_share"]
        checks |= {"precision": quality["precision"] >= GAN["precision"], "recall": quality["recall"] >= GAN["recall"],
                   "class shares": low <= quality["smallest_class_share"] and quality["largest_class_share"] <= high}
    return checks


def shipped_teacher_targets(name: str, full: dict[str, float]) -> dict[str, object]:
    """A shipped GAN or VAE teacher's manifest (measured on the shipped ruler) against its targets; the Fréchet
    distance against ``full``'s teacher of the family when that run was given."""
    _, manifest = verify(name)
    quality, family = manifest.quality, manifest.kind.upper()
    checks = target_checks(family, quality, full.get(family))
    return {"shipped teacher": name, "Fréchet distance": quality["frechet_distance"],
            "vs full recipe's": f"{quality['frechet_distance'] / full[family]:.2f}x" if family in full else "no full run",
            "precision": quality["precision"], "recall": quality["recall"],
            "recognisable / real's": quality["recognisable_vs_real"],
            "class shares": f"{quality['smallest_class_share']:.1%} to {quality['largest_class_share']:.1%}",
            "met": ", ".join(k for k, ok in checks.items() if ok) or "none",
            "not met": ", ".join(k for k, ok in checks.items() if not ok) or "none"}

if __name__ == "__main__":
    main()
