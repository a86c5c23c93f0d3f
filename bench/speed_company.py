"""Does the company a generator is timed in change its measured speed?

Notebook 06 times the GAN teacher twice: in section 2 together with every GAN student of the run (the teacher and
12 students: 13 models, interleaved, ``kdlib.course.evaluation_rows``) and in section 4 with three other designs (4
models). In the `quick` chain executed on an Intel Xeon the two gave the teacher 4,802 and 7,717 images/s, and the
students of width 0.12 10.3x to 10.9x against 7.6x its speed: the speed target (>= 10x) met in one and missed in the
other. This bench times the same architectures in both companies, and beside the teacher alone, one after the
other, several times, in one process, with ``kdlib.interleaved_speed`` (steady heap, rounds rotated), each timed
call either cold (right after another model's call: ``warm_calls=0``, how the course timed until 2026-11-30) or
after one untimed call of the same model (``warm_calls=1``, as a model generating batch after batch runs), and
prints the teacher's images/s, the student's and the student's multiple of the teacher's in each.

Speed does not depend on the weights, so the networks are untrained (as in ``bench/generator_speed.py``).

Run: ``python bench/speed_company.py [--repeats 5] [--rounds 5] [--students 12] [--width 0.12]``
"""

from __future__ import annotations

import argparse
import itertools
import statistics

import torch

from kdlib.cost import interleaved_speed
from kdlib.evaluate import sampler
from kdlib.models import Generator, last_layer_as_subpixel
from kdlib.tables import markdown_table

LATENT = 64
WARM_CALLS = (0, 1)  # untimed calls of a model just before its timed one: none (cold after another model), one


def companies(students: int, width: float) -> dict[str, dict[str, Generator]]:
    """The models each section of notebook 06 times together; the first is the teacher, the last a new student."""
    teacher = Generator(LATENT, 1.0).eval()
    return {
        "section 4: teacher and 3 designs": {
            "teacher": teacher, "old student": Generator(LATENT, 0.125, "transposed").eval(),
            "teacher re-laid": last_layer_as_subpixel(teacher).eval(), "student": Generator(LATENT, width, "subpixel").eval()},
        f"section 2: teacher and {students} students": {
            "teacher": teacher, **{f"student {k}": Generator(LATENT, width, "subpixel").eval() for k in range(students)}},
        "teacher and 1 student": {"teacher": teacher, "student": Generator(LATENT, width, "subpixel").eval()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="times each company is timed, in turn")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per timing (notebook 06: 5)")
    parser.add_argument("--students", type=int, default=12, help="students beside the teacher in section 2's company")
    parser.add_argument("--width", type=float, default=0.12)
    args = parser.parse_args()
    torch.manual_seed(0)
    groups = companies(args.students, args.width)
    rows = []
    for repeat in range(args.repeats):
        for company, models in groups.items():
            for warm in WARM_CALLS:
                speeds = interleaved_speed({name: sampler(model, LATENT) for name, model in models.items()}, "cpu",
                                           rounds=args.rounds, warm_calls=warm)
                teacher = speeds["teacher"]["images_per_second"]
                student = statistics.median(s["images_per_second"] for name, s in speeds.items()
                                            if name.startswith("student"))
                rows.append({"repeat": repeat, "company": company, "warm calls": warm, "models": len(models),
                             "teacher images/s": teacher, "student images/s (median)": student,
                             "student / teacher": student / teacher})
    print(f"batch 256, {torch.get_num_threads()} threads, {args.rounds} interleaved rounds per timing, steady heap; "
          f"the companies timed in turn, {args.repeats} times\n")
    print(markdown_table(rows))
    summary = []
    for company, warm in itertools.product(groups, WARM_CALLS):
        mine = [r for r in rows if r["company"] == company and r["warm calls"] == warm]
        ratios = [r["student / teacher"] for r in mine]
        summary.append({"company": company, "warm calls": warm,
                        "teacher images/s (median)": statistics.median(r["teacher images/s"] for r in mine),
                        "student images/s (median)": statistics.median(r["student images/s (median)"] for r in mine),
                        "student / teacher (median)": statistics.median(ratios),
                        "lowest to highest": f"{min(ratios):.1f}x to {max(ratios):.1f}x"})
    print()
    print(markdown_table(summary))


if __name__ == "__main__":
    main()
