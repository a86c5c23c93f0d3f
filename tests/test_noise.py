"""The course's one rule for "beyond the noise": Welch's test by hand, against scipy's own test, on bad input."""

from __future__ import annotations

import math

import pytest
from scipy import stats

import statistics

from kdlib.noise import against_value, compare, compare_summaries, welch


def test_welch_by_hand():
    # means 2 and 5, variances 1 and 1: standard error sqrt(1/3 + 1/3), (2/3)^2 / ((1/3)^2 / 2 * 2) = 4 degrees of freedom
    t, error, freedom = welch([1, 2, 3], [4, 5, 6])
    assert error == pytest.approx(math.sqrt(2 / 3)) and freedom == pytest.approx(4.0)
    assert t == pytest.approx(-3 / math.sqrt(2 / 3))
    found = compare([1, 2, 3], [4, 5, 6])
    half = 2.7764451051977987 * math.sqrt(2 / 3)  # the t quantile 0.975 at 4 degrees of freedom, from a table
    assert (found.low, found.high) == (pytest.approx(-3 - half), pytest.approx(-3 + half))
    assert found.difference == -3 and found.ratio == pytest.approx(0.4) and found.beyond_noise


@pytest.mark.parametrize("a, b", [([152.7, 149.1, 156.3], [254.5, 249.0, 260.1]),
                                  ([101.7, 95.0, 108.4], [127.1, 112.5, 141.7]),
                                  ([10.0, 10.1, 9.9, 10.3], [10.2, 10.0])])
def test_the_p_value_is_scipys_welch_test(a, b):
    expected = stats.ttest_ind(a, b, equal_var=False)
    found = compare(a, b)
    assert found.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert found.beyond_noise == (expected.pvalue < 0.05)
    assert found.verdict() == ("beyond the noise" if expected.pvalue < 0.05 else "within the noise")


def test_the_ratios_interval_holds_the_ratio_evenly_on_a_log_scale():
    found = compare([152.7, 149.1, 156.3], [254.5, 249.0, 260.1])
    assert found.ratio_low < found.ratio < found.ratio_high
    assert math.log(found.ratio) - math.log(found.ratio_low) == pytest.approx(math.log(found.ratio_high) - math.log(found.ratio))
    assert found.ratio_text().startswith(f"{found.ratio:.2f}x (")


def test_a_single_run_is_not_tested():
    found = compare([94.8], [150.0, 152.0, 149.0])
    assert found.p_value is None and not found.beyond_noise and found.verdict() == "one run: not tested"
    assert found.ratio_text() == f"{94.8 / 150.333:.2f}x"


@pytest.mark.parametrize("a, b, message", [([], [1.0, 2.0], "at least one score"),
                                           ([1.0, float("nan")], [1.0, 2.0], "finite"),
                                           ([3.0, 3.0], [4.0, 4.0], "no spread")])
def test_bad_scores_are_refused_by_name(a, b, message):
    with pytest.raises(ValueError, match=message):
        compare(a, b)


def test_summaries_give_the_same_comparison_as_the_scores():
    a, b = [152.7, 149.1, 156.3], [254.5, 249.0, 260.1, 251.2]
    assert compare_summaries(statistics.fmean(a), statistics.stdev(a), 3, statistics.fmean(b), statistics.stdev(b),
                             4) == compare(a, b)
    with pytest.raises(ValueError, match="standard deviations >= 0"):
        compare_summaries(1.0, -1.0, 3, 2.0, 1.0, 3)


def test_scores_against_one_fixed_value_are_scipys_one_sample_test():
    scores, value = [89.4, 91.0, 87.7], 95.0
    result = against_value(scores, value)
    expected = stats.ttest_1samp(scores, value)
    assert result.p_value == pytest.approx(expected.pvalue) and result.verdict() == "beyond the noise"
    mean, error = statistics.fmean(scores), statistics.stdev(scores) / math.sqrt(3)
    half = stats.t.ppf(0.975, 2) * error  # the difference's interval, by hand
    assert (result.low, result.high) == pytest.approx((mean - value - half, mean - value + half))
    assert result.ratio_low < result.ratio < result.ratio_high
    assert against_value([80.0, 110.0, 95.0], 95.0).verdict() == "within the noise"
    assert against_value([90.0], 95.0).verdict() == "one run: not tested"
    with pytest.raises(ValueError, match="no spread"):
        against_value([90.0, 90.0], 95.0)
