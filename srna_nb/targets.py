"""Label definitions: which sample-sheet columns can be predicted, and how age becomes classes."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from srna_nb.errors import SrnaParameterError

#: Default age bins in years, left-closed: [0, 18), [18, 40), [40, 65), [65, inf).
#: Child, young adult, middle-aged, older adult: the study did not publish its bins; these are
#: the usual epidemiological cut points and give classes of workable size in SEA-like atlases.
DEFAULT_AGE_BINS: tuple[float, ...] = (0, 18, 40, 65, np.inf)

#: The targets the package knows by name; any other sample-sheet column may be named too.
STANDARD_TARGETS = ("tissue", "tissue_group", "sex", "age_group")


def age_bin_labels(bins: Sequence[float] = DEFAULT_AGE_BINS) -> list[str]:
    """Readable labels for age bins: ``0-17``, ``18-39``, ``40-64``, ``65+`` for the defaults."""
    _check_bins(bins)
    labels = []
    for low, high in zip(bins[:-1], bins[1:]):
        labels.append(f"{low:g}+" if np.isinf(high) else f"{low:g}-{high - 1:g}")
    return labels


def age_groups(ages: pd.Series | np.ndarray, bins: Sequence[float] = DEFAULT_AGE_BINS) -> pd.Series:
    """Bin ages in years into age-group labels; missing or out-of-range ages stay missing."""
    _check_bins(bins)
    ages = pd.Series(ages, dtype="float64")
    groups = pd.cut(ages, bins=list(bins), right=False, labels=age_bin_labels(bins))
    return pd.Series(groups.astype(object), index=ages.index, name="age_group").where(groups.notna(), np.nan)


def _check_bins(bins: Sequence[float]) -> None:
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 3 or not np.all(np.diff(edges) > 0):
        raise SrnaParameterError(
            f"age bins must be at least three increasing edges (two classes), got {list(bins)}"
        )
