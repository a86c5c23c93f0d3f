"""Where a generator's time goes: each layer of the GAN teacher and of its students, timed on this device.

Notebook 05 measures images/s of whole models; this splits that time by layer, to
show why a student with 40x fewer MACs is not 40x faster on a CPU: narrow layers
run far below the arithmetic rate of wide ones.

Run: ``python bench/generator_speed.py [--batch 256] [--widths 1 0.125]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from kdlib.models import Generator
from kdlib.tables import markdown_table


@torch.no_grad()
def layer_times(generator: Generator, batch: int, repeats: int = 7) -> list[dict]:
    """Median milliseconds and MACs of each layer of ``generator`` on a batch of latents."""
    x, rows = torch.randn(batch, generator.latent_dim), []
    for index, layer in enumerate(generator.net):
        for _ in range(2):
            layer(x)
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            y = layer(x)
            seconds.append(time.perf_counter() - start)
        with FlopCounterMode(display=False) as counter:
            layer(x)
        rows.append({"layer": f"{index}: {type(layer).__name__}", "output": list(y.shape[1:]),
                     "ms": 1000 * statistics.median(seconds), "MACs": counter.get_total_flops() // 2})
        x = y
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--widths", type=float, nargs="+", default=[1.0, 0.125])
    args = parser.parse_args()
    torch.manual_seed(0)
    for threads in sorted({1, torch.get_num_threads()}):
        torch.set_num_threads(threads)
        totals = {}
        for width in args.widths:
            rows = layer_times(Generator(64, width).eval(), args.batch)
            totals[width] = (sum(r["ms"] for r in rows), sum(r["MACs"] for r in rows))
            print(f"\nwidth {width:g}, batch {args.batch}, {threads} thread(s):\n")
            print(markdown_table([r | {"GMAC/s": r["MACs"] / r["ms"] / 1e6 if r["MACs"] else ""} for r in rows]))
        widest, narrowest = max(args.widths), min(args.widths)
        print(f"\n{threads} thread(s): width {narrowest:g} has {totals[widest][1] / totals[narrowest][1]:.0f}x fewer MACs "
              f"than width {widest:g} and runs {totals[widest][0] / totals[narrowest][0]:.1f}x faster "
              f"({totals[widest][0]:.1f} ms against {totals[narrowest][0]:.1f} ms per batch)")


if __name__ == "__main__":
    main()
