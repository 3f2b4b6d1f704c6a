"""srna_nb.files: writes are all or nothing; hashes cover names and contents."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from srna_nb.files import atomic_write, replace_atomically, sha256_file, update_digest, write_csv


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "table.csv"
    write_csv(pd.DataFrame({"a": [1, 2]}), target)
    assert target.read_text() == "a\n1\n2\n"

    def half_then_fail(temporary):
        temporary.write_text("a\n3\n")
        raise KeyboardInterrupt  # an interruption mid-write

    with pytest.raises(KeyboardInterrupt):
        replace_atomically(target, half_then_fail)
    assert target.read_text() == "a\n1\n2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
    atomic_write(tmp_path / "new" / "page.html", "<p>ok</p>")  # folders are made
    assert (tmp_path / "new" / "page.html").read_text() == "<p>ok</p>"


def test_hashes(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_bytes(b"abc")
    assert sha256_file(tmp_path / "d" / "x.txt") == hashlib.sha256(b"abc").hexdigest()
    before = hashlib.sha256()
    update_digest(before, tmp_path / "d")
    (tmp_path / "d" / "x.txt").rename(tmp_path / "d" / "y.txt")  # same content, other name
    after = hashlib.sha256()
    update_digest(after, tmp_path / "d")
    assert before.hexdigest() != after.hexdigest()
