"""Figures every chapter needs: grids of images."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch


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
