"""Harmonize small-RNA feature names across miRBase releases and quantification pipelines.

Public data names the same mature miRNA in many ways: ``hsa-miR-21`` (before miRBase 17) and
``hsa-miR-21-5p``, ``hsa-let-7a*`` (the star strand), ``hsa-let-7a(3)`` (with its number of genomic
copies), ``hsa-miR-451`` and ``hsa-miR-451a``, merged rows such as ``hsa-miR-192-5p/215-5p``, and
one row per genomic locus of the same miRNA. :func:`harmonize_names` maps each name to the current
name and MIMAT accession of the miRNA(s) it counts, using the table that
``tools/build_mirna_names.py`` builds from miRBase's change lists (releases 6-22) and ships as
``srna_nb/data/mirna_names.tsv.gz``.

Statuses (one per input name):

``exact``      the name is a current miRBase name
``renamed``    a former name, or a spelling variant of one name (copy suffix ``(n)``, missing
               ``hsa-`` prefix, other capitalization), resolved to one accession; also an
               unrecorded armless or star name whose partner name was recorded (it means the
               other arm)
``merged``     a name that counts several miRNAs at once (``a/b``); the feature keeps all of them
``ambiguous``  an armless name (``hsa-miR-X`` or ``hsa-miR-X*``) that miRBase never recorded but
               whose miRNA now has two arms. **Rule**: the armless name means the arm miRBase
               registered first (the lower MIMAT accession), the strand such names denoted before
               arms were named; a star name means the other arm
``unknown``    reads like a miRNA name but is not in the table (or was deleted by miRBase); kept
               under its own name
``other``      not a miRNA (piRNA, snoRNA, tRF ...); kept unchanged
``hairpin``    (``level="hairpin"`` only) a hairpin name, resolved to its hairpin family
               (:mod:`srna_nb.hairpins`): the feature counts every mature product of the family
               and is named as their merged name (``hsa-miR-21-5p/hsa-miR-21-3p``)

A feature's *identity* is its set of accessions (or, without any, its name). Two features match
when their identities are equal; a merged feature is the sum of the features whose identities it
contains (:func:`feature_matrix`).
"""

from __future__ import annotations

import gzip
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
from scipy import sparse

from srna_nb.biology import known_mirna_names
from srna_nb.hairpins import family_of_mature, hairpin_family, unresolved_feature

__all__ = ["NAME_STATUSES", "harmonize_names", "feature_matrix", "describe_mapping", "mirna_name_table"]

NAME_STATUSES = ("exact", "renamed", "merged", "ambiguous", "hairpin", "unknown", "other")

#: Small-RNA classes and how pipelines write their names (miRBase, piRBase, HGNC snoRNA / snRNA
#: symbols, GtRNAdb / MINTbase tRNA fragments), tried in order; the one definition of what an sRNA
#: name is (:func:`rna_class`).
RNA_CLASS_PATTERNS = (
    ("miRNA", r"(?:[a-z]{3}-)?(?:miR|let|lin)-\w|MIR\d|MIRLET"),
    ("piRNA", r"piR|hsa_piR|pirna"),
    ("snoRNA", r"SNOR[AD]|SCARNA|snoRNA|snoU|ACA\d"),
    ("snRNA", r"RNU|RNVU|snRNA|U\d+$"),
    ("tRF", r"tRF|tRNA|tiRNA|i-tRF|5'-tRF|3'-tRF|tRH|MINT|ts-"),
    ("Y_RNA", r"RNY|Y_RNA"),
    ("rRNA", r"rRNA|RNA5S"),
    ("misc_RNA", r"RN7S|vault|VTRNA"),
)
_RNA_CLASSES = [(rna_class, re.compile(f"^(?:{pattern})", re.IGNORECASE)) for rna_class, pattern in RNA_CLASS_PATTERNS]
_COPY_SUFFIX = re.compile(r"\(\d+\)$")
#: Tags some pipelines append to say which processing enzyme a read supports (GSE69579:
#: ``hsa-miR-320-RNASEN``, ``hsa-miR-451-DICER1``); the miRNA is the name before the tag.
_ENZYME_TAG = re.compile(r"-(?:RNASEN|DROSHA|DICER1?|DGCR8)$", re.IGNORECASE)
_MIRNA = re.compile(r"^(?:[a-z]{3}-)?(?:mir|let|lin)-", re.IGNORECASE)
_ACCESSION = re.compile(r"MIMAT\d{7}")


