"""Hairpin (stem-loop) names and the hairpin-family level at which hairpin and mature tables meet.

Some pipelines count reads per precursor (TCGA's BCGSC counts: ``hsa-mir-21``, ``hsa-let-7a-1``),
both arms together; most count mature miRNAs (``hsa-miR-21-5p``). A hairpin count is the sum of
its products, and one mature miRNA can come from several hairpins (``hsa-let-7a-5p`` from
``let-7a-1``, ``-2`` and ``-3``), so the exact common level is the **hairpin family**: the
connected group of hairpins and mature miRNAs that share products (for ``mir-21``:
``hsa-miR-21-5p`` + ``hsa-miR-21-3p``; for ``let-7a``: its three hairpins and their products).
A family's count is the same whether summed from hairpin rows or from mature rows, with no
guess about how a hairpin's reads split between its arms.

A family is named as a merged mature name (``hsa-miR-21-5p/hsa-miR-21-3p``), which
:func:`srna_nb.names.harmonize_names` reads back as the same members, so family features match
mature features and each other through :func:`srna_nb.names.feature_matrix` like any merged row.

Hairpin names are lower-case ``mir`` by miRBase's convention; a few (``hsa-let-7b``) are also
pre-2014 mature names, so the level of a table is decided for the whole table
(:func:`name_levels`), never name by name. The table ``srna_nb/data/mirna_hairpins.tsv.gz`` is
built by ``tools/build_mirna_hairpins.py`` from miRBase's change lists.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pandas as pd

__all__ = ["FEATURE_LEVELS", "family_of_mature", "hairpin_family", "hairpin_table", "name_levels", "unresolved_feature"]

#: What one row of an expression table counts: a mature miRNA or a hairpin (precursor).
FEATURE_LEVELS = ("mature", "hairpin")
_LOCUS = re.compile(r"^(hsa-(?:mir|let)-[0-9]+[a-z]*)-[0-9]+$", re.IGNORECASE)  # hsa-mir-125b-1 -> hsa-mir-125b
_ARM = re.compile(r"-[35]p$|\*$")


def hairpin_table() -> pd.DataFrame:
    """The shipped table: ``name`` (empty for hairpins no release names), ``accession``, ``current``, ``deleted``, ``products``."""
    with resources.files("srna_nb").joinpath("data/mirna_hairpins.tsv.gz").open("rb") as raw, gzip.open(raw, "rt") as handle:
        return pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False).astype({"deleted": int})


@dataclass(frozen=True)
class _Families:
    by_name: dict[str, str]              # recorded hairpin name -> MI accession
    family_of: dict[str, int]            # MI or MIMAT accession -> family number
    members: list[frozenset[str]]        # family number -> its mature accessions


@lru_cache(maxsize=1)
def _families() -> _Families:
    table = hairpin_table()
    live = table[table["deleted"] == 0]
    parent = {}

    def find(item: str) -> str:
        while parent.setdefault(item, item) != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for hairpin, products in zip(live["accession"], live["products"]):
        find(hairpin)
        for mature in filter(None, products.split(";")):
            parent[find(mature)] = find(hairpin)
    roots: dict[str, int] = {}
    family_of = {item: roots.setdefault(find(item), len(roots)) for item in list(parent)}
    members: list[set[str]] = [set() for _ in roots]
    for item, number in family_of.items():
        if item.startswith("MIMAT"):
            members[number].add(item)
    by_name = {name: accession for name, accession in zip(live["name"], live["accession"]) if name}
    return _Families(by_name, family_of, [frozenset(m) for m in members])


def hairpin_family(name: str, mature_accession=None) -> frozenset[str] | None:
    """The mature accessions of the family a hairpin name belongs to; None when it cannot be resolved.

    A recorded hairpin name (``hsa-mir-21``, ``hsa-let-7a-1``) gives its family directly. A name
    miRBase's lists never record (the oldest hairpins: ``hsa-mir-100``, ``hsa-mir-1-1``) is
    resolved through its products' names: the mature names it and its locus-less stem stand for
    (``hsa-miR-1-1-5p``, ``hsa-miR-1-3p`` ...), looked up with ``mature_accession`` (a function
    from a mature name to its MIMAT accession or None), must all lie in one family.
    """
    index = _families()
    name = name.strip()
    accession = next((index.by_name[n] for n in _spellings(name) if n in index.by_name), None)
    if accession is None and mature_accession is not None:
        found = set()
        stems = [name]
        locus = _LOCUS.match(name)
        if locus:
            stems.append(locus.group(1))
        for stem in stems:
            mature = re.sub(r"-mir-", "-miR-", stem, flags=re.IGNORECASE)
            for candidate in (mature, f"{mature}-5p", f"{mature}-3p"):
                hit = mature_accession(candidate)
                if hit is not None and hit in index.family_of:
                    found.add(index.family_of[hit])
        return index.members[found.pop()] if len(found) == 1 else None
    if accession is None or accession not in index.family_of:
        return None
    family = index.members[index.family_of[accession]]
    return family or None


def family_of_mature(accessions) -> frozenset[str] | None:
    """The mature accessions of the hairpin families the given mature accessions belong to
    (their union); None when one of them is in no family of the shipped table."""
    index = _families()
    numbers = {index.family_of.get(accession) for accession in accessions}
    if not numbers or None in numbers:
        return None
    return frozenset().union(*(index.members[number] for number in numbers))


def _spellings(name: str) -> list[str]:
    """A hairpin name as given, lower-cased, and with the ``a`` miRBase adds when a paralog appears
    (``hsa-mir-203`` -> ``hsa-mir-203a``, ``hsa-mir-103-1`` -> ``hsa-mir-103a-1``): the lists record
    only the new name of such a renamed hairpin."""
    spellings = [name, name.lower()]
    locus = _LOCUS.match(name.lower())
    if locus:
        spellings.append(f"{locus.group(1)}a{name.lower()[len(locus.group(1)):]}")
    elif re.search(r"-[0-9]+$", name):
        spellings.append(name.lower() + "a")
    return spellings


def unresolved_feature(name: str) -> str:
    """The feature an unresolvable hairpin name stands for: its mature stem (``hsa-mir-184`` -> ``hsa-miR-184``),
    so that it meets the same unknown name in mature tables; loci of one stem are summed."""
    locus = _LOCUS.match(name)
    stem = locus.group(1) if locus else name
    return re.sub(r"-mir-", "-miR-", stem, flags=re.IGNORECASE)


def name_levels(names) -> tuple[list[str], list[str]]:
    """(names only a hairpin could have, names only a mature miRNA could have) among ``names``.

    A hairpin name is lower-case ``mir`` (or a recorded ``let`` hairpin such as ``hsa-let-7a-1``)
    without an arm; a mature name has ``miR`` or an arm (``-5p``, ``-3p``, ``*``). Names that
    could be either (``hsa-let-7b``: a hairpin and a pre-2014 mature name) are in neither list.
    """
    index = _families()
    hairpin, mature = [], []
    for name in map(str, names):
        name = name.strip()
        if _ARM.search(name) or "-miR-" in name or name.startswith("miR-"):
            mature.append(name)
        elif "-mir-" in name or name in index.by_name and re.search(r"-let-7[a-z]-[0-9]$", name):
            hairpin.append(name)
    return hairpin, mature
