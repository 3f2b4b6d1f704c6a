"""Build ``srna_nb/data/mirna_hairpins.tsv.gz``: every known human hairpin (stem-loop) name -> MI accession -> mature products.

Hairpin-level tables (TCGA's BCGSC counts, ``hsa-mir-21``, ``hsa-let-7a-1``) count the reads of a
precursor, both arms together. To put them beside mature-level tables, srna_nb needs each
hairpin's mature products. Read from ``../shared/data/mirbase_history``: miRBase's change lists
(``diff/<release>.diff.gz``, human ``MI`` entries and their names by release), the oldest entries
(``diff/hsa.dat.gz``: names from the ``DE`` line, ``Homo sapiens let-7a-1 precursor RNA``) and
the hairpin -> mature pairs (``mi2mimat.tsv.gz``). One row per (name, accession):

``name``        a name the hairpin carried in some release (or its current name)
``accession``   MI accession
``current``     the hairpin's name in the latest release of the lists (22)
``deleted``     1 when miRBase deleted the hairpin
``products``    its mature accessions (MIMAT), ``;``-joined, only those the human name table knows

Hairpins that predate the change lists and are absent from ``hsa.dat.gz`` carry no recorded name
(``hsa-mir-100``, ``hsa-mir-1-1``): they get a row with an empty name, so that their products still
join hairpin families (:mod:`srna_nb.hairpins`), where such names are resolved by their mature
products' names.

Usage: ``python tools/build_mirna_hairpins.py [SHARED_DATA_DIR]``. Deterministic: the same inputs
give a byte-identical file.
"""

from __future__ import annotations

import gzip
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from build_mirna_names import _release_key, read_hairpin_matures, write_table  # noqa: E402

OUTPUT = ROOT / "srna_nb" / "data" / "mirna_hairpins.tsv.gz"
MATURE_NAMES = ROOT / "srna_nb" / "data" / "mirna_names.tsv.gz"


def read_hairpin_history(directory: Path) -> dict[str, list[tuple[str, str]]]:
    """Hairpin accession -> [(name, tag), ...] of human entries in release order, oldest names first."""
    history: dict[str, list[tuple[str, str]]] = defaultdict(list)
    accession = None
    with gzip.open(directory / "diff" / "hsa.dat.gz", "rt") as handle:
        for line in handle:
            if line.startswith("AC"):
                accession = line.split()[1].rstrip(";")
            elif line.startswith("DE") and accession and not history[accession]:
                # "Homo sapiens let-7a-1 precursor RNA"; the oldest entries wrote miR- for hairpins too.
                name = "hsa-" + line.split()[3].replace("miR-", "mir-")
                history[accession].append((name, "OLD"))
    for path in sorted((directory / "diff").glob("*.diff.gz"), key=_release_key):
        with gzip.open(path, "rt") as handle:
            for line in handle:
                fields = line.rstrip("\n").split("\t")
                if len(fields) >= 3 and fields[0].startswith("MI0") and fields[1].startswith("hsa-"):
                    history[fields[0]].append((fields[1], fields[2]))
    return history


def human_matures() -> set[str]:
    with gzip.open(MATURE_NAMES, "rt") as handle:
        next(handle)
        return {line.split("\t")[1] for line in handle}


def build_rows(directory: Path) -> list[tuple[str, str, str, int, str]]:
    history = read_hairpin_history(directory)
    products = read_hairpin_matures(directory)
    known = human_matures()
    rows = set()
    for accession, events in history.items():
        current = events[-1][0]
        deleted = int(events[-1][1] == "DELETE")
        own = ";".join(sorted(m for m in products.get(accession, []) if m in known))
        for name, _ in events:
            rows.add((name, accession, current, deleted, own))
    # Human hairpins without any recorded name: every product is a human mature accession.
    for accession, matures in products.items():
        if accession not in history and matures and all(m in known for m in matures):
            rows.add(("", accession, "", 0, ";".join(sorted(matures))))
    return sorted(rows, key=lambda row: (row[1], row[0]))


def main(argv: list[str]) -> int:
    shared = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "data"
    directory = shared / "mirbase_history"
    if not directory.is_dir():
        print(f"build_mirna_hairpins: {directory} not found", file=sys.stderr)
        return 2
    rows = build_rows(directory)
    write_table(OUTPUT, "name\taccession\tcurrent\tdeleted\tproducts", rows)
    accessions = {row[1] for row in rows}
    without = len({row[1] for row in rows if not row[4] and not row[3]})
    unnamed = len({row[1] for row in rows if not row[0]})
    print(f"{OUTPUT.relative_to(ROOT)}: {len(rows)} rows of {len(accessions)} human hairpins "
          f"({len({r[1] for r in rows if r[3]})} deleted, {unnamed} without a recorded name, "
          f"{without} live ones without a known product), "
          f"{OUTPUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
