"""The figures: what they draw, read back from matplotlib's artists."""

import matplotlib

matplotlib.use("Agg")

from matplotlib.collections import LineCollection  # noqa: E402

from kdlib.plots import quality_against  # noqa: E402


def test_quality_against_speed_draws_each_rows_range_as_a_bar():
    rows = [{"family": "gan", "objective": "teacher", "images_per_second": 100.0, "frechet_distance": 50.0,
             "images_per_second_range": (80.0, 120.0)},
            {"family": "gan", "objective": "scratch", "images_per_second": 400.0, "frechet_distance": 300.0,
             "images_per_second_range": None},  # a row from before ranges were measured: no bar
            {"family": "gan", "objective": "output", "images_per_second": 500.0, "frechet_distance": 200.0,
             "images_per_second_range": (300.0, 600.0)}]
    figure = quality_against(rows, "images_per_second", "images/s", x_range="images_per_second_range")
    bars = [c for c in figure.axes[0].collections if isinstance(c, LineCollection)]
    spans = sorted(tuple(segment[:, 0]) for bar in bars for segment in bar.get_segments())
    assert spans == [(80.0, 120.0), (300.0, 600.0)]
    assert all(segment[0, 1] == segment[1, 1] for bar in bars for segment in bar.get_segments())  # horizontal
    plain = quality_against(rows, "images_per_second", "images/s")
    assert not [c for c in plain.axes[0].collections if isinstance(c, LineCollection)]
