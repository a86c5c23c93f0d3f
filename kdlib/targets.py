"""The course's verdicts over seeds: each model's mean and spread over the seeds it was trained with
(``over_seeds``), and every distilled student held to the course's targets against the better baseline of its size
(``target_checks``), a lead counting only beyond the noise (``kdlib.noise``).
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from typing import Any

from kdlib.distill import OBJECTIVES
from kdlib.evaluate import EvaluationRow
from kdlib.noise import Difference, compare_summaries

TARGETS = {"gan": {"fewer_parameters": 10.0, "versus_teacher": 1.2, "versus_baseline": 0.6, "speedup": 10.0},
           "vae": {"fewer_parameters": 5.0, "versus_baseline": 0.8}}
TARGET_SEEDS = 3  # a lead over a baseline counts with >= 3 seeds each, beyond the noise (kdlib.noise)
SPEEDUP_BY_ROUND = "images/s / teacher's, lowest to highest round"
SPREAD_KEYS = ("frechet_distance", "frechet_distance_second", "precision", "recall", "density", "coverage", "fidelity",
               "images_per_second", "latency_ms", "training_seconds")  # the measures whose spread over seeds is reported


@dataclass(frozen=True)
class OverSeeds:
    """One model over the seeds it was trained with: the mean of every measure (``mean``, a row whose numbers are
    the means, ``seed`` None) and the sample standard deviation of each of ``SPREAD_KEYS`` (``spread``: 0 for a
    single seed, as for a teacher)."""

    mean: EvaluationRow
    seeds: tuple[int, ...]
    spread: dict[str, float]

    def text(self, key: str, digits: int = 1) -> str:
        """E.g. "238.3 ± 5.1" (the mean alone for one seed)."""
        mean = getattr(self.mean, key)
        return f"{mean:,.{digits}f}" + (f" ± {self.spread[key]:,.{digits}f}" if len(self.seeds) > 1 else "")


def _mean(values: list[Any]) -> Any:
    """The mean of numbers (or of tuples of numbers, item by item); a value all rows share, as it is."""
    if all(v == values[0] for v in values):
        return values[0]
    if isinstance(values[0], tuple):
        return tuple(statistics.fmean(items) for items in zip(*values))
    return statistics.fmean(values)


def over_seeds(rows: list[EvaluationRow]) -> list[OverSeeds]:
    """The rows of each model (family, objective, width) gathered over their seeds, in the rows' order."""
    groups: dict[tuple[str, str, float], list[EvaluationRow]] = {}
    for row in rows:
        groups.setdefault((row.family, row.objective, row.width), []).append(row)
    summaries = []
    for group in groups.values():
        names = {row.name for row in group}
        if len(names) > 1:
            raise ValueError(f"rows of one family, objective and width have different names {sorted(names)}: "
                             "they are not seeds of one model")
        mean = {f.name: _mean([getattr(row, f.name) for row in group]) for f in dataclasses.fields(EvaluationRow)}
        spread = {key: statistics.stdev([getattr(row, key) for row in group]) if len(group) > 1 else 0.0
                  for key in SPREAD_KEYS if getattr(group[0], key) is not None}  # (a second ruler's: if measured)
        seeds = tuple(row.seed for row in group if row.seed is not None)
        summaries.append(OverSeeds(EvaluationRow(**mean | {"seed": None}), seeds, spread))
    return summaries


def is_baseline(family: str, objective: str) -> bool:
    """Whether ``objective`` is a baseline (``Objective.baseline``: scratch, the pruning control), not a teacher or a
    distilled student; an objective no longer in ``kdlib.OBJECTIVES`` counts as distilled."""
    known = OBJECTIVES.get(family, {}).get(objective)
    return known is not None and known.baseline


def _versus(model: OverSeeds, baseline: OverSeeds, key: str) -> Difference | None:
    """The student against the baseline on ``key`` by the course's one rule (``kdlib.noise``: Welch's test over
    seeds); None where either lacks a value (a ruler not measured)."""
    if getattr(model.mean, key) is None or getattr(baseline.mean, key) is None:
        return None
    if model.spread[key] == 0 and baseline.spread[key] == 0:  # scores that never vary: no test, and no finding
        return Difference(getattr(model.mean, key), getattr(baseline.mean, key), len(model.seeds), len(baseline.seeds),
                          None, None, None, None, None)
    return compare_summaries(getattr(model.mean, key), model.spread[key], max(len(model.seeds), 1),
                             getattr(baseline.mean, key), baseline.spread[key], max(len(baseline.seeds), 1))


