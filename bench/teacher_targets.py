"""Issue 14's targets for the shipped rulers and teachers, measured and printed.

For each shipped ruler: its test accuracy against the target, and the share of real
test images it recognises (probability >= 0.9 for one class). For the teachers of the
run folders given: Fréchet distance, precision, recall, the recognisable share of
10,000 samples divided by the real images' share, and the range of class shares,
all on the shipped ruler of the run's data set, beside the targets a shipped teacher
must meet (its Fréchet distance against today's `full` recipe: pass that run first).

Run: ``python bench/teacher_targets.py [RUN ...]`` (default: runs/full runs/notebooks-quick)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kdlib import as_generator, generated, markdown_table, recognisable_share, sampler
from kdlib.course import RunDir, Teacher, shipped_ruler
from kdlib.course.config import RECIPES
from kdlib.course.shipped import verify
from kdlib.store import project_root

RULER_ACCURACY = {"mnist": 0.993, "fashion-mnist": 0.925}
GAN = {"frechet_vs_full": 0.5, "precision": 0.7, "recall": 0.6, "recognisable": 0.85, "class_share": (0.05, 0.15)}
VAE = {"frechet_vs_full": 0.6, "recognisable": 0.6}
SAMPLES = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path,
                        default=[project_root() / "runs" / "full", project_root() / "runs" / "notebooks-quick"])
    args = parser.parse_args()
    rulers = []
    for name in sorted(n for n, r in RECIPES.items() if r.kind == "ruler"):
        _, manifest = verify(name)
        target = RULER_ACCURACY[manifest.dataset]
        rulers.append({"ruler": name, "test accuracy": manifest.quality["test_accuracy"], "target": f">= {target}",
                       "met": "yes" if manifest.quality["test_accuracy"] >= target else "no",
                       "real test recognisable": manifest.quality["real_test_recognisable"]})
    print(markdown_table(rulers), "\n")
    rows = []
    for path in args.runs:
        run = RunDir(path)
        for family in ("gan", "vae"):
            teacher = Teacher.load(run, family=family)
            measure, manifest = shipped_ruler(teacher.dataset, samples=SAMPLES)
            generator = as_generator(teacher.model(run))
            images = generated(sampler(generator, generator.latent_dim, "cpu", seed=0), SAMPLES)
            _, probabilities = measure.net.embed(images)
            ratio = recognisable_share(probabilities) / manifest.quality["real_test_recognisable"]
            shares = teacher.quality.class_shares
            rows.append({"run": path.name, "teacher": f"{family.upper()} ({teacher.profile})",
                         "ruler": teacher.ruler.checkpoint.file, "Fréchet distance": teacher.quality.frechet_distance,
                         "precision": teacher.quality.precision, "recall": teacher.quality.recall,
                         "recognisable / real's": ratio, "class shares": f"{min(shares):.1%} to {max(shares):.1%}"})
    print(markdown_table(rows), "\n")
    full = {r["teacher"].split()[0]: r["Fréchet distance"] for r in rows if "(full)" in r["teacher"]}
    gan_fd = f"{GAN['frechet_vs_full'] * full['GAN']:.1f}" if "GAN" in full else "not measured: no full run given"
    vae_fd = f"{VAE['frechet_vs_full'] * full['VAE']:.1f}" if "VAE" in full else "not measured: no full run given"
    print(f"A shipped GAN teacher must reach: Fréchet distance <= {GAN['frechet_vs_full']}x today's full recipe "
          f"({gan_fd}), precision >= {GAN['precision']}, recall >= {GAN['recall']}, recognisable >= "
          f"{GAN['recognisable']}x the real images', every class {GAN['class_share'][0]:.0%} to "
          f"{GAN['class_share'][1]:.0%} of the samples.")
    print(f"A shipped VAE teacher must reach: Fréchet distance <= {VAE['frechet_vs_full']}x today's full recipe "
          f"({vae_fd}), recognisable >= {VAE['recognisable']}x the real images'.")

if __name__ == "__main__":
    main()
