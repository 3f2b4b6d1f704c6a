"""Property-based robustness: generated malformed matrices and sample sheets thrown at the loaders.

Every input either loads into a consistent Atlas or fails with srna_nb's own error type and a
one-line message; never another exception, never a hang (hypothesis' deadline), never a modified file.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from srna_nb.atlas import Atlas
from srna_nb.errors import SrnaError
from srna_nb.io import load_atlas, read_h5ad

SRNA_NAMES = ["hsa-miR-21-5p", "hsa-let-7a-5p", "hsa-miR-122-5p", "piR-hsa-1043", "SNORD44", "tRF-5-Gly-GCC-1",
              "hsa-miR-451a", "hsa-miR-16-5p"]
# SRNA_FUZZ_EXAMPLES=3000 for a longer hunt (3,000 per test found nothing on 2026-11-24).
FUZZ = settings(max_examples=int(os.environ.get("SRNA_FUZZ_EXAMPLES", 120)), deadline=10_000, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])

names = st.one_of(
    st.sampled_from(SRNA_NAMES),
    st.text(min_size=0, max_size=12),  # any unicode, empty included
    st.text(alphabet="ab\u00e9\u4e2d\U0001f9ec,;\"'\t ", min_size=1, max_size=6),  # separators and quotes inside names
    st.just("x" * 5000),  # very long
)
cells = st.one_of(
    st.integers(min_value=0, max_value=10_000).map(str),
    st.integers(min_value=-10**30, max_value=10**30).map(str),  # negative and huge
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NA", "nan", "inf", "-0", "1e309", "1,5", "abc", "\u221e", "0x1F", "TRUE"]),
)


@st.composite
def tables(draw, sample_ids=st.text(min_size=1, max_size=10)):
    """A valid table (header + rows of counts) with a few random faults planted in it.

    Faults: ragged rows, duplicate or empty ids, odd names (unicode, separators, quotes, 5,000
    characters), bad cells (negative, huge, NaN, inf, words), transposition.
    """
    features = draw(st.lists(st.sampled_from(SRNA_NAMES), min_size=1, max_size=6, unique=True))
    ids = draw(st.lists(sample_ids, min_size=1, max_size=6, unique=True))
    rows = [["id", *features]] + [[i, *[str(draw(st.integers(0, 5000))) for _ in features]] for i in ids]
    if draw(st.booleans()):
        rows = [list(column) for column in zip(*rows)]  # the other orientation
    for _ in range(draw(st.integers(0, 3))):
        fault = draw(st.sampled_from(["ragged", "duplicate", "name", "cell", "empty_row", "drop_header"]))
        r = draw(st.integers(0, len(rows) - 1))
        if fault == "ragged":
            rows[r] = rows[r][: draw(st.integers(0, len(rows[r])))] + [draw(cells) for _ in range(draw(st.integers(0, 2)))]
        elif fault == "duplicate" and len(rows) > 1:
            rows.append(list(rows[max(r, 1)]))
        elif fault == "name" and rows[r]:
            rows[r][0] = draw(names)
        elif fault == "cell" and len(rows[r]) > 1:
            rows[r][draw(st.integers(1, len(rows[r]) - 1))] = draw(cells)
        elif fault == "empty_row":
            rows.insert(r, [])
        elif fault == "drop_header":
            rows = rows[1:] or [[]]
    return rows


@st.composite
def sheets(draw, matrix_rows):
    """A sample sheet for (some of) the ids in a matrix, with faults of its own."""
    ids = [row[0] for row in matrix_rows[1:] if row] + [draw(names)]
    chosen = draw(st.lists(st.sampled_from(ids), max_size=len(ids) + 1))
    rows = [["sample", "study", "tissue"]] + [[i, draw(st.sampled_from(["A", "B", "", "\u00e9"])), draw(names)] for i in chosen]
    if draw(st.booleans()) and len(rows) > 1:
        rows[draw(st.integers(0, len(rows) - 1))] = [draw(names) for _ in range(draw(st.integers(0, 5)))]
    return rows


def _text(rows, delimiter: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue()


def _check(call, files: list[Path], note=event):
    """Run a loader: an Atlas that holds together, or an SrnaError with one line; files untouched."""
    before = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    try:
        atlas = call()
    except SrnaError as error:
        message = str(error)
        assert message and "\n" not in message, repr(message)
        note(f"refused: {type(error).__name__}")
        atlas = None
    assert [hashlib.sha256(f.read_bytes()).hexdigest() for f in files] == before
    if atlas is not None:
        note("loaded")
        assert isinstance(atlas, Atlas)
        assert atlas.counts.dtype == np.float32
        assert atlas.counts.shape == (len(atlas.samples), len(atlas.features))
        assert np.isfinite(atlas.counts).all() and (atlas.counts >= 0).all()
        assert atlas.samples.index.is_unique and atlas.features.index.is_unique


@FUZZ
@given(data=st.data(), delimiter=st.sampled_from([",", "\t", ";"]),
       compress=st.booleans(), orientation=st.sampled_from(["auto", "features_x_samples", "samples_x_features"]),
       value_kind=st.sampled_from(["counts", "rpm", "log2_rpm"]), join=st.sampled_from(["strict", "inner"]))
def test_generated_text_inputs_load_or_fail_cleanly(tmp_path_factory, data, delimiter, compress, orientation, value_kind, join):
    matrix = data.draw(tables())
    sheet = data.draw(st.one_of(st.none(), sheets(matrix)))
    folder = tmp_path_factory.mktemp("fuzz")
    suffix = ".tsv" if delimiter == "\t" else ".csv"
    counts = folder / f"counts{suffix}{'.gz' if compress else ''}"
    text = _text(matrix, delimiter)
    if compress:
        with gzip.open(counts, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        counts.write_text(text, encoding="utf-8")
    files = [counts]
    samples = None
    if sheet is not None:
        samples = folder / "samples.csv"
        samples.write_text(_text(sheet, ","), encoding="utf-8")
        files.append(samples)
    _check(lambda: load_atlas(counts, samples, orientation=orientation, value_kind=value_kind, join=join), files)


@FUZZ
@given(content=st.binary(max_size=400), name=st.sampled_from(["counts.csv", "counts.tsv.gz", "counts.csv.gz", "counts.txt"]))
def test_arbitrary_bytes_fail_cleanly(tmp_path_factory, content, name):
    path = tmp_path_factory.mktemp("bytes") / name
    path.write_bytes(content)
    _check(lambda: load_atlas(path), [path])


@FUZZ
@given(content=st.binary(max_size=300))
def test_arbitrary_bytes_as_h5ad_fail_cleanly(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("h5") / "atlas.h5ad"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + content)  # HDF5 signature, then garbage
    _check(lambda: read_h5ad(path), [path])


def test_missing_and_directory_paths_fail_cleanly(tmp_path):
    _check(lambda: load_atlas(tmp_path / "nope.csv"), [], note=print)
    _check(lambda: load_atlas(tmp_path), [], note=print)