def target_checks(rows: list[EvaluationRow]) -> list[dict[str, Any]]:
    """The course's targets (``TARGETS``) checked for every distilled student small enough to be held to them, on
    the means over seeds (``over_seeds``), against the better (lower Fréchet distance) of the baselines of its family
    and width (``is_baseline``: scratch, and the pruning control where it ran).

    GAN: Fréchet distance <= 1.2x the teacher's and <= 0.6x the baseline's, >= 10x the teacher's images/s; VAE:
    <= 0.8x the baseline's. For both, the lead over the baseline must also be beyond the noise: at least
    ``TARGET_SEEDS`` seeds each, and Welch's test over them below p = 0.05 (``kdlib.noise``); where the rows hold a
    second ruler's distances (``kdlib.evaluate.SecondRuler``), the ratio and the lead must hold on it too.
    """
    models = over_seeds(rows)
    checks = []
    for model in models:
        row = model.mean
        teacher = next((m for m in models if m.mean.family == row.family and m.mean.objective == "teacher"), None)
        baselines = [m for m in models if m.mean.family == row.family and m.mean.width == row.width
                     and is_baseline(m.mean.family, m.mean.objective)]
        if row.objective == "teacher" or is_baseline(row.family, row.objective) or teacher is None or not baselines:
            continue  # a teacher, a baseline, or a student without both references
        baseline = min(baselines, key=lambda m: m.mean.frechet_distance)
        target = TARGETS[row.family]
        second = row.frechet_distance_second is not None and baseline.mean.frechet_distance_second is not None
        check = {"student": row.name, "baseline": baseline.mean.objective,
                 "seeds": min(len(model.seeds), len(baseline.seeds)),
                 "fewer_parameters": teacher.mean.parameters / row.parameters,
                 "versus_teacher": row.frechet_distance / teacher.mean.frechet_distance,
                 "versus_baseline": row.frechet_distance / baseline.mean.frechet_distance,
                 "test": _versus(model, baseline, "frechet_distance"),
                 "versus_baseline_second": row.frechet_distance_second / baseline.mean.frechet_distance_second
                 if second else None,
                 "test_second": _versus(model, baseline, "frechet_distance_second") if second else None,
                 "speedup": row.images_per_second / teacher.mean.images_per_second,
                 "speedup_by_round": round_ratios(row, teacher.mean)}
        tests = [check["test"]] + ([check["test_second"]] if second else [])
        beyond_noise = check["seeds"] >= TARGET_SEEDS and all(t.beyond_noise and t.ratio < 1 for t in tests)
        within = all(check[key] <= limit if key.startswith("versus") else check[key] >= limit
                     for key, limit in target.items())
        if second:
            within = within and check["versus_baseline_second"] <= target["versus_baseline"]
        if check["fewer_parameters"] >= target["fewer_parameters"]:
            checks.append(check | {"beyond_noise": beyond_noise, "met": beyond_noise and within})
    return checks


def round_ratios(student: EvaluationRow, teacher: EvaluationRow) -> tuple[float, ...] | None:
    """The student's images/s over the teacher's in each round of the interleaved timing that measured both (for
    a student over seeds, the seeds' mean in each round): two timings taken moments apart, so their spread shows
    how far one machine's passing state moves the ratio. None for rows recorded without their rounds."""
    rounds = student.images_per_second_rounds, teacher.images_per_second_rounds
    if None in rounds or len(rounds[0]) != len(rounds[1]):
        return None
    return tuple(mine / its for mine, its in zip(*rounds))


def target_rows(checks: list[dict[str, Any]]) -> list[dict[str, str]]:
    """``target_checks``' results as table rows: the ratios rounded, "yes"/"no" for the target."""
    return [{"student": c["student"], "seeds": c["seeds"], "fewer parameters": f"{c['fewer_parameters']:.1f}x",
             "FD / teacher's": f"{c['versus_teacher']:.2f}x", "baseline": c["baseline"],
             "FD / baseline's (95% interval)": c["test"].ratio_text(), "Welch p": _p(c["test"]),
             "second ruler: FD / baseline's (95% interval), p": "-" if c["test_second"] is None else
             f"{c['test_second'].ratio_text()}, {_p(c['test_second'])}",
             "images/s / teacher's": f"{c['speedup']:.1f}x",
             SPEEDUP_BY_ROUND: "-" if c["speedup_by_round"] is None
             else f"{min(c['speedup_by_round']):.1f}x to {max(c['speedup_by_round']):.1f}x",
             "target met": "yes" if c["met"] else "no"}
            for c in checks]


def _p(test: Difference) -> str:
    return "-" if test.p_value is None else f"{test.p_value:.2g}"


def targets_text() -> str:
    """The targets of ``TARGETS`` in words."""
    gan, vae = TARGETS["gan"], TARGETS["vae"]
    return (f"Targets (on means over seeds): a GAN student with >= {gan['fewer_parameters']:g}x fewer parameters than "
            f"its teacher has a Fréchet distance <= {gan['versus_teacher']:g}x the teacher's and <= "
            f"{gan['versus_baseline']:g}x the better baseline's of its size (scratch, or the pruning control "
            f"prune_finetune where it ran), and >= {gan['speedup']:g}x the teacher's images/s; a VAE student with >= "
            f"{vae['fewer_parameters']:g}x fewer parameters has a Fréchet distance <= {vae['versus_baseline']:g}x the "
            f"baseline's; for both, the lead over the baseline is beyond the noise (Welch's t-test over >= {TARGET_SEEDS} "
            "seeds each, p < 0.05: kdlib.noise), on the second ruler too where it was measured. "
            "The speed is checked on the median images/s of the interleaved timing; the ratio in each of its rounds "
            f"(\"{SPEEDUP_BY_ROUND}\", \"-\" where the record lacks them) shows how far the machine's passing "
            "state moves it.")
