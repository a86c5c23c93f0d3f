"""When is a difference a finding? The course's one rule, used by every notebook, the report and the pages.

Two models trained with several seeds each differ *beyond the noise* when Welch's t-test on their seeds' scores
gives a two-sided p-value below 0.05; otherwise the difference is *within the noise*. Welch's test compares two
means without assuming that both have the same spread. With three seeds a side it has few degrees of freedom, so it
asks for a large gap relative to the spread: it is cautious on purpose. A single run (one seed, as a teacher) has
no spread, and nothing is tested against it.

``compare`` gives the difference of the means with its 95% confidence interval, and the ratio of the means with its
interval (from the log ratio's standard error: the delta method), so that a result is read as "0.60x (0.55x to
0.65x)" and not as a number of standard deviations.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

LEVEL = 0.95  # the confidence of every interval
ALPHA = 1 - LEVEL  # a p-value below this is beyond the noise


@dataclass(frozen=True)
class Difference:
    """Model A against model B over their seeds: means, the difference A - B and the ratio A / B with their intervals,
    Welch's p-value and the verdict. Intervals and the test are None when a side has a single seed."""

    mean_a: float
    mean_b: float
    seeds_a: int
    seeds_b: int
    low: float | None  # the difference's interval
    high: float | None
    ratio_low: float | None  # the ratio's interval
    ratio_high: float | None
    p_value: float | None

    @property
    def difference(self) -> float:
        return self.mean_a - self.mean_b

    @property
    def ratio(self) -> float:
        return self.mean_a / self.mean_b

    @property
    def beyond_noise(self) -> bool:
        """Whether the difference is a finding: Welch's p-value below ``ALPHA`` (False when it cannot be tested)."""
        return self.p_value is not None and self.p_value < ALPHA

    def verdict(self) -> str:
        """"beyond the noise", "within the noise", "one run: not tested" or "no spread: not tested"."""
        if self.p_value is None:
            return "one run: not tested" if min(self.seeds_a, self.seeds_b) < 2 else "no spread: not tested"
        return "beyond the noise" if self.beyond_noise else "within the noise"

    def ratio_text(self, digits: int = 2) -> str:
        """E.g. "0.60x (0.55x to 0.66x)"."""
        interval = "" if self.ratio_low is None else f" ({self.ratio_low:.{digits}f}x to {self.ratio_high:.{digits}f}x)"
        return f"{self.ratio:.{digits}f}x{interval}"

    def text(self, digits: int = 1) -> str:
        """E.g. "-102.0 (95% interval -115.1 to -88.9), beyond the noise (p = 0.001)"."""
        if self.p_value is None:
            return f"{self.difference:+.{digits}f} ({self.verdict()})"
        return (f"{self.difference:+.{digits}f} ({LEVEL:.0%} interval {self.low:+.{digits}f} to {self.high:+.{digits}f}), "
                f"{self.verdict()} (p = {self.p_value:.2g})")