@lru_cache(maxsize=1)
def rna_class(name: object) -> str | None:
    """The small-RNA class a feature name denotes (``miRNA``, ``piRNA``, ``snoRNA`` ...), None for other names.

    A name of the shipped miRBase table is a miRNA whatever its spelling.
    """
    if not isinstance(name, str):
        return None
    name = name.strip()
    if name in _known_names():
        return "miRNA"
    return next((rna_class for rna_class, pattern in _RNA_CLASSES if pattern.match(name)), None)


@lru_cache(maxsize=1)
def _known_names() -> frozenset[str]:
    return known_mirna_names() | frozenset(mirna_name_table()["name"])


def mirna_name_table() -> pd.DataFrame:
    """The shipped name table: ``name``, ``accession``, ``current``, ``release``, ``deleted``."""
    with resources.files("srna_nb").joinpath("data/mirna_names.tsv.gz").open("rb") as raw, gzip.open(raw, "rt") as handle:
        return pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False).astype({"deleted": int})


@dataclass(frozen=True)
class _Index:
    by_name: dict[str, str]          # any recorded name -> accession (latest holder)
    by_lower: dict[str, str]         # lower-cased name -> accession, where unique
    current: dict[str, str]          # accession -> current name
    current_names: frozenset[str]
    deleted: frozenset[str]


def _release_key(release: str) -> tuple[int, ...]:
    return (0,) if release == "<6" else tuple(int(part) for part in release.split("."))


@lru_cache(maxsize=1)
def _index() -> _Index:
    table = mirna_name_table()
    current = dict(zip(table["accession"], table["current"]))
    deleted = frozenset(table.loc[table["deleted"] == 1, "accession"])
    by_name: dict[str, str] = {}
    # A name carried by two accessions over time means the one that carried it last.
    order = sorted(zip(table["name"], table["accession"], table["release"]), key=lambda r: _release_key(r[2]))
    for name, accession, _ in order:
        by_name[name] = accession
    for accession, name in current.items():  # a current name always means its own accession
        if accession not in deleted:
            by_name[name] = accession
    lower: dict[str, set[str]] = defaultdict(set)
    for name, accession in by_name.items():
        lower[name.lower()].add(accession)
    by_lower = {name: next(iter(accs)) for name, accs in lower.items() if len(accs) == 1}
    current_names = frozenset(name for accession, name in current.items() if accession not in deleted)
    return _Index(by_name, by_lower, current, current_names, deleted)


def _lookup(name: str, index: _Index) -> str | None:
    return index.by_name.get(name) or index.by_lower.get(name.lower())


def _variants(name: str) -> list[str]:
    """Spellings to try for one name: as given, without a copy suffix or enzyme tag, with the hsa- prefix."""
    # Array annotations of the miRBase 11 era write the star strand "-star" (hsa-let-7a-star).
    stripped = re.sub(r"-star$", "*", _ENZYME_TAG.sub("", _COPY_SUFFIX.sub("", name)), flags=re.IGNORECASE)
    variants = [name, stripped]
    if not re.match(r"^[a-z]{3,4}-(?:mir|let|lin)-", stripped, re.IGNORECASE):  # no species prefix
        variants.append("hsa-" + stripped)
    return list(dict.fromkeys(variants))


def _by_arm_rule(name: str, index: _Index) -> tuple[str | None, str]:
    """(accession, status) of an unrecorded armless or star name whose miRNA now has arms.

    When miRBase recorded the partner name (``X*`` for ``X``, or ``X`` for ``X*``), the name means
    the other arm (``renamed``); otherwise the ambiguity rule: the plain name means the arm
    registered first (lower MIMAT accession), the star name the other (``ambiguous``).
    """
    star = name.endswith("*")
    base = name.rstrip("*")
    arms = sorted(a for a in (_lookup(f"{base}-5p", index), _lookup(f"{base}-3p", index)) if a and a not in index.deleted)
    partner = _lookup(base if star else f"{base}*", index)
    if len(arms) == 1:
        # The one arm left is the star's partner: the star's own arm is gone from miRBase.
        return (None, "unknown") if star and partner == arms[0] else (arms[0], "ambiguous")
    if len(arms) != 2:
        return None, "unknown"
    if partner in arms:
        return arms[1 - arms.index(partner)], "renamed"
    return (arms[1] if star else arms[0]), "ambiguous"


