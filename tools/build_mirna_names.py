"""Build ``srna_nb/data/mirna_names.tsv.gz``: every known human mature-miRNA name -> MIMAT accession.

Reads miRBase's own change lists (``mirbase_history/diff/<release>.diff.gz``, releases 6-22), the
hairpin -> mature accession pairs (``mi2mimat.tsv.gz``) and the oldest hairpin entries
(``diff/hsa.dat.gz``) from ``../shared/data`` and writes one row per (name, accession):

``name``        a name the accession carried in some release (or its current name)
``accession``   MIMAT accession
``current``     the accession's name in the latest release of the lists (22)
``release``     the release in which ``name`` was recorded (``<6`` for names of the oldest entries)
``deleted``     1 when miRBase deleted the accession

Usage: ``python tools/build_mirna_names.py [SHARED_DATA_DIR]``. Deterministic: the same inputs
give a byte-identical file (gzip header without a time stamp).
"""

from __future__ import annotations

import gzip
import io
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "srna_nb" / "data" / "mirna_names.tsv.gz"


def _release_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.name[: -len(".diff.gz")].split("."))


def read_history(directory: Path) -> dict[str, list[tuple[str, str, str]]]:
    """accession -> [(release, name, tag), ...] for human mature entries, in release order."""
    history: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for path in sorted((directory / "diff").glob("*.diff.gz"), key=_release_key):
        release = path.name[: -len(".diff.gz")]
        with gzip.open(path, "rt") as handle:
            for line in handle:
                if line.startswith("#"):
                    continue
                fields = line.rstrip("\n").split("\t")
                if len(fields) >= 3 and fields[0].startswith("MIMAT") and fields[1].startswith("hsa-"):
                    history[fields[0]].append((release, fields[1], fields[2]))
    return history


def read_oldest_products(directory: Path) -> dict[str, str]:
    """Hairpin accession -> the mature product name of the oldest hairpin entries (``hsa.dat.gz``)."""
    products, accession = {}, None
    with gzip.open(directory / "diff" / "hsa.dat.gz", "rt") as handle:
        for line in handle:
            if line.startswith("AC"):
                accession = line.split()[1].rstrip(";")
            match = re.search(r'/product="([^"]+)"', line)
            if match and accession and accession not in products:
                products[accession] = match.group(1)
    return products


def read_hairpin_names(directory: Path) -> dict[str, list[str]]:
    """Hairpin accession -> every human name the change lists record for it."""
    names: dict[str, list[str]] = defaultdict(list)
    for path in sorted((directory / "diff").glob("*.diff.gz"), key=_release_key):
        with gzip.open(path, "rt") as handle:
            for line in handle:
                fields = line.rstrip("\n").split("\t")
                if len(fields) >= 3 and fields[0].startswith("MI0") and fields[1].startswith("hsa-"):
                    names[fields[0]].append(fields[1])
    return names


def read_hairpin_matures(directory: Path) -> dict[str, list[str]]:
    pairs: dict[str, list[str]] = defaultdict(list)
    with gzip.open(directory / "mi2mimat.tsv.gz", "rt") as handle:
        next(handle)
        for line in handle:
            hairpin, mature = line.split()
            pairs[hairpin].append(mature)
    return pairs


def build_rows(directory: Path) -> list[tuple[str, str, str, str, int]]:
    history = read_history(directory)
    current = {accession: events[-1][1] for accession, events in history.items()}
    deleted = {accession for accession, events in history.items() if events[-1][2] == "DELETE"}
    rows = {(name, accession, release) for accession, events in history.items() for release, name, _ in events}
    # The oldest entries' product names (before release 6): the product is the hairpin's first
    # registered mature accession (the lowest number), the strand the name denoted then.
    hairpins = read_hairpin_matures(directory)
    for hairpin, product in read_oldest_products(directory).items():
        if hairpins.get(hairpin):
            rows.add((product, min(hairpins[hairpin]), "<6"))
    rows |= _unrecorded_mature_names(rows, hairpins, read_hairpin_names(directory))
    # Earliest release a (name, accession) pair was seen in, one row per pair.
    first: dict[tuple[str, str], str] = {}
    for name, accession, release in sorted(rows, key=lambda r: (r[0], r[1], _sort_release(r[2]))):
        first.setdefault((name, accession), release)
    # An accession no change list records keeps the name it was given; an armed name is the newer.
    for name, accession in sorted(first, key=lambda pair: (pair[1], bool(re.search(r"-[35]p$", pair[0])), pair[0])):
        if accession not in history:
            current[accession] = name
    return sorted(
        (name, accession, current[accession], release, int(accession in deleted))
        for (name, accession), release in first.items()
    )


