"""Figures every chapter needs: image grids, loss curves, training snapshots, class shares, quality against cost,
where a model's time goes."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
import torch

from kdlib.cost import LayerTime
from kdlib.distill import OBJECTIVES


def image_grid(images: torch.Tensor, ncols: int, row_labels: Sequence[str] | None = None,
               title: str | None = None, cell_inches: float = 0.9) -> plt.Figure:
    """Show images (N x 1 x H x W, uint8 or floats in [-1, 1]) in rows of ``ncols``."""
    images = images.detach().cpu()
    if images.dtype != torch.uint8:
        images = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    nrows = -(-len(images) // ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(ncols * cell_inches, nrows * cell_inches),
                                squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
        if index < len(images):
            ax.imshow(images[index, 0], cmap="gray_r", vmin=0, vmax=255)
    if row_labels is not None:
        for row, label in zip(axes[:, 0], row_labels):
            row.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def moving_average(values: Sequence[float], window: int) -> torch.Tensor:
    """Mean of each ``window`` consecutive values (fewer at the start), to read noisy per-step losses."""
    x = torch.as_tensor(values, dtype=torch.float64)
    sums = torch.cat([torch.zeros(1, dtype=x.dtype), x.cumsum(0)])  # sums[i] = x[0] + ... + x[i - 1]
    end = torch.arange(1, len(x) + 1)
    start = (end - max(1, window)).clamp(min=0)
    return (sums[end] - sums[start]) / (end - start)


def loss_curves(steps: dict[str, list[float]], panels: Sequence[Sequence[str]], steps_per_epoch: int,
                window: int = 50, titles: Sequence[str] | None = None) -> plt.Figure:
    """Per-step losses, smoothed over ``window`` steps, one panel per group of names, against epochs."""
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False)
    for index, (ax, names) in enumerate(zip(axes[0], panels)):
        for name in names:
            epochs = torch.arange(1, len(steps[name]) + 1) / steps_per_epoch
            ax.plot(epochs, moving_average(steps[name], window), label=name)
        ax.set_xlabel("epoch")
        ax.set_title(titles[index] if titles else ", ".join(names), fontsize=10)
        ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def snapshots(history: dict, columns: int = 8) -> plt.Figure:
    """The fixed latent batch as rendered during training: one row per snapshot, labelled by epoch."""
    rows = [images[:columns] for images in history["snapshots"]]
    labels = [f"epoch {when:g}" for when in history["snapshot_epochs"]]
    return image_grid(torch.cat(rows), columns, row_labels=labels, cell_inches=0.7)


def class_shares(shares: Sequence[float], classes: Sequence[str], band: tuple[float, float] = (0.05, 0.20),
                 expected: float | None = None) -> plt.Figure:
    """The share of generated images the classifier puts in each class, with a target band shaded."""
    figure, ax = plt.subplots(figsize=(7, 2.8))
    ax.axhspan(*band, color="tab:green", alpha=0.12, label=f"target band {band[0]:.0%}-{band[1]:.0%}")
    if expected is not None:
        ax.axhline(expected, color="gray", linestyle="--", linewidth=1, label="share in the data")
    ax.bar(range(len(shares)), shares)
    ax.set_xticks(range(len(shares)), classes, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("share of samples")
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def objective_label(family: str, objective: str) -> str:
    """What a legend calls an objective: its title in words ("distilled: output + adversarial"); the teacher, or a
    name the course does not know (a notebook's own objective), as it is."""
    known = OBJECTIVES.get(family, {}).get(objective)
    return known.title if known else objective


def plain_number(value: float) -> str:
    """A tick label a reader reads at once: 51,698 rather than 51698 or 5.2 x 10^4; 0.5 stays 0.5."""
    return f"{value:,.0f}" if value >= 1000 else f"{value:g}"


def quality_against(rows: Sequence[dict], x: str, xlabel: str, y: str = "frechet_distance",
                    ylabel: str = "Fréchet distance (lower is better)", x_range: str | None = None,
                    y_error: str | None = None, baselines: Collection[str] = ("scratch",)) -> plt.Figure:
    """One panel per family: ``y`` against ``x`` (log scale) for every objective across widths, the teacher a star.

    ``rows`` are evaluation rows as dicts: the compression curve (``x="parameters"``) or quality against speed
    (``x="images_per_second"``). ``x_range`` names a (low, high) pair per row, drawn as a horizontal bar where a
    row has one (e.g. ``"images_per_second_range"``: the slowest and fastest timing round); ``y_error`` names a
    spread per row (e.g. the standard deviation over seeds), drawn as a vertical bar of +- that much. The objectives
    in ``baselines`` are drawn dashed; the legend names each by its title (``objective_label``).
    """
    families = list(dict.fromkeys(row["family"] for row in rows))
    many = max(len({row["objective"] for row in rows if row["family"] == family}) for family in families) > 5
    width = 5 + 2 * many  # a long legend goes beside its panel, not over the lines
    figure, axes = plt.subplots(1, len(families), figsize=(width * len(families), 3.6), squeeze=False)
    for ax, family in zip(axes[0], families):
        mine = [row for row in rows if row["family"] == family]
        for objective in dict.fromkeys(row["objective"] for row in mine):
            points = sorted((row[x], row[y]) for row in mine if row["objective"] == objective)
            style = {"marker": "*", "markersize": 14, "color": "black", "linestyle": "none"} if objective == "teacher" \
                else {"marker": "o", "linestyle": "--" if objective in baselines else "-"}
            line, = ax.plot(*zip(*points), label=objective_label(family, objective), **style)
            for row in mine:
                if row["objective"] == objective and x_range and row.get(x_range):
                    low, high = row[x_range]
                    ax.errorbar(row[x], row[y], xerr=[[row[x] - low], [high - row[x]]], fmt="none",
                                ecolor=line.get_color(), capsize=3, alpha=0.7)
                if row["objective"] == objective and y_error and row.get(y_error):
                    ax.errorbar(row[x], row[y], yerr=row[y_error], fmt="none", ecolor=line.get_color(), capsize=3,
                                alpha=0.7)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide (e.g. "7.08.0")
        values = sorted({row[x] for row in mine})
        if len(values) <= 8 and all(high / low >= 1.4 for low, high in zip(values, values[1:])):
            # a few values far enough apart not to collide (e.g. training budgets of 1 to 20 epochs): each labelled
            ax.set_xticks(values, [plain_number(value) for value in values])
        elif max(values) / min(values) < 100:  # within two decades a log axis may show one decade tick or none
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: plain_number(value)))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{family.upper()} teacher and students", fontsize=10)
        ax.legend(fontsize=8, **({"loc": "upper left", "bbox_to_anchor": (1.0, 1.0)} if many else {}))
    figure.tight_layout()
    return figure


