"""What the sampler does to the VAE students' comparison: each VAE student of a run sampled three ways.

For the VAE teacher of notebooks 04/06 (the shipped one, or the run's with ``--teachers run``) and every VAE
student of the given widths in a run folder: the Fréchet distance, precision, recall and recognisable share
(relative to the real test images') of 10,000 samples on the shipped ruler, with latents drawn

- from N(0, I), the prior the VAEs were trained with;
- from the model's own ex-post prior (``kdlib.course.generator_of``: a Gaussian mixture fitted to its codes of
  10,000 training images), how notebook 06 samples every VAE;
- from the teacher's ex-post prior (for a distilled student, the latent space its decoder was taught on).

It tells whether the distilled-against-scratch comparison of notebook 06 depends on the sampler.

Run: ``python bench/vae_student_priors.py [RUN] [--widths 0.25] [--seed 0] [--teachers shipped|run]``
(default: runs/notebooks-quick, the `quick` profile's VAE widths)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kdlib import Decoder, generated, markdown_table, recognisable_share, sampler
from kdlib.course import RunDir, StudentRecord, generator_of, run_teacher, shipped_ruler, shipped_teacher
from kdlib.course.config import SETTINGS
from kdlib.evaluate import image_quality
from kdlib.store import project_root

SAMPLES = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, default=project_root() / "runs" / "notebooks-quick")
    parser.add_argument("--widths", type=float, nargs="+", default=SETTINGS["vae_student_widths"].quick)
    parser.add_argument("--seed", type=int, default=0, help="the students' training seed")
    parser.add_argument("--teachers", choices=("shipped", "run"), default="shipped")
    parser.add_argument("--dataset", default="fashion-mnist")
    args = parser.parse_args()
    run = RunDir(args.run)
    found = (run_teacher(run, "vae", args.dataset) if args.teachers == "run"
             else shipped_teacher("vae", args.dataset))
    if found is None:
        raise SystemExit(f"no shipped VAE teacher for {args.dataset}: pass --teachers run")
    teacher, provenance = found
    teacher_prior = generator_of(teacher, args.dataset).prior
    measure, _ = shipped_ruler(args.dataset, samples=SAMPLES)
    models = {"VAE teacher": teacher}
    for width in args.widths:
        for objective in ("distilled", "scratch"):
            record = StudentRecord.load(run, family="vae", objective=objective, width=width, seed=args.seed)
            record.require("teacher", provenance.checkpoint, f"the teacher ({provenance.source})")
            models[record.name] = record.model(run)
    rows = []
    for name, model in models.items():
        samplers = {"N(0, I)": Decoder(model), "own ex-post prior": generator_of(model, args.dataset)}
        if model is not teacher:
            samplers["teacher's ex-post prior"] = Decoder(model, teacher_prior)
        for prior, generator in samplers.items():
            images = generated(sampler(generator, model.latent_dim, seed=0), SAMPLES)
            quality = image_quality(images, measure.net, measure.real)
            recognisable = recognisable_share(measure.net.embed(images)[1]) / measure.real.recognisable
            rows.append({"model": name, "latents from": prior, "Fréchet distance": quality.frechet_distance,
                         "precision": quality.precision, "recall": quality.recall,
                         "recognisable / real's": recognisable})
    print(f"run {args.run.name}; teacher: {provenance.source}; students of seed {args.seed}; {SAMPLES:,} samples "
          f"each, shipped ruler\n")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
