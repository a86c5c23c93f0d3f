"""The figures: what they draw, read back from matplotlib's artists."""

import matplotlib

matplotlib.use("Agg")

from matplotlib.collections import LineCollection  # noqa: E402

from matplotlib.patches import Rectangle  # noqa: E402

from kdlib.cost import LayerTime  # noqa: E402
from kdlib.plots import layer_time_bars, loss_curves, quality_against  # noqa: E402


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
    spread = [row | {"frechet_distance_sd": sd} for row, sd in zip(rows, (None, 20.0, 5.0))]
    figure = quality_against(spread, "images_per_second", "images/s", y_error="frechet_distance_sd")
    bars = [c for c in figure.axes[0].collections if isinstance(c, LineCollection)]
    spans = sorted((segment[0, 0], *segment[:, 1]) for bar in bars for segment in bar.get_segments())
    assert spans == [(400.0, 280.0, 320.0), (500.0, 195.0, 205.0)]  # vertical, +- the spread, none for the teacher


def test_quality_against_a_few_values_labels_each_and_many_the_decades():
    rows = [{"family": "gan", "objective": objective, "epochs": float(epochs), "frechet_distance": 100.0 / epochs}
            for objective in ("scratch", "output") for epochs in (1, 2, 3, 8, 20)]
    ax = quality_against(rows, "epochs", "epochs").axes[0]
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "8", "20"]
    assert not [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
    many = [{"family": "gan", "objective": "output", "epochs": 3.0 ** k, "frechet_distance": 1.0} for k in range(9)]
    ax = quality_against(many, "epochs", "epochs").axes[0]
    ax.figure.canvas.draw()
    assert not [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
    assert all(t.get_text().startswith("$\\mathdefault{10^") for t in ax.get_xticklabels() if t.get_text())


def test_quality_against_names_objectives_in_words_and_labels_close_values_by_round_numbers():
    rows = [{"family": "gan", "objective": objective, "images_per_second": speed, "frechet_distance": 100.0}
            for objective, speed in (("teacher", 7_445.26), ("output_adversarial", 71_380.0), ("scratch", 74_753.0),
                                     ("my_own", 73_039.0))]
    ax = quality_against(rows, "images_per_second", "images/s").axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "teacher", "distilled: output + adversarial", "scratch", "my_own"]
    ax.figure.canvas.draw()  # three speeds within 5% of each other: labelled at 1, 2, 5 x 10^k, never at the points
    shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text() and 7_000 <= t.get_position()[0] <= 80_000]
    assert shown == ["10,000", "20,000", "50,000"]


def test_quality_against_labels_a_few_parameter_counts_with_separators():
    rows = [{"family": "vae", "objective": objective, "parameters": count, "frechet_distance": 100.0}
            for objective, count in (("teacher", 86_625), ("distilled", 15_513), ("scratch", 15_513))]
    ax = quality_against(rows, "parameters", "parameters").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["15,513", "86,625"]


def test_layer_time_bars_stack_each_models_layers_coloured_by_kind():
    timings = {"teacher": [LayerTime("0: ConvTranspose2d", (8, 7, 7), 3.0, 6_000_000),
                           LayerTime("1: ReLU", (8, 7, 7), 1.0, 0)],
               "student": [LayerTime("0: Conv2d", (4, 14, 14), 0.5, 1_000_000), LayerTime("1: PixelShuffle", (1, 28, 28), 0.25, 0)]}
    figure = layer_time_bars(timings)
    ax = figure.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() > 0 and p.get_width() > 0
            and p.get_y() > -1]
    segments = sorted((round(p.get_y() + p.get_height() / 2), p.get_x(), p.get_width()) for p in bars)
    assert segments == [(0, 0.0, 3.0), (0, 3.0, 1.0), (1, 0.0, 0.5), (1, 0.5, 0.25)]
    colours = {(round(p.get_y() + p.get_height() / 2), p.get_x()): p.get_facecolor() for p in bars}
    assert colours[(0, 0.0)] != colours[(1, 0.0)] and colours[(0, 3.0)] == colours[(1, 0.5)]  # grey for the rest
    assert [t.get_text() for t in ax.texts] == ["2", "2"]  # 6e6 MACs in 3 ms, 1e6 in 0.5 ms: 2 GMAC/s each
    assert [label.get_text() for label in ax.get_yticklabels()] == ["teacher", "student"]


def test_loss_curves_draw_one_panel_per_group_with_one_line_per_loss():
    steps = {"discriminator": [1.0, 0.5, 0.25, 0.125], "generator": [2.0, 2.0, 2.0, 2.0], "D(real)": [0.5] * 4}
    figure = loss_curves(steps, [["discriminator", "generator"], ["D(real)"]], steps_per_epoch=2, window=1)
    assert [len(ax.lines) for ax in figure.axes] == [2, 1]
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["discriminator", "generator"]
    assert list(figure.axes[0].lines[1].get_ydata()) == [2.0, 2.0, 2.0, 2.0]
