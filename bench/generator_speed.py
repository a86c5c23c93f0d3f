"""Where a generator's time goes, and a student designed for the CPU.

1. The heap: the GAN teacher and the new student timed call by call on this process's default heap, then on a
   steady one (``kdlib.cost.steady_heap``), with the minor page faults of each call: what default-heap timings
   add to a model with large activations.
2. Each layer of the teacher and of the students timed (``kdlib.layer_times``): the old student (the teacher's
   design at width 1/8: transposed convolutions) and the new ones (sub-pixel upsampling, at width 1/8 and at the
   width that keeps it 10x smaller than the teacher).
3. The whole generators timed interleaved (``kdlib.interleaved_speed``): parameters, MACs, images/s, latency,
   against the teacher and against the teacher re-laid out (the same images): its last layer alone made
   sub-pixel (``kdlib.last_layer_as_subpixel``), its fastest exact layout and the fairer reference for what the
   student's size, not its layout, buys; and every upsampling made sub-pixel (``kdlib.as_subpixel``).

Speed does not depend on the weights, so the networks are untrained.

Run: ``python bench/generator_speed.py [--batch 256] [--rounds 9] [--old-width 0.125] [--new-width 0.12]``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from kdlib.cost import interleaved_speed, layer_times, macs_per_image, parameter_count, steady_heap
from kdlib.distill import width_label
from kdlib.evaluate import sampler
from kdlib.models import Generator, as_subpixel, last_layer_as_subpixel
from kdlib.tables import markdown_table


def designs(old_width: float, new_width: float) -> dict[str, Generator]:
    """The teacher (as trained, and re-laid out two ways) and the students: the old design, the sub-pixel ones."""
    teacher = Generator(64, 1.0).eval()
    models = {"teacher": teacher, "teacher, last layer re-laid out (same images)": last_layer_as_subpixel(teacher),
              "teacher, all re-laid out (same images)": as_subpixel(teacher),
              f"student {width_label(old_width)}, transposed (old)": Generator(64, old_width, "transposed")}
    for width in dict.fromkeys((old_width, new_width)):
        models[f"student {width_label(width)}, sub-pixel"] = Generator(64, width, "subpixel")
    return {name: model.eval() for name, model in models.items()}


@torch.no_grad()
def calls(model: Generator, z: torch.Tensor, count: int = 7) -> tuple[float, float]:
    """Median milliseconds and minor page faults of ``count`` calls after one untimed call."""
    model(z)
    times, faults = [], []
    for _ in range(count):
        before, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
        model(z)
        times.append(1000 * (time.perf_counter() - start))
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return statistics.median(times), statistics.median(faults)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--old-width", type=float, default=0.125)
    parser.add_argument("--new-width", type=float, default=0.12)
    args = parser.parse_args()
    torch.manual_seed(0)
    models = designs(args.old_width, args.new_width)
    names = list(models)
    teacher, new = "teacher", names[-1]
    z = torch.randn(args.batch, 64)

    heap_rows = []
    for heap in ("default", "steady"):
        if heap == "steady" and not steady_heap():
            print("(no glibc mallopt here: the steady heap is not available)")
            break
        for name in (teacher, new):
            milliseconds, faults = calls(models[name], z)
            heap_rows.append({"heap": heap, "generator": name, "ms per call": milliseconds,
                              "minor page faults per call": faults})
    print(f"1. The heap: batch {args.batch}, {torch.get_num_threads()} threads, median of 7 calls\n")
    print(markdown_table(heap_rows))

    for threads in sorted({1, torch.get_num_threads()}):
        torch.set_num_threads(threads)
        print(f"\n2. Layers: batch {args.batch}, {threads} thread(s), median of {args.rounds} interleaved rounds, "
              f"steady heap\n")
        for name, rows in layer_times({name: model.net for name, model in models.items()}, z, args.rounds).items():
            print(f"{name}:\n")
            print(markdown_table([{"layer": r.layer, "output": list(r.output), "ms": r.milliseconds, "MACs": r.macs,
                                   "GMAC/s": r.gmacs_per_second or ""} for r in rows]
                                 + [{"layer": "total", "output": "", "ms": sum(r.milliseconds for r in rows),
                                     "MACs": sum(r.macs for r in rows), "GMAC/s": ""}]) + "\n")
        speeds = interleaved_speed({name: sampler(model, 64) for name, model in models.items()}, "cpu", args.batch,
                                   args.rounds)
        reference = {key: speeds[key]["images_per_second"] for key in names[:2]}
        table = []
        for name, model in models.items():
            s = speeds[name]
            table.append({"generator": name, "parameters": parameter_count(model),
                          "fewer parameters": parameter_count(models[teacher]) / parameter_count(model),
                          "MACs per image": macs_per_image(model, torch.zeros(1, 64)),
                          "images/s": s["images_per_second"],
                          "range": "{:,.0f}-{:,.0f}".format(*s["images_per_second_range"]),
                          "x teacher": s["images_per_second"] / reference[names[0]],
                          "x re-laid teacher": s["images_per_second"] / reference[names[1]],
                          "latency (ms)": s["latency_ms"]})
        print(f"3. Whole generators: {threads} thread(s), batch {args.batch}, {args.rounds} interleaved rounds "
              f"(median; range: slowest and fastest round), steady heap: {speeds[teacher]['steady_heap']}\n")
        print(markdown_table(table))


if __name__ == "__main__":
    main()