def _unrecorded_mature_names(rows, hairpins, hairpin_names) -> set[tuple[str, str, str]]:
    """Names of mature accessions that no change list records (their names never changed).

    miRBase's nomenclature fixes them from what is recorded, by two rules, each applied only when
    the name is not already another accession's:

    - the only mature product of a hairpin is named after the hairpin (``hsa-mir-429`` ->
      ``hsa-miR-429``; a locus number such as ``-1`` is dropped);
    - of a hairpin's two products, the unrecorded one is the arm its recorded sibling is not
      (sibling ``hsa-miR-142-5p`` -> ``hsa-miR-142-3p``).
    """
    named = {accession for _, accession, _ in rows}
    claimed = {name.lower() for name, _, _ in rows}
    mature_hairpins: dict[str, set[str]] = defaultdict(set)
    for hairpin, matures in hairpins.items():
        for mature in matures:
            mature_hairpins[mature].add(hairpin)
    names_of = defaultdict(set)
    for name, accession, _ in rows:
        names_of[accession].add(name)
    derived: dict[str, set[str]] = defaultdict(set)
    for mature in sorted(set(mature_hairpins) - named):
        for hairpin in sorted(mature_hairpins[mature]):
            products = set(hairpins[hairpin])
            if products == {mature}:
                for name in hairpin_names.get(hairpin, []):
                    derived[mature].add(re.sub(r"^(hsa-miR-\d+[a-z]*)-\d+$", r"\1", name.replace("-mir-", "-miR-")))
            elif len(products) == 2:
                (sibling,) = products - {mature}
                for name in names_of.get(sibling, ()):
                    match = re.fullmatch(r"(.+)-([35])p", name)
                    if match:
                        derived[mature].add(f"{match.group(1)}-{'5' if match.group(2) == '3' else '3'}p")
    # A name derived for two accessions decides neither.
    owners = defaultdict(set)
    for mature, names in derived.items():
        for name in names:
            owners[name.lower()].add(mature)
    return {(name, mature, "<6") for mature, names in derived.items() for name in names
            if name.lower() not in claimed and len(owners[name.lower()]) == 1}


def _sort_release(release: str) -> tuple[int, ...]:
    return (0,) if release == "<6" else tuple(int(p) for p in release.split("."))


def write_table(path: Path, header: str, rows) -> None:
    """Rows as a gzipped TSV, byte-identical for the same rows (no time stamp in the gzip header)."""
    text = header + "\n" + "".join("\t".join(map(str, row)) + "\n" for row in rows)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as handle:
        handle.write(text.encode())
    path.write_bytes(buffer.getvalue())


def main(argv: list[str]) -> int:
    shared = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "data"
    directory = shared / "mirbase_history"
    if not directory.is_dir():
        print(f"build_mirna_names: {directory} not found", file=sys.stderr)
        return 2
    rows = build_rows(directory)
    write_table(OUTPUT, "name\taccession\tcurrent\trelease\tdeleted", rows)
    accessions = {row[1] for row in rows}
    print(f"{OUTPUT.relative_to(ROOT)}: {len(rows)} names of {len(accessions)} human mature accessions "
          f"({sum(1 for a in accessions if a in {r[1] for r in rows if r[4]})} deleted), {OUTPUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
