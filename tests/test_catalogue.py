"""The catalogue of public atlases, hairpin-level tables and array value kinds."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from srna_nb.errors import SrnaInputError
from srna_nb.hairpins import hairpin_family
from srna_nb.io import catalogue, load_atlas, load_atlases, load_catalogue_atlas, read_catalogue
from srna_nb.names import feature_matrix, harmonize_names
from srna_nb.vocabulary import read_sample_type_table

N = 6  # samples per fixture
MATURE = ["hsa-miR-21-5p", "hsa-miR-122-5p", "hsa-let-7a-5p", "hsa-miR-375-3p"]
HAIRPINS = ["hsa-mir-21", "hsa-mir-122", "hsa-let-7a-1", "hsa-let-7a-2"]
NOT_SRNA = ["POS_A", "HK_ACTB", "ath-miR159a"]


def _values(kind: str, rng, shape) -> np.ndarray:
    counts = rng.integers(1, 500, size=shape).astype(float)
    if kind == "counts":
        return counts
    if kind == "rpm":
        return counts / counts.sum(axis=0) * 1e6 + 0.25
    if kind == "intensity":
        return counts * 1.37
    return np.log2(counts / 40.0)  # log2_intensity, some values below zero


def _rule_values(source: str) -> dict[str, str]:
    """A value of every column the source's sample-type rules read."""
    rules = read_sample_type_table()
    rules = rules[rules["source"] == source]
    return dict(zip(rules["column"][::-1], rules["value"][::-1]))


def write_fixture(description, root) -> None:
    """A small matrix and sample sheet in the layout ``description`` declares."""
    rng = np.random.default_rng(0)
    folder = root / description.folder
    folder.mkdir(parents=True, exist_ok=True)
    samples = [f"S{i}" for i in range(N)]
    names = list(HAIRPINS if description.feature_level == "hairpin" else MATURE)
    if description.drop_features:
        names.append(next(n for n in NOT_SRNA if re.match(description.drop_features, n)))
    values = _values(description.value_kind, rng, (len(names), N))
    if description.empty_cells == "unmeasured":
        values[1, :2] = np.nan
    matrix = pd.DataFrame(values, columns=samples)
    matrix.insert(0, description.feature_column or "miRNA", names)
    for column in description.annotation_columns:
        matrix[column] = "x"
    matrix = matrix[[description.feature_column or "miRNA", *description.annotation_columns, *samples]]
    matrix.to_csv(folder / description.counts, sep="\t" if ".tsv" in description.counts else ",", index=False)

    sheet = {description.id_column or "sample_id": samples}
    if description.study:
        sheet[description.study] = ["01", "01", "02", "02", "03", "03"]
    if description.subject and description.subject != description.study:
        sheet[description.subject] = [f"p{i // 2}" for i in range(N)]
    for new, old in description.copy.items():
        sheet.setdefault(old, "lung")
    for column, allowed in description.where.items():
        sheet[column] = [allowed[0] if isinstance(allowed, list) else allowed] * N
    for label, rule in description.labels.items():
        if label == "sample_type":
            rule = {"rules": rule} if isinstance(rule, str) else rule
            sheet.update(_rule_values(rule["rules"]))
            for where_column, allowed in (rule.get("where") or {}).items():
                sheet[where_column] = [allowed[0]] * (N - 1) + ["not this"]
        elif label == "sex":
            spellings = list((rule.get("values") or {"Male": "male", "FEMALE": "female"}))
            sheet[rule["column"]] = (spellings * N)[: N - 1] + ["ND"]
        elif label == "age":
            sheet[rule["column"]] = ["52", "27", "ND", "61", "33", "48"]
        else:
            sheet[rule["column"]] = list(rule["values"])[0]
    frame = pd.DataFrame(sheet)
    for column in description.ignore_columns:
        frame[column + " "] = "a"  # the same name twice once stripped: GEO's repeated columns
        frame[column] = "b"
    if description.sheet_format == "geo_characteristics":
        plain = [c for c in frame.columns if c != frame.columns[0] and c not in description.where]
        cells = frame[plain].apply(lambda row: [f"{c}: {row[c]}" for c in plain], axis=1, result_type="expand")
        frame = pd.concat([frame.drop(columns=plain), cells], axis=1)
        frame.columns = [frame.columns[0], *["!Sample_characteristics_ch1"] * len(plain)]
    frame.to_csv(folder / description.samples, sep="\t" if ".tsv" in description.samples else ",", index=False)


@pytest.mark.parametrize("name", list(catalogue()))
def test_every_catalogue_entry_loads_from_a_fixture_in_its_format(name, tmp_path):
    description = catalogue()[name]
    write_fixture(description, tmp_path)
    atlas = load_catalogue_atlas(name, tmp_path)
    assert atlas.n_samples == N and atlas.value_kind == description.value_kind
    assert atlas.provenance["feature_level"] == description.feature_level
    assert not any(n in atlas.feature_names for n in NOT_SRNA)
    codes = {"01", "02", "03"} if description.study in description.text_columns else {"1", "2", "3"}  # codes kept as text
    assert set(atlas.samples["study"]) == ({description.study_value} if description.study_value else codes)
    if description.subject:
        assert atlas.samples["subject"].nunique() == (N // 2 if description.subject != description.study else 3)
    labels = description.labels
    typed = atlas.samples["sample_type"]
    restricted = isinstance(labels["sample_type"], dict) and labels["sample_type"].get("where")
    assert typed.notna().sum() == (N - 1 if restricted else N)
    if "sex" in labels:
        assert set(atlas.samples["sex"].dropna()) <= {"male", "female"} and atlas.samples["sex"].isna().sum() == 1
    if "age" in labels:
        assert atlas.samples["age"].tolist()[:2] == [52, 27] and np.isnan(atlas.samples["age"].iat[2])
    if description.feature_level == "hairpin":
        assert "hsa-let-7a-2-3p/hsa-let-7a-5p/hsa-let-7a-3p" in atlas.feature_names  # one family, named in a fixed order
        assert atlas.n_features == 3  # let-7a-1 and let-7a-2 are one family
    labelled = load_atlases(tmp_path, names=[name], labelled="sample_type")[name]
    assert labelled.n_samples == typed.notna().sum()


def test_the_shipped_catalogue_names_every_public_atlas_with_a_licence():
    entries = catalogue()
    assert len(entries) >= 14
    assert all(d.licence and d.title for d in entries.values())
    assert {d.value_kind for d in entries.values()} == {"counts", "rpm", "intensity", "log2_intensity"}
    assert entries["tcga"].feature_level == "hairpin"


@pytest.mark.parametrize("text, message", [
    ("lab: {counts: c.csv, samples: s.csv}", "atlas 'lab': no 'value_kind'"),
    ("lab: {counts: c.csv, samples: s.csv, value_kind: tpm, study: x}", "value_kind must be one of counts"),
    ("lab: {counts: c.csv, samples: s.csv, value_kind: counts}", "give either study"),
    ("lab: {counts: c.csv, samples: s.csv, value_kind: counts, study: x, colour: red}", "unknown field 'colour'"),
    ("lab: {counts: c.csv, samples: s.csv, value_kind: counts, study: x, feature_level: precursor}", "feature_level must be one of"),
    ("lab: {counts: c.csv, samples: s.csv, value_kind: counts, study: x, labels: {sex: male}}", "labels.sex needs a column"),
    ("lab: [1, 2", "not valid YAML"),
])
def test_a_mistaken_description_is_one_line_naming_file_and_atlas(tmp_path, text, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(SrnaInputError, match=re.escape(message)) as error:
        read_catalogue(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


def test_a_users_own_catalogue_reads_relative_to_its_folder(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("lab:\n  counts: c.csv\n  samples: s.csv\n  value_kind: counts\n  study: batch\n"
                    "  labels: {sample_type: {rules: GSE131695}, sex: {column: gender}}\n")
    mine = read_catalogue(path)
    pd.DataFrame({"miRNA": MATURE, **{f"S{i}": [5, 6, 7, 8] for i in range(3)}}).to_csv(tmp_path / "c.csv", index=False)
    pd.DataFrame({"id": ["S0", "S1", "S2"], "batch": ["b1", "b1", "b2"], "Biofluid": ["Serum", "CSF", "urine"],
                  "gender": ["M", "female", "Female"]}).to_csv(tmp_path / "s.csv", index=False)
    atlas = load_atlases(tmp_path, descriptions=mine)["lab"]
    assert atlas.samples["sample_type"].tolist()[:2] == ["plasma/serum", "cerebrospinal fluid"]
    assert atlas.samples["sex"].tolist()[1:] == ["female", "female"] and pd.isna(atlas.samples["sex"].iat[0])
    with pytest.raises(SrnaInputError, match="atlas 'nothing' is not there|no atlas 'nothing'"):
        load_atlases(tmp_path, names=["nothing"], descriptions=mine)


# -- hairpins -----------------------------------------------------------------------------------
def test_hairpins_are_their_mature_products_by_mirbase():
    # miRBase: MI0000077 hsa-mir-21 -> MIMAT0000076 hsa-miR-21-5p, MIMAT0004494 hsa-miR-21-3p.
    assert hairpin_family("hsa-mir-21") == {"MIMAT0000076", "MIMAT0004494"}
    # let-7a-1, -2, -3 share hsa-let-7a-5p (MIMAT0000062): one family; let-7a-2-3p is let-7a-2's own arm.
    let7a = hairpin_family("hsa-let-7a-1")
    assert let7a == hairpin_family("hsa-let-7a-2") == hairpin_family("hsa-let-7a-3")
    assert {"MIMAT0000062", "MIMAT0004481", "MIMAT0010195"} <= let7a
    assert hairpin_family("hsa-mir-122") == {"MIMAT0000421", "MIMAT0004590"}
    table = harmonize_names(["hsa-mir-21", "hsa-mir-100", "hsa-mir-1-1", "hsa-mir-1-2"], level="hairpin")
    assert table["feature"].tolist()[0] == "hsa-miR-21-5p/hsa-miR-21-3p"
    assert table["status"].tolist() == ["hairpin"] * 4
    assert table["feature"].iat[2] == table["feature"].iat[3]  # two loci of miR-1: one family
    # Read as mature names instead, the same strings would be taken for one arm: the level decides.
    assert harmonize_names(["hsa-mir-21"])["feature"].iat[0] == "hsa-miR-21-5p"


def test_mature_tables_sum_into_hairpin_families_and_hairpins_never_fill_one_arm():
    family = harmonize_names(["hsa-mir-21"], level="hairpin")["feature"].iat[0]
    weights, coverage = feature_matrix([family], ["hsa-miR-21-5p", "hsa-miR-21-3p", "hsa-miR-122-5p"])
    assert weights.toarray()[:, 0].tolist() == [1, 1, 0] and coverage[0] == 1.0
    weights, coverage = feature_matrix(["hsa-miR-21-5p"], [family])
    assert weights.nnz == 0 and coverage[0] == 0.0


def _write(tmp_path, names, values, name="m.csv"):
    frame = pd.DataFrame(values, index=names, columns=[f"S{i}" for i in range(np.shape(values)[1])])
    frame.index.name = "miRNA"
    frame.to_csv(tmp_path / name)
    return tmp_path / name


def test_the_loader_states_the_level_it_found_and_sums_hairpins_into_families(tmp_path):
    path = _write(tmp_path, ["hsa-mir-21", "hsa-let-7a-1", "hsa-let-7a-3", "hsa-mir-122"], [[10, 1], [5, 2], [7, 3], [0, 9]])
    atlas = load_atlas(path)
    assert atlas.provenance["feature_level"] == "hairpin" and "never read as one mature arm" in atlas.provenance["level"]
    assert atlas.n_features == 3
    let7 = next(n for n in atlas.feature_names if "let-7a-5p" in n)
    assert atlas.counts[:, list(atlas.feature_names).index(let7)].tolist() == [12, 5]
    mixed = _write(tmp_path, ["hsa-mir-21", "hsa-miR-122-5p"], [[1, 2], [3, 4]], "mixed.csv")
    with pytest.raises(SrnaInputError, match="rows name both hairpins .* state which the counts are with feature_level"):
        load_atlas(mixed)
    with pytest.raises(SrnaInputError, match="feature_level is 'mature' but the rows have hairpin names only"):
        load_atlas(path, feature_level="mature")
    assert load_atlas(mixed, feature_level="mature").provenance["feature_level"] == "mature"


def test_unmeasured_cells_stay_unmeasured_only_when_said(tmp_path):
    path = _write(tmp_path, ["hsa-miR-21-5p", "hsa-miR-122-5p"], [[1.0, np.nan], [3.0, 4.0]])
    with pytest.raises(SrnaInputError, match="missing value"):
        load_atlas(path)
    atlas = load_atlas(path, empty_cells="unmeasured")
    assert np.isnan(atlas.counts).sum() == 1


# -- array and assay value kinds ----------------------------------------------------------------
def test_a_log2_array_is_refused_as_counts_in_one_line_and_read_as_log2_intensity(tmp_path):
    path = _write(tmp_path, ["hsa-miR-21-5p", "hsa-miR-122-5p", "hsa-let-7a-5p"], [[-0.4, 2.1], [9.7, 11.2], [5.5, 0.3]])
    for kind in ("counts", "rpm", "intensity"):
        with pytest.raises(SrnaInputError, match="negative value .*value_kind='log2_intensity'") as error:
            load_atlas(path, value_kind=kind)
        assert "\n" not in str(error.value)
    atlas = load_atlas(path, value_kind="log2_intensity")
    assert atlas.value_kind == "log2_intensity" and atlas.counts.min() < 0
    positive = _write(tmp_path, ["hsa-miR-21-5p", "hsa-miR-122-5p"], [[0.4, 2.1], [9.7, 11.2]], "p.csv")
    with pytest.raises(SrnaInputError, match="small non-integers.*'log2_intensity'"):
        load_atlas(positive, value_kind="counts")
    with pytest.raises(SrnaInputError, match="too large for a log2 signal"):
        load_atlas(_write(tmp_path, ["hsa-miR-21-5p"], [[4000.0, 12.0]], "big.csv"), value_kind="log2_intensity")


def test_signals_keep_their_order_within_a_sample_on_the_way_to_per_million():
    from srna_nb.preprocessing import to_linear

    log2 = np.array([[-1.0, 3.0, 7.5], [2.0, 0.5, 1.0]])
    linear = to_linear(log2, "log2_intensity", to_rpm=True)
    assert np.allclose(linear.sum(axis=1), 1e6)
    assert (np.argsort(linear, axis=1) == np.argsort(log2, axis=1)).all()
    assert np.allclose(to_linear(2.0 ** log2, "intensity", to_rpm=True), linear)


def test_the_real_catalogue_atlases_load(real_atlases):
    atlases = real_atlases
    assert len(atlases) == 14
    tcga = atlases["tcga"]
    assert tcga.n_samples == 10868 and tcga.provenance["feature_level"] == "hairpin"
    assert set(tcga.samples.loc[tcga.samples["sample_type"].notna(), "sample_code"]) == {"01", "11"}
    assert (tcga.samples["tss"] == "NA").sum() == 7  # a site code, not a missing value
    assert np.isnan(tcga.counts).any()  # cohorts quantified on fewer hairpins
    assert atlases["blood_fractions_gse32273"].samples["sample_type"].value_counts().to_dict() == {
        "platelets": 44, "PBMC": 44, "plasma microvesicles": 44}
    assert atlases["GSE178246"].samples["sample_type"].notna().sum() == 144  # bRNA controls have none
    assert atlases["blood_gse108395"].n_features == 800


def test_an_array_signal_meets_only_a_bundle_that_reads_ranks(small_simulation):
    from dataclasses import replace

    from srna_nb.augment import annotate, train_bundle

    atlas, _ = small_simulation
    train, new = atlas.subset(samples=np.arange(atlas.n_samples) % 4 != 0), atlas.subset(samples=np.arange(atlas.n_samples) % 4 == 0)
    array = replace(new, counts=np.log2(new.counts + 16.0), value_kind="log2_intensity", source="array.csv")
    ranks = train_bundle(train, "tissue", "linear", {"scaling": "quantile"}, n_splits=3, progress=False)
    from_counts, from_array = annotate(ranks, new).table, annotate(ranks, array).table
    assert (from_counts["predicted"] == from_array["predicted"]).mean() > 0.95  # simulated data
    centred = train_bundle(train, "tissue", "linear", {"scaling": "center"}, n_splits=3, progress=False)
    with pytest.raises(SrnaInputError, match=r"array.csv: log2_intensity values cannot be put on this bundle's counts scale") as error:
        annotate(centred, array)
    assert "\n" not in str(error.value)
