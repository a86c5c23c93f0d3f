"""Would drawing the GAN teacher's latents closer to 0 (the "truncation trick") make more samples recognisable?

The shipped GAN teacher misses one target: the shipped ruler is confident (p >= 0.9) about 0.67x as many of its
samples as of the real test images' (target 0.85x). Samples from N(0, t^2 I) with t < 1 stay where the generator
was trained most densely; for large GANs this raises sample quality at the cost of variety (Brock et al., 2019,
BigGAN, truncate the normal instead of scaling it). This prints, for a few t, the Fréchet distance, precision,
recall, recognisable share relative to the real images' and the range of class shares of 10,000 samples on the
shipped ruler.

Run: ``python bench/gan_truncation.py [--dataset fashion-mnist]``
"""

from __future__ import annotations

import argparse

import torch

from kdlib import generated, markdown_table, recognisable_share
from kdlib.course import shipped_ruler, shipped_teacher
from kdlib.evaluate import image_quality

TEMPERATURES = (1.0, 0.9, 0.8, 0.7, 0.5)
SAMPLES = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    args = parser.parse_args()
    found = shipped_teacher("gan", args.dataset)
    if found is None:
        raise SystemExit(f"no shipped GAN teacher for {args.dataset}")
    generator, provenance = found
    generator.eval()
    measure, _ = shipped_ruler(args.dataset, samples=SAMPLES)
    rows = []
    for temperature in TEMPERATURES:
        stream = torch.Generator().manual_seed(0)
        images = generated(lambda n: generator(temperature * torch.randn(n, generator.latent_dim, generator=stream)),
                           SAMPLES)
        quality = image_quality(images, measure.net, measure.real)
        recognisable = recognisable_share(measure.net.embed(images)[1]) / measure.real.recognisable
        rows.append({"t": temperature, "Fréchet distance": quality.frechet_distance, "precision": quality.precision,
                     "recall": quality.recall, "recognisable / real's": recognisable,
                     "class shares": f"{min(quality.class_shares):.1%} to {max(quality.class_shares):.1%}"})
    print(f"GAN teacher: {provenance.source}; {SAMPLES:,} samples from N(0, t² I) each, shipped ruler\n")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