def _split_merged(name: str) -> list[str]:
    """``hsa-miR-192-5p/215-5p`` -> [``hsa-miR-192-5p``, ``hsa-miR-215-5p``]."""
    parts = [p.strip() for p in name.split("/")]
    match = re.match(r"^((?:[a-z]{3}-)?(?:miR|mir|let|lin)-)", parts[0], re.IGNORECASE)
    prefix = match.group(1) if match else ""
    return [parts[0]] + [p if _MIRNA.match(p) else prefix + p for p in parts[1:]]


def _resolve_one(name: str, index: _Index) -> tuple[str | None, str]:
    """(accession, status) of a single (unmerged) name."""
    for position, variant in enumerate(_variants(name)):
        accession = _lookup(variant, index)
        if accession:
            exact = position == 0 and variant in index.current_names and index.current[accession] == variant
            return accession, "exact" if exact else "renamed"
    for variant in _variants(name):
        accession, status = _by_arm_rule(variant, index)
        if accession:
            return accession, status
    return None, "unknown"


def harmonize_names(names, accessions=None, level: str = "mature") -> pd.DataFrame:
    """Map feature names to current miRBase names and accessions.

    Parameters
    ----------
    names
        Feature names as a file gives them.
    accessions
        Optional, one per name: a MIMAT accession (or a string containing one, such as
        ``MI0000342_MIMAT0004571``) that the file gives for the row. Used before the name.
    level
        What the rows count: ``mature`` miRNAs, or ``hairpin`` (precursor) counts, each of which
        becomes its hairpin family (:mod:`srna_nb.hairpins`). Stated for a whole table: a name such
        as ``hsa-let-7b`` is a hairpin in one table and a pre-2014 mature name in another.

    Returns
    -------
    DataFrame
        One row per input name, in order: ``input``; ``feature``, the harmonized name (the
        current name; for merged names the members' names joined by ``/``; the input without a
        copy suffix for unknown names; the input for non-miRNAs); ``accession`` (``;``-joined for
        merged names, empty where unknown); ``members``, what the feature counts (accessions,
        or names where no accession is known), the feature's identity for matching; ``status``
        (see the module docstring).
    """
    index = _index()
    names = [str(n).strip() for n in names]
    if level == "hairpin":
        return _harmonize_hairpins(names, index)
    if level != "mature":
        raise ValueError(f"level must be 'mature' or 'hairpin', got {level!r}")
    given = [None] * len(names) if accessions is None else list(accessions)
    rows = []
    for name, accession_text in zip(names, given):
        found = _ACCESSION.findall(str(accession_text)) if accession_text is not None else []
        found = sorted({a for a in found if a in index.current and a not in index.deleted})  # others: by name
        if found:
            status = "merged" if len(found) > 1 else ("exact" if index.current[found[0]] == name else "renamed")
            rows.append(_row(name, [(a, None) for a in found], status, index))
        elif not _MIRNA.match(name):
            rows.append((name, name, "", name, "other"))
        else:
            parts = [_resolve_one(part, index) for part in _split_merged(name)]
            members = [(accession, _plain(part)) for part, (accession, _) in zip(_split_merged(name), parts)]
            if any(a is None or a in index.deleted for a, _ in members):
                status = "unknown"  # kept under its own name (a deleted entry keeps its accession)
            elif len(parts) > 1:
                status = "merged" if len({a for a, _ in members}) > 1 else "renamed"
            else:
                status = parts[0][1]
            rows.append(_row(name, members, status, index))
    return pd.DataFrame(rows, columns=["input", "feature", "accession", "members", "status"])


def _harmonize_hairpins(names: list[str], index: _Index) -> pd.DataFrame:
    rows = []
    for name in names:
        if not _MIRNA.match(name):
            rows.append((name, name, "", name, "other"))
            continue
        family = hairpin_family(name, lambda mature: _resolve_one(mature, index)[0])
        if family is None:
            stem = unresolved_feature(name)
            rows.append((name, stem, "", stem, "unknown"))
        else:
            rows.append(_row(name, [(a, None) for a in family], "hairpin", index))
    return pd.DataFrame(rows, columns=["input", "feature", "accession", "members", "status"])


def _plain(name: str) -> str:
    """An unresolved name as a feature name: without a copy suffix."""
    return _COPY_SUFFIX.sub("", name)


