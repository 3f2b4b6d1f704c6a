"""Matplotlib figures. Computation lives elsewhere; these functions only draw tables they are given."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from srna_nb.atlas import Atlas


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=size, layout="constrained")
        return fig, ax
    return ax.figure, ax


def _simulated_tag(fig: Figure, simulated: bool) -> None:
    if simulated:
        fig.text(0.995, 0.005, "simulated data", ha="right", va="bottom", fontsize=8, color="0.4", style="italic")


def bar_counts(counts: pd.Series, title: str = "", xlabel: str = "samples", simulated: bool = False, ax: Axes | None = None) -> Figure:
    """Horizontal bars, largest on top (samples per tissue, per group ...)."""
    counts = counts.sort_values()
    fig, ax = _axes(ax, (6, max(2.5, 0.22 * len(counts) + 0.8)))
    ax.barh([str(i) for i in counts.index], counts.to_numpy(), color="tab:blue")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.margins(y=0.01)
    _simulated_tag(fig, simulated)
    return fig


def histogram(values: Sequence[float], title: str, xlabel: str, log_x: bool = False, bins: int = 40,
              simulated: bool = False, ax: Axes | None = None) -> Figure:
    """A histogram, optionally of log10 values with labelled axis."""
    values = np.asarray(values, dtype=float)
    fig, ax = _axes(ax, (6, 3.2))
    if log_x:
        values = values[values > 0]
        edges = np.logspace(np.log10(values.min()), np.log10(values.max()), bins)
        ax.hist(values, bins=edges, color="tab:blue")
        ax.set_xscale("log")
    else:
        ax.hist(values, bins=bins, color="tab:blue")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title)
    _simulated_tag(fig, simulated)
    return fig


def detection_curve(detection: pd.DataFrame, simulated: bool = False, ax: Axes | None = None) -> Figure:
    """Per RNA class, the share of features detected in at least x of samples."""
    fig, ax = _axes(ax, (6, 3.5))
    grid = np.linspace(0, 1, 101)
    for rna_class, rates in detection.groupby("rna_class")["detected_in"]:
        ax.plot(grid, [(rates >= g).mean() for g in grid], label=f"{rna_class} ({len(rates)})")
    ax.set_xlabel("detected (> 0) in at least this share of samples")
    ax.set_ylabel("share of features")
    ax.set_title("Feature detection by RNA class")
    ax.legend(fontsize=8)
    _simulated_tag(fig, simulated)
    return fig


def scatter_by(coordinates: pd.DataFrame, color_by: str, x: str = "PC1", y: str = "PC2", explained: Sequence[float] | None = None,
               max_legend: int = 15, title: str | None = None, simulated: bool = False, ax: Axes | None = None) -> Figure:
    """Scatter of two coordinates coloured by a sample-sheet column; many classes share colours and skip the legend."""
    fig, ax = _axes(ax, (7, 5))
    labels = coordinates[color_by].astype(object).where(coordinates[color_by].notna(), "(missing)")
    order = labels.value_counts().index
    cmap = plt.get_cmap("tab20")
    for i, label in enumerate(order):
        chosen = (labels == label).to_numpy()
        ax.scatter(coordinates.loc[chosen, x], coordinates.loc[chosen, y], s=6, alpha=0.7,
                   color="0.75" if label == "(missing)" else cmap(i % 20), label=str(label))
    if len(order) <= max_legend:
        ax.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    else:
        ax.text(0.01, 0.99, f"{len(order)} {color_by} values (legend omitted)", transform=ax.transAxes, va="top", fontsize=8)
    if explained is not None:
        ax.set_xlabel(f"{x} ({explained[0]:.1%} of variance)")
        ax.set_ylabel(f"{y} ({explained[1]:.1%} of variance)")
    else:
        ax.set_xlabel(x)
        ax.set_ylabel(y)
    ax.set_title(title or f"coloured by {color_by}")
    _simulated_tag(fig, simulated)
    return fig


def atlas_depth(atlas: Atlas) -> Figure:
    """Library sizes of an atlas of counts (reads per sample, log scale)."""
    return histogram(atlas.library_sizes(), "Library sizes", "reads per sample (log scale)", log_x=True, simulated=atlas.simulated)
