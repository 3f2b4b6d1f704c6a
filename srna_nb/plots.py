"""Matplotlib figures. Computation lives elsewhere; these functions only draw tables they are given."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from srna_nb.atlas import Atlas
from srna_nb.logs import logger


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


def atlas_depth(atlas: Atlas) -> Figure | None:
    """Library sizes of an atlas of counts (reads per sample, log scale); None for normalized input."""
    if atlas.value_kind != "counts":
        logger.info("Library sizes are not shown: the input is %s, not counts.", atlas.value_kind)
        return None
    return histogram(atlas.library_sizes(), "Library sizes", "reads per sample (log scale)", log_x=True, simulated=atlas.simulated)


def confusion_heatmap(confusion: pd.DataFrame, title: str = "", simulated: bool = False, ax: Axes | None = None) -> Figure:
    """Row-normalized confusion matrix (true class in rows) as a heatmap with the diagonal share written in."""
    shares = confusion.div(confusion.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
    n = len(shares)
    fig, ax = _axes(ax, (max(4.5, 0.28 * n + 2.5), max(4.0, 0.28 * n + 1.8)))
    image = ax.imshow(shares.to_numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), [str(c) for c in shares.columns], rotation=90, fontsize=7)
    ax.set_yticks(range(n), [str(c) for c in shares.index], fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 12:
        for i in range(n):
            for j in range(n):
                if shares.iat[i, j] >= 0.01:
                    ax.text(j, i, f"{shares.iat[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if shares.iat[i, j] > 0.6 else "black")
    fig.colorbar(image, ax=ax, shrink=0.7, label="share of true class")
    ax.set_title(title)
    _simulated_tag(fig, simulated)
    return fig


def grouped_bars(table: pd.DataFrame, title: str = "", xlabel: str = "", simulated: bool = False, ax: Axes | None = None) -> Figure:
    """Horizontal grouped bars: one group per row of ``table``, one bar per column (e.g. recall per class and model)."""
    table = table.iloc[::-1]
    n_rows, n_cols = table.shape
    fig, ax = _axes(ax, (7, max(2.5, 0.3 * n_rows * max(1, n_cols / 2) + 1)))
    height = 0.8 / n_cols
    positions = np.arange(n_rows)
    for k, column in enumerate(table.columns):
        ax.barh(positions + k * height - 0.4 + height / 2, table[column].to_numpy(), height=height, label=str(column))
    ax.set_yticks(positions, [str(i) for i in table.index], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    _simulated_tag(fig, simulated)
    return fig


def importance_panels(importances: pd.DataFrame, label: str, k: int = 10, highlight: set[str] | None = None,
                      simulated: bool = False) -> Figure:
    """One panel per model x method: the ``k`` most important sRNAs of class ``label``, +- 1 SD.

    ``highlight`` (e.g. the simulator's planted markers) are drawn in orange, the rest in blue.
    """
    part = importances[importances["class"] == label]
    sources = list(part.groupby(["model", "method"], sort=False).groups)
    fig, axes = plt.subplots(1, max(len(sources), 1), figsize=(3.3 * max(len(sources), 1), 0.28 * k + 1.4),
                             layout="constrained", squeeze=False)
    for ax, (model, method) in zip(axes[0], sources):
        top = part[(part["model"] == model) & (part["method"] == method)].nlargest(k, "importance").iloc[::-1]
        colours = ["tab:orange" if highlight and feature in highlight else "tab:blue" for feature in top["feature"]]
        ax.barh(top["feature"].astype(str), top["importance"], xerr=top["std"], color=colours, error_kw={"lw": 0.7})
        ax.set_title(f"{model} {method.replace('_', ' ')}", fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(3))
    fig.suptitle(f"Top {k} sRNAs for {label}" + (" (orange: planted markers)" if highlight else ""), fontsize=10)
    _simulated_tag(fig, simulated)
    return fig


def reliability_diagram(calibration: pd.DataFrame, title: str = "Reliability of held-out predictions",
                        simulated: bool = False) -> Figure:
    """Accuracy against confidence per bin, one line per ``probabilities`` kind (before / after calibration).

    ``calibration`` is a reliability table (:func:`srna_nb.calibration.reliability_table`) with a
    ``probabilities`` column; point size follows the number of samples in the bin.
    """
    fig, ax = _axes(None, (4.8, 4.4))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfectly calibrated")
    for kind, part in calibration.groupby("probabilities", sort=False):
        ax.plot(part["confidence"], part["accuracy"], marker="o", lw=1.2, label=str(kind), ms=3)
        ax.scatter(part["confidence"], part["accuracy"], s=10 + 200 * part["samples"] / calibration["samples"].max(), alpha=0.3)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence (probability of the predicted class)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    _simulated_tag(fig, simulated)
    return fig


def contribution_bars(contributions: pd.Series, title: str = "", simulated: bool = False, ax: Axes | None = None) -> Figure:
    """Signed horizontal bars, one per sRNA (largest on top): orange pushes towards the class, blue away."""
    values = contributions.iloc[::-1]
    fig, ax = _axes(ax, (5.5, 0.3 * len(values) + 1.2))
    ax.barh([str(i) for i in values.index], values.to_numpy(),
            color=["tab:orange" if v > 0 else "tab:blue" for v in values.to_numpy()])
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("contribution to the class score")
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(title, fontsize=10)
    _simulated_tag(fig, simulated)
    return fig


def predicted_vs_true(predictions: pd.DataFrame, title: str = "", unit: str = "", simulated: bool = False) -> Figure:
    """One panel per model: predicted against true values of held-out samples, the diagonal, the mean interval."""
    models = [m for m in dict.fromkeys(predictions["model"])]
    fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.4), sharex=True, sharey=True, squeeze=False)
    low = float(min(predictions["truth"].min(), predictions["predicted"].min()))
    high = float(max(predictions["truth"].max(), predictions["predicted"].max()))
    for ax, model in zip(axes[0], models):
        part = predictions[predictions["model"] == model]
        half_width = float((part["upper"] - part["lower"]).mean() / 2)
        ax.fill_between([low, high], [low - half_width, high - half_width], [low + half_width, high + half_width],
                        color="0.9", label="mean interval")
        ax.plot([low, high], [low, high], color="0.4", linewidth=0.8)
        ax.scatter(part["truth"], part["predicted"], s=8, alpha=0.6)
        ax.set_title(model)
        ax.set_xlabel(f"true {unit}".strip())
    axes[0][0].set_ylabel(f"predicted {unit}".strip())
    fig.suptitle(title)
    fig.tight_layout()
    _simulated_tag(fig, simulated)
    return fig
