"""What both kinds of bundle (class and number) stand on: display-labelled figures, the report
methods, the packages a bundle records and the default novelty scorer.

The lowest floor of :mod:`srna_nb.augment`: it imports nothing from the package's other modules,
so that :mod:`~srna_nb.augment.numeric`, :mod:`~srna_nb.augment.bundle` and
:mod:`~srna_nb.augment.train` read in one direction (report -> numeric -> bundle -> train).
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, ClassVar

import pandas as pd

from srna_nb.novelty import NoveltyScorer

#: Packages whose versions a bundle records.
RECORDED_PACKAGES = ("srna_nb", "numpy", "pandas", "scikit-learn", "keras", "jax", "skops", "scipy")


class LabelledFigures:
    """A summary's figures under display labels (``LABELS``: field name -> label, in display order)."""

    LABELS: ClassVar[dict[str, str]] = {}

    def labelled(self) -> dict[str, Any]:
        """The figures under their display labels (for tables and model cards)."""
        return {label: getattr(self, name) for name, label in self.LABELS.items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        """From ``asdict`` output, or from a display-labelled dictionary (what bundles before 2026-12-02 hold)."""
        by_label = {label: name for name, label in cls.LABELS.items()}
        fields = {by_label.get(key, key): value for key, value in values.items()}
        return cls(**{name: fields.get(name) for name in cls.LABELS})


class BundleReport:
    """What both kinds of bundle show: the training samples' conflicts, and a one-column description."""

    def conflicts(self) -> pd.DataFrame:
        """Training samples whose cross-fitted prediction disagrees with their own label or value, strongest first."""
        return conflict_table(self.out_of_fold)

    def describe(self) -> pd.DataFrame:
        """One-column table of what the bundle is and how well it did on held-out studies."""
        rows = {**self._settings(), **(self.summary.labelled() if self.summary else {}), "seed": self.seed}
        return pd.DataFrame({"value": pd.Series({k: _text(v) for k, v in rows.items()}, dtype=object)})


def conflict_table(table: pd.DataFrame) -> pd.DataFrame:
    """The conflicts of an annotation table, strongest evidence first, with the columns that matter."""
    if "conflict" not in table:
        return table.iloc[:0]
    columns = [c for c in ("sample_id", "study", "given", "predicted", "probability", "conflict_evidence", "runner_up",
                           "runner_up_probability") if c in table]
    return table.loc[table["conflict"], columns].sort_values("conflict_evidence", ascending=False).reset_index(drop=True)


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return str(value)


def package_versions() -> dict[str, str]:
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def default_novelty(kind: str = "class") -> NoveltyScorer:
    """The novelty scorer bundles use unless told otherwise (docs/design.md).

    Class bundles: the neighbour mismatch, which kept more never-learnt samples out of ``confident``
    on held-out atlases than the profile mismatch. Numeric bundles (``kind="number"``): the profile
    mismatch, which flagged more of another organ's samples for an age model trained on lung.
    """
    return NoveltyScorer(components=("profile_mismatch",)) if kind == "number" else NoveltyScorer()
