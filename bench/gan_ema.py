"""Does an exponential moving average (EMA) of the GAN teacher's generator weights improve its samples?

Trains the GAN teacher exactly as notebook 02 does (``kdlib.gan_step``, the profile's batch size and learning
rate, Fashion-MNIST) and keeps, beside the generator being trained, an EMA of its weights and batch-norm
statistics (``torch.optim.swa_utils.AveragedModel``, decay ``--decay``). After every epoch both generators are
measured on the shipped ruler with the same latents (fewer than the 10,000 samples of notebook 02: read the two
rows of an epoch against each other): Fréchet distance, precision, recall and the share of
samples the ruler recognises (probability >= 0.9) relative to real test images'. The table tells whether a
shipped GAN recipe should sample from the EMA weights, and how the distance falls with epochs on this CPU.

Run: ``python bench/gan_ema.py [--epochs 6] [--decay 0.999] [--samples 5000]``
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

import kdlib
from kdlib.course import shipped_ruler
from kdlib.course.config import SETTINGS
from kdlib.evaluate import image_quality

DATASET = "fashion-mnist"
LATENT = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--decay", type=float, default=0.999)
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args()
    measure, manifest = shipped_ruler(DATASET, samples=args.samples)
    real_recognisable = manifest.quality["real_test_recognisable"]
    batch, learning_rate = SETTINGS["gan_batch_size"].full, SETTINGS["gan_learning_rate"].full
    kdlib.seed_everything(0)
    train = kdlib.load(DATASET, "train")
    batches = kdlib.Batches(train.images, train.labels, batch, seed=0, value_range=(-1.0, 1.0), drop_last=True)
    generator, discriminator = kdlib.Generator(LATENT, 1.0), kdlib.Discriminator(1.0)
    g_opt, d_opt = (torch.optim.Adam(net.parameters(), lr=learning_rate, betas=(0.5, 0.999))
                    for net in (generator, discriminator))
    step = kdlib.gan_step(generator, discriminator, g_opt, d_opt)
    ema = AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(args.decay), use_buffers=True)
    print(f"GAN teacher on {DATASET}: batch {batch}, learning rate {learning_rate}, EMA decay {args.decay}, "
          f"{args.samples} samples per measurement, {torch.get_num_threads()} threads")
    print("| epoch | generator | Fréchet distance | precision | recall | recognisable / real's | minutes |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    start = time.perf_counter()
    for epoch in range(args.epochs):
        generator.train()
        for images, labels in kdlib.progress(batches.epoch(epoch), total=len(batches), desc=f"epoch {epoch + 1}"):
            step(images, labels)
            ema.update_parameters(generator)
        for name, model in (("trained", generator), ("EMA", ema.module)):
            samples = kdlib.generated(kdlib.sampler(model, LATENT, seed=0), args.samples)
            quality = image_quality(samples, measure.net, measure.real)
            _, probabilities = measure.net.embed(samples)
            share = kdlib.recognisable_share(probabilities) / real_recognisable
            print(f"| {epoch + 1} | {name} | {quality.frechet_distance:.1f} | {quality.precision:.3f} | "
                  f"{quality.recall:.3f} | {share:.2f} | {(time.perf_counter() - start) / 60:.1f} |", flush=True)


if __name__ == "__main__":
    main()