LAYER_KINDS = {"ConvTranspose2d": "transposed convolution", "Conv2d": "convolution", "Linear": "linear"}


def layer_time_bars(timings: dict[str, Sequence[LayerTime]], title: str | None = None) -> plt.Figure:
    """One horizontal bar per model (``kdlib.cost.layer_times``): its milliseconds, split into one segment per layer,
    coloured by kind (transposed convolution, convolution, linear; everything else grey), each arithmetic layer
    labelled with the rate it reached (GMAC/s)."""
    kinds = [*LAYER_KINDS.values(), "other layers (norm, activation, reshape)"]
    colours = dict(zip(kinds, ["tab:red", "tab:blue", "tab:green", "lightgrey"]))
    figure, ax = plt.subplots(figsize=(9, 0.6 + 0.55 * len(timings)))
    names = list(timings)
    for row, name in enumerate(names):
        left = 0.0
        for layer in timings[name]:
            kind = LAYER_KINDS.get(layer.layer.split(": ", 1)[-1], kinds[-1])
            ax.barh(row, layer.milliseconds, left=left, color=colours[kind], edgecolor="white", linewidth=0.5)
            if layer.macs and layer.milliseconds > 0.04 * sum(t.milliseconds for t in timings[names[0]]):
                ax.text(left + layer.milliseconds / 2, row, f"{layer.gmacs_per_second:.0f}", ha="center",
                        va="center", fontsize=7, color="white")
            left += layer.milliseconds
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds per batch (numbers on bars: GMAC/s the layer reached)")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colours[k]) for k in kinds], labels=kinds, fontsize=7,
              loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure
