"""The sample sheet as public metadata comes: labels missing for whole studies, a few planted wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd

from srna_nb.targets import age_groups


def observed_metadata(truth, samples, tissues, missing_tissue, missing_sex, missing_age, mislabel_rate, age_bins, rng):
    sheet = pd.DataFrame(index=truth.index)
    sheet["study"] = samples["study"].to_numpy()
    sheet["tissue"] = truth["tissue"].to_numpy(dtype=object)
    sheet["tissue_group"] = truth["tissue_group"].to_numpy(dtype=object)
    sheet["sex"] = truth["sex"].to_numpy(dtype=object)
    sheet["age"] = truth["age"].to_numpy(dtype=float)
    sheet["library_prep"] = samples["library_prep"].to_numpy()
    n = len(sheet)
    mislabels = []
    # Tissue mix-ups: most often a swap with another tissue of the same study, else a tissue
    # of the same group (annotation slips), else anything.
    group_of = dict(zip(tissues["tissue"], tissues["group"]))
    study_tissues = sheet.groupby("study")["tissue"].agg(lambda s: sorted(set(s)))
    for position in np.flatnonzero(rng.random(n) < mislabel_rate):
        given = sheet["tissue"].iat[position]
        options = [t for t in study_tissues[sheet["study"].iat[position]] if t != given]
        if not options or rng.random() < 0.3:
            options = [t for t in tissues["tissue"] if group_of[t] == group_of[given] and t != given]
        if not options or rng.random() < 0.3:
            options = [t for t in tissues["tissue"] if t != given]
        wrong = options[rng.integers(len(options))]
        sheet.iloc[position, sheet.columns.get_loc("tissue")] = wrong
        sheet.iloc[position, sheet.columns.get_loc("tissue_group")] = group_of[wrong]
        mislabels.append((sheet.index[position], "tissue", wrong, given))
    for position in np.flatnonzero(rng.random(n) < mislabel_rate):
        given = sheet["sex"].iat[position]
        wrong = "male" if given == "female" else "female"
        sheet.iloc[position, sheet.columns.get_loc("sex")] = wrong
        mislabels.append((sheet.index[position], "sex", wrong, given))

    hidden = []
    study_idx = samples["_study_idx"].to_numpy()
    studies_reporting = {
        "sex": _study_reports(study_idx, missing_sex, rng),
        "age": _study_reports(study_idx, missing_age, rng),
    }
    hide = {
        "tissue": rng.random(n) < missing_tissue,
        "sex": ~studies_reporting["sex"] | (rng.random(n) < 0.05),
        "age": ~studies_reporting["age"] | (rng.random(n) < 0.05),
    }
    derived = {"tissue": "tissue_group", "age": "age_group", "sex": None}
    for column, mask in hide.items():
        for hidden_column in filter(None, (column, derived[column])):
            hidden.extend((sample_id, hidden_column, truth.at[sample_id, hidden_column]) for sample_id in sheet.index[mask])
        sheet.loc[mask, column] = np.nan
        if column == "tissue":
            sheet.loc[mask, "tissue_group"] = np.nan
    sheet["age_group"] = age_groups(sheet["age"], age_bins).to_numpy()
    # Wrong labels that were then hidden are no longer wrong labels in the sheet.
    mislabels = pd.DataFrame(mislabels, columns=["sample_id", "column", "given", "true"])
    mislabels = mislabels[[sheet.at[s, c] == g for s, c, g in mislabels[["sample_id", "column", "given"]].to_numpy()]]
    hidden = pd.DataFrame(hidden, columns=["sample_id", "column", "true"])
    sheet = sheet[["study", "tissue", "tissue_group", "sex", "age", "age_group", "library_prep"]]
    return sheet, mislabels.reset_index(drop=True), hidden


def _study_reports(study_idx: np.ndarray, missing_share: float, rng) -> np.ndarray:
    """Whole studies leave a field out: pick studies until about ``missing_share`` of samples lack it."""
    studies = np.unique(study_idx)
    sizes = np.bincount(study_idx)
    order = rng.permutation(studies)
    missing_samples = np.cumsum(sizes[order])
    silent = order[missing_samples <= missing_share * len(study_idx)]
    return ~np.isin(study_idx, silent)
