"""Sample types: one vocabulary of tissues and biofluids across atlases, from a mapping table.

Each atlas names its samples its own way: the microRNA atlas spells one organ ``BrainFrontal``,
``BrainFrontalcortex`` and ``BrainPrefrontalCortex``, the miRNA Tissue Atlas 2 has an organ and a
subtissue, the GEO serum studies a ``biofluid``. The table ``srna_nb/data/sample_types.tsv``
(columns ``source``, ``column``, ``value``, ``sample_type``) maps a value of one sample-sheet
column of one source to one sample type. Where rules on two columns both match a sample, the
column whose rules come later in the table wins (TA2: ``ta2_organ`` ``bowel`` is small
intestine unless its ``subtissue`` is ``colon``). Values are compared without case or surrounding blanks. A sample no rule names has
no sample type: it is not used to train a sample-type model, and when scored it belongs to a
class the model never learnt. Plasma and serum are one type (``plasma/serum``): both are the
cell-free fraction of blood, and no atlas here holds enough of either alone.

One level up, each sample type is a ``biofluid`` (:data:`BIOFLUIDS`) or a ``solid tissue``
(:func:`sample_group`): the first thing a researcher checks of a call on a sample type the model
never learnt.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from srna_nb.errors import SrnaInputError

__all__ = ["BIOFLUIDS", "SAMPLE_TYPE_TABLE", "TABLE_COLUMNS", "read_sample_type_table", "class_grouping", "sample_group", "sample_types"]

#: The shipped mapping table.
SAMPLE_TYPE_TABLE = Path(__file__).parent / "data" / "sample_types.tsv"
TABLE_COLUMNS = ("source", "column", "value", "sample_type")
#: The sample types of the shipped table that are biofluids; every other type is a solid tissue.
BIOFLUIDS = frozenset({"blood", "cerebrospinal fluid", "plasma/serum"})


def sample_group(sample_type) -> str | None:
    """``biofluid`` or ``solid tissue`` for a sample type; None for a missing one."""
    if not isinstance(sample_type, str):
        return None
    return "biofluid" if sample_type in BIOFLUIDS else "solid tissue"


def class_grouping(target: str):
    """The function from any class of ``target``, learnt or not, to its group one level up; None where there is none.

    Only sample types have one (:func:`sample_group`): a tissue's group comes from a training sheet,
    which says nothing of a tissue the model never learnt.
    """
    return sample_group if target == "sample_type" else None


def read_sample_type_table(path: str | Path | None = None) -> pd.DataFrame:
    """The mapping table at ``path`` (default: the shipped one), checked.

    Raises :class:`SrnaInputError` naming the file and row of a missing cell, or of a rule that
    maps a value already mapped to another type (a repeated rule with the same type is allowed).
    """
    path = Path(path) if path is not None else SAMPLE_TYPE_TABLE
    return _read(str(path)).copy()


@lru_cache(maxsize=8)
def _read(path: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, ValueError) as error:
        raise SrnaInputError(f"{path}: cannot read the sample-type table ({error})") from None
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise SrnaInputError(f"{path}: the sample-type table needs columns {', '.join(TABLE_COLUMNS)}; "
                             f"missing {', '.join(missing)}")
    table = table.loc[:, list(TABLE_COLUMNS)].apply(lambda column: column.str.strip())
    seen: dict[tuple[str, str, str], str] = {}
    for row, rule in enumerate(table.itertuples(index=False), start=2):  # row 1 is the header
        empty = [c for c in TABLE_COLUMNS if not getattr(rule, c)]
        if empty:
            raise SrnaInputError(f"{path}, row {row}: empty {', '.join(empty)}")
        key = (rule.source, rule.column, rule.value.casefold())
        if seen.setdefault(key, rule.sample_type) != rule.sample_type:
            raise SrnaInputError(f"{path}, row {row}: {rule.source} {rule.column}={rule.value!r} is mapped to "
                                 f"{seen[key]!r} in an earlier row and to {rule.sample_type!r} here")
    return table


def sample_types(samples: pd.DataFrame, source: str, table: pd.DataFrame | str | Path | None = None) -> pd.Series:
    """The sample type of each row of a sample sheet, by the rules of ``source``.

    Parameters
    ----------
    samples
        A sample sheet (``Atlas.samples``).
    source
        The table's name for where the sheet came from (``microrna_atlas``, ``mirna_tissue_atlas2``,
        ``lgrc_lung``, ``serum_geo``, or a source of a user's own table).
    table
        The mapping table, or a path to one; default the shipped table.

    Returns
    -------
    pandas.Series
        Object dtype, indexed like ``samples``; NaN where no rule names the sample.
    """
    if not isinstance(table, pd.DataFrame):
        table = read_sample_type_table(table)
    rules = table[table["source"] == source]
    if rules.empty:
        raise SrnaInputError(f"the sample-type table has no rules for source {source!r}; it has "
                             f"{', '.join(dict.fromkeys(table['source']))}")
    absent = sorted(set(rules["column"]) - set(map(str, samples.columns)))
    if absent:
        raise SrnaInputError(f"sample sheet of {source!r} has no column {absent[0]!r}, which its sample-type rules read")
    result = pd.Series(pd.NA, index=samples.index, dtype=object)
    for column, column_rules in rules.groupby("column", sort=False):
        values = samples[column].astype(str).str.strip().str.casefold().where(samples[column].notna())
        mapped = values.map(dict(zip(column_rules["value"].str.casefold(), column_rules["sample_type"])))
        result = mapped.where(mapped.notna(), result)
    return result.where(result.notna(), float("nan")).astype(object).rename("sample_type")