def welch(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """Welch's test of two samples: the t statistic of mean(a) - mean(b), its standard error, and the
    Welch-Satterthwaite degrees of freedom."""
    return _welch(statistics.fmean(a), statistics.stdev(a), len(a), statistics.fmean(b), statistics.stdev(b), len(b))


def _welch(mean_a: float, sd_a: float, n_a: int, mean_b: float, sd_b: float, n_b: int) -> tuple[float, float, float]:
    va, vb = sd_a ** 2 / n_a, sd_b ** 2 / n_b
    error = math.sqrt(va + vb)
    if error == 0:
        raise ValueError("both samples have no spread at all: Welch's test is undefined (give scores that vary "
                         "from seed to seed, or compare the single values by hand)")
    freedom = (va + vb) ** 2 / (va ** 2 / (n_a - 1) + vb ** 2 / (n_b - 1))
    return (mean_a - mean_b) / error, error, freedom


def compare(a: Sequence[float], b: Sequence[float]) -> Difference:
    """Model A's scores over seeds against model B's (e.g. Fréchet distances; both positive for the ratio)."""
    a, b = [float(x) for x in a], [float(x) for x in b]
    if not a or not b:
        raise ValueError(f"each side needs at least one score, got {len(a)} and {len(b)}")
    if not all(math.isfinite(x) for x in a + b):
        raise ValueError(f"scores must be finite numbers, got {a} and {b}")
    spread = [statistics.stdev(x) if len(x) > 1 else 0.0 for x in (a, b)]
    return compare_summaries(statistics.fmean(a), spread[0], len(a), statistics.fmean(b), spread[1], len(b))


def compare_summaries(mean_a: float, sd_a: float, seeds_a: int, mean_b: float, sd_b: float, seeds_b: int
                      ) -> Difference:
    """``compare`` from each side's mean, sample standard deviation and number of seeds, as a report's table gives
    them: Welch's test needs nothing else."""
    values = (mean_a, sd_a, mean_b, sd_b)
    if min(seeds_a, seeds_b) < 1 or not all(math.isfinite(v) for v in values) or min(sd_a, sd_b) < 0:
        raise ValueError(f"need finite means, standard deviations >= 0 and at least one seed a side, got {values} "
                         f"and {seeds_a}, {seeds_b} seeds")
    if seeds_a < 2 or seeds_b < 2:
        return Difference(mean_a, mean_b, seeds_a, seeds_b, None, None, None, None, None)
    from scipy import stats  # here, not at the top: scipy.stats takes a second to import, and `import kdlib` should not

    t, error, freedom = _welch(mean_a, sd_a, seeds_a, mean_b, sd_b, seeds_b)
    quantile = stats.t.ppf(1 - ALPHA / 2, freedom)
    p_value = 2 * stats.t.sf(abs(t), freedom)
    ratio_low = ratio_high = None
    if mean_a > 0 and mean_b > 0:  # the log ratio's standard error (delta method) and its own degrees of freedom
        la, lb = sd_a ** 2 / (seeds_a * mean_a ** 2), sd_b ** 2 / (seeds_b * mean_b ** 2)
        log_freedom = (la + lb) ** 2 / (la ** 2 / (seeds_a - 1) + lb ** 2 / (seeds_b - 1))
        spread = stats.t.ppf(1 - ALPHA / 2, log_freedom) * math.sqrt(la + lb)
        ratio_low, ratio_high = float(mean_a / mean_b * math.exp(-spread)), float(mean_a / mean_b * math.exp(spread))
    return Difference(mean_a, mean_b, seeds_a, seeds_b, float(mean_a - mean_b - quantile * error),
                      float(mean_a - mean_b + quantile * error), ratio_low, ratio_high, float(p_value))


def against_value(scores: Sequence[float], value: float) -> Difference:
    """Model A's scores over seeds against one fixed number: a model measured once, whose score does not come from
    seeds (a teacher, sampled with one fixed seed). The test is Welch's with the other side's spread set to 0, which
    is the one-sample t-test; the number's own sampling noise is left out, so read a close call with care."""
    a = [float(x) for x in scores]
    if not a or not all(math.isfinite(x) for x in a + [float(value)]):
        raise ValueError(f"need at least one finite score and a finite value, got {a} and {value}")
    if len(a) < 2:
        return Difference(a[0], float(value), 1, 1, None, None, None, None, None)
    sd = statistics.stdev(a)
    if sd == 0:
        raise ValueError(f"the scores {a} have no spread at all: the test is undefined (compare them by hand)")
    # Welch's test against a side of no spread is the one-sample t-test: that side's seed count enters only through
    # its variance, which is 0, so any count of two or more gives the same test, interval and ratio.
    return replace(compare_summaries(statistics.fmean(a), sd, len(a), float(value), 0.0, 2), seeds_b=1)