def _row(name: str, members: list[tuple[str | None, str | None]], status: str, index: _Index) -> tuple:
    """One output row from (accession or None, fallback name) members."""
    labels = sorted({index.current[a] if a and a not in index.deleted else plain for a, plain in members},
                    key=_name_order if status == "hairpin" else None)
    tokens = sorted({a or plain for a, plain in members})
    accessions = sorted({a for a, _ in members if a}, key=lambda a: index.current[a])
    return name, "/".join(labels), ";".join(accessions), ";".join(tokens), status


def _name_order(name: str) -> tuple:
    """Names in reading order: ``hsa-miR-21-5p`` before ``hsa-miR-21-3p``, ``miR-2`` before ``miR-10``."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", re.sub(r"-5p$", "-3a", name)))


def describe_mapping(mapping: pd.DataFrame) -> str:
    """One line: how many names were exact / renamed / merged / ambiguous / unknown / other, and rows summed."""
    counts = mapping["status"].value_counts()
    summed = int(len(mapping) - mapping["members"].nunique())
    parts = ", ".join(f"{int(counts.get(status, 0))} {status}" for status in NAME_STATUSES)
    return (f"Feature names harmonized to miRBase 22: {parts}"
            + (f"; {summed} rows summed into the miRNA they count" if summed else "") + ".")


def family_names(features) -> list[str]:
    """The hairpin family (:mod:`srna_nb.hairpins`) each feature belongs to, named as hairpin rows are
    (``hsa-miR-21-5p`` -> ``hsa-miR-21-5p/hsa-miR-21-3p``); features of no family (unknown names,
    other RNA classes) keep their name. The level at which mature and hairpin tables meet."""
    index = _index()
    names = []
    for row in harmonize_names(features).itertuples(index=False):
        accessions = [member for member in row.members.split(";") if member.startswith("MIMAT")]
        family = family_of_mature(accessions) if accessions and len(accessions) == len(row.members.split(";")) else None
        names.append(row.feature if family is None else _row(row.input, [(a, None) for a in family], "hairpin", index)[1])
    return names


def feature_identities(features) -> list[frozenset[str]]:
    """What each feature counts (its members), for harmonized or raw names alike."""
    return [frozenset(members.split(";")) for members in harmonize_names(features)["members"]]


def feature_matrix(targets, available) -> tuple[sparse.csr_matrix, np.ndarray]:
    """How to build ``targets`` features from ``available`` ones.

    Returns ``(weights, coverage)``: ``weights`` is a sparse ``(n_available, n_targets)`` 0/1
    matrix such that ``X_available @ weights`` has the target features, and ``coverage`` is the
    share of each target's members that the available features provide (1.0: fully present;
    0: missing). Names that are equal match first, as they are; the rest match by identity: an
    available feature adds into the target whose members contain its own (old and new names of
    one miRNA meet, and a merged target ``a/b`` is the sum of ``a`` and ``b``).
    """
    targets, available = [str(t) for t in targets], [str(a) for a in available]
    exact = {name: column for column, name in enumerate(targets)}
    rows, columns = [], []
    coverage = np.zeros(len(targets))
    for row, name in enumerate(available):
        if name in exact:
            rows.append(row)
            columns.append(exact[name])
            coverage[exact[name]] = 1.0
    open_targets = [c for c in range(len(targets)) if coverage[c] == 0]
    open_available = sorted(set(range(len(available))) - set(rows))
    target_ids = feature_identities([targets[c] for c in open_targets])
    available_ids = feature_identities([available[r] for r in open_available])
    owner: dict[str, int] = {}
    for position, ids in sorted(enumerate(target_ids), key=lambda item: len(item[1])):
        for member in ids:
            owner.setdefault(member, position)  # the most specific target owns a member
    covered: list[set[str]] = [set() for _ in target_ids]
    for row, ids in zip(open_available, available_ids):
        positions = {owner.get(member) for member in ids}
        if len(positions) == 1 and None not in positions:
            position = positions.pop()
            if ids <= target_ids[position]:
                rows.append(row)
                columns.append(open_targets[position])
                covered[position] |= ids
    for position, (done, ids) in enumerate(zip(covered, target_ids)):
        coverage[open_targets[position]] = len(done) / len(ids)
    weights = sparse.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, columns)), shape=(len(available), len(targets)))
    return weights, coverage
