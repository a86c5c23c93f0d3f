"""Where a VAE teacher's samples lose quality: the prior against the decoder itself, measured on the shipped ruler.

For the shipped VAE teacher (or a run's, given its folder): the Fréchet distance, precision, recall and
recognisable share (relative to the real test images') of

- samples from the prior N(0, I), the VAE's training prior, and from N(0, t^2 I) for a few temperatures t;
- samples from its ex-post prior (``kdlib.ex_post_prior``: a Gaussian mixture fitted to the codes of 10,000
  training images, the course's sampler for every VAE), and from a single Gaussian fitted the same way (the codes'
  mean and covariance: what the mixture's several components add);
- the decoder's images of the test images' posterior means (reconstructions): what the decoder makes when its
  latents come from where the encoder puts real images, a ceiling for prior samples of this decoder.

A large gap between the first and the last says the prior and the codes of real images disagree (the "holes" of the latent
space); a small one says the decoder itself is the limit.

Run: ``python bench/vae_prior_gap.py [RUN]`` (default: the shipped teacher of Fashion-MNIST)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from kdlib import Decoder, ex_post_prior, generated, load, markdown_table, recognisable_share, sampler, scale
from kdlib.course import RunDir, generator_of, run_teacher, shipped_ruler, shipped_teacher
from kdlib.mixture import CODES
from kdlib.evaluate import image_quality

TEMPERATURES = (0.8, 1.0, 1.2)
SAMPLES = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, help="a run folder whose notebook 03 teacher to measure")
    parser.add_argument("--dataset", default="fashion-mnist")
    args = parser.parse_args()
    found = run_teacher(RunDir(args.run), "vae", args.dataset) if args.run else shipped_teacher("vae", args.dataset)
    if found is None:
        raise SystemExit(f"no shipped VAE teacher for {args.dataset}: give a run folder")
    vae, provenance = found
    decoder = Decoder(vae).eval()
    measure, _ = shipped_ruler(args.dataset, samples=SAMPLES)
    test = scale(load(args.dataset, "test").images, (0.0, 1.0))
    candidates = {}
    for temperature in TEMPERATURES:
        stream = torch.Generator().manual_seed(0)
        candidates[f"prior, t = {temperature:g}"] = generated(
            lambda n, t=temperature, s=stream: decoder(t * torch.randn(n, vae.latent_dim, generator=s)), SAMPLES)
    one_gaussian = Decoder(vae, ex_post_prior(vae, scale(load(args.dataset, "train").images[:CODES], (0.0, 1.0)), 1))
    for name, generator in (("ex-post, 1 Gaussian", one_gaussian),
                            ("ex-post, 10 Gaussians (the course's)", generator_of(vae, args.dataset))):
        candidates[name] = generated(sampler(generator, vae.latent_dim, seed=0), SAMPLES)
    with torch.no_grad():
        candidates["reconstructions (posterior means)"] = decoder(vae.encode(test)[0])
    rows = []
    for name, images in candidates.items():
        quality = image_quality(images, measure.net, measure.real)
        recognisable = recognisable_share(measure.net.embed(images)[1])
        rows.append({"images": name, "Fréchet distance": quality.frechet_distance, "precision": quality.precision,
                     "recall": quality.recall, "recognisable / real's": recognisable / measure.real.recognisable,
                     "class shares": f"{min(quality.class_shares):.1%} to {max(quality.class_shares):.1%}"})
    print(f"VAE teacher: {provenance.source} ({provenance.checkpoint.file}); {SAMPLES:,} images each, shipped ruler\n")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
