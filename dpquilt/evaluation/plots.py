"""Figures for :func:`.compare.compare`'s results and for synthetic tables (matplotlib).

Each function draws one figure and returns it, so that notebooks display it and
scripts can ``savefig`` it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..schema import Schema
from .association import cramers_v
from .columns import as_labels, numeric_columns
from .results import HOLDOUT

__all__ = ["PANELS_PER_ROW", "column_distributions", "correlation_heatmaps", "error_vs_epsilon"]

#: Most panels side by side; more wrap onto further rows, so figures stay readable in a notebook.
PANELS_PER_ROW = 3


def _grid(panels: int, width: float, height: float, per_row: int = PANELS_PER_ROW):
    """A figure with ``panels`` axes in rows of at most ``per_row`` (unused cells hidden), and the axes in order."""
    import matplotlib.pyplot as plt

    cols = max(1, min(per_row, panels))
    rows = max(1, -(-panels // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[panels:]:
        ax.set_visible(False)
    return fig, flat[:panels]


def error_vs_epsilon(results: pd.DataFrame, metrics: list[str] | None = None):
    """One panel per metric: mean ± standard error over seeds against epsilon, a line per method.

    The real holdout's value (if present) is a dashed horizontal line. Panels wrap at
    :data:`PANELS_PER_ROW` a row; one legend serves the figure.

    Examples
    --------
    >>> res = pd.DataFrame({"method": ["m", "m"], "epsilon": [1.0, 3.0], "seed": [0, 0],
    ...                     "metric": ["workload_2"] * 2, "value": [0.2, 0.1], "fit_seconds": [1.0, 1.0]})
    >>> len(error_vs_epsilon(res).axes)
    1
    """
    metrics = metrics or list(dict.fromkeys(results.metric))
    fig, axes = _grid(len(metrics), 4.0, 3.2)
    for ax, metric in zip(axes, metrics):
        rows = results[results.metric == metric]
        for method, group in rows[rows.method != HOLDOUT].groupby("method", sort=False):
            stats = group.groupby("epsilon").value.agg(["mean", "std", "count"])
            se = (stats["std"].fillna(0.0) / np.sqrt(stats["count"])).to_numpy()
            ax.errorbar(stats.index, stats["mean"], yerr=se, marker="o", capsize=3, label=method)
        floor = rows[rows.method == HOLDOUT].value
        if len(floor):
            ax.axhline(float(floor.mean()), color="grey", linestyle="--", label=HOLDOUT)
        ax.set_xscale("log")
        ax.set_xlabel("epsilon")
        ax.set_title(metric)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 0.82, 1) if handles else None)
    if handles:
        fig.legend(handles, labels, loc="center right", fontsize="small")
    return fig


def column_distributions(real: pd.DataFrame, synthetic: Mapping[str, pd.DataFrame], schema: Schema, max_columns: int = 8):
    """Real against synthetic distribution of each column (histograms or category bars), first ``max_columns``.

    Examples
    --------
    >>> from dpquilt.evaluation.columns import evaluation_schema
    >>> real = pd.DataFrame({"x": [0.0, 1.0, 2.0], "c": ["a", "b", "a"]})
    >>> fig = column_distributions(real, {"copy": real}, evaluation_schema(real))
    >>> [ax.get_title() for ax in fig.axes if ax.get_visible()]
    ['x', 'c']
    """
    names = list(schema.names)[:max_columns]
    numeric = set(numeric_columns(schema))
    fig, axes = _grid(len(names), 3.6, 2.8, per_row=4)
    tables = {"real": real, **synthetic}
    for ax, name in zip(axes, names):
        if name in numeric:
            lo, hi = schema[name].clip_range
            edges = np.linspace(lo, hi, 31)
            for label, table in tables.items():
                values = pd.to_numeric(table[name], errors="coerce").dropna()
                ax.hist(np.clip(values, lo, hi), bins=edges, density=True, histtype="step", label=label)
        else:
            freqs = pd.DataFrame({label: as_labels(t[name]).value_counts(normalize=True) for label, t in tables.items()})
            freqs = freqs.fillna(0.0).sort_values("real", ascending=False).head(12)
            freqs.plot.bar(ax=ax, legend=False, width=0.8)
            ax.tick_params(axis="x", labelrotation=60, labelsize="small")
        ax.set_title(name)
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return fig


def correlation_heatmaps(real: pd.DataFrame, synthetic: Mapping[str, pd.DataFrame], schema: Schema):
    """Heatmaps side by side (:data:`PANELS_PER_ROW` a row): Pearson correlations of numeric columns, or Cramér's V of categorical ones.

    Examples
    --------
    >>> from dpquilt.evaluation.columns import evaluation_schema
    >>> real = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 2.0]})
    >>> fig = correlation_heatmaps(real, {"copy": real}, evaluation_schema(real))
    >>> [ax.get_title() for ax in fig.axes][:2]
    ['real', 'copy']
    """
    numeric = numeric_columns(schema)
    use_numeric = len(numeric) >= 2
    columns = numeric if use_numeric else [c for c in schema.names if c not in numeric]
    tables = {"real": real, **synthetic}
    fig, axes = _grid(len(tables), 3.8, 3.6)
    for ax, (label, table) in zip(axes, tables.items()):
        if use_numeric:
            matrix = table[columns].apply(pd.to_numeric, errors="coerce").corr().fillna(0.0).to_numpy()
            image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
        else:
            matrix = np.array([[1.0 if a == b else cramers_v(table, a, b) for b in columns] for a in columns])
            image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize="small")
        ax.set_yticks(range(len(columns)), columns, fontsize="small")
        ax.set_title(label)
    fig.colorbar(image, ax=axes, shrink=0.8, label="Pearson r" if use_numeric else "Cramér's V")
    return fig
