"""Write the notebooks from their cell sources (kept here so that diffs stay readable).

Run ``python tools/make_notebooks.py`` after editing a cell; notebooks are stored without outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def write(name: str, cells: list) -> None:
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{name[:2]}-{index:02d}"
    nbformat.write(notebook, NOTEBOOKS / f"{name}.ipynb")


def parameters(source: str):
    cell = new_code_cell(source.strip())
    cell.metadata["tags"] = ["parameters"]
    return cell


def md(source: str):
    return new_markdown_cell(source.strip())


def code(source: str):
    return new_code_cell(source.strip())


DATA_PARAMETERS = '''
# Data: "simulated" (the embedded SEA-like atlas), "microrna_atlas" (data_path = its folder)
# or "files" (counts_path, samples_path; loader_options such as study_column, value_kind).
data_source = "simulated"
n_samples = 4243
seed = 0
data_path = None
counts_path = None
samples_path = None
loader_options = {}
'''

write(
    "01_atlas_overview",
    [
        md("""
# Atlas overview

What is in the atlas: samples per tissue, tissue group and study, sequencing depth, how many
small RNAs are detected, how much metadata is missing, and the main axes of variation (PCA).
Executed by `make report` with `parameters/default.yaml`; change the cell below to look at your own data.
"""),
        parameters(DATA_PARAMETERS + '''
label_columns = ["tissue_group", "tissue"]  # nested labels to count (outer first)
color_by = ["tissue_group", "study"]  # PCA colourings
'''),
        code('''
from IPython.display import Markdown, display

from srna_nb import datasets, overview, plots

atlas, truth = datasets.load_dataset(
    data_source, n_samples=n_samples, seed=seed, path=data_path,
    counts_path=counts_path, samples_path=samples_path, **loader_options,
)
display(Markdown(overview.source_note(atlas)))
overview.atlas_summary(atlas)
'''),
        md("## Samples per class and study"),
        code('''
composition = overview.sample_counts(atlas, label_columns)
display(composition)
plots.bar_counts(composition.groupby(level=-1)["samples"].sum(), f"Samples per {label_columns[-1]}", simulated=atlas.simulated);
'''),
        code('''
studies = overview.study_sizes(atlas, label_columns[-1])
display(studies.describe().T)
plots.histogram(studies["samples"], "Samples per study", "samples in the study", simulated=atlas.simulated);
'''),
        md("## Sequencing depth and detection"),
        code('''
plots.atlas_depth(atlas)
display(overview.detection_by_class(atlas))
plots.detection_curve(overview.detection_rates(atlas), simulated=atlas.simulated);
'''),
        code('''
overview.detection_rates(atlas).head(20)
'''),
        md("## Missing metadata"),
        code('''
overview.missing_metadata(atlas).style.format({"missing share": "{:.1%}"})
'''),
        md("""
## Principal components

PCA of standardized log2(RPM + 1). Samples that cluster by study rather than by tissue show the
batch effects that make prediction on unseen studies harder than cross-validation suggests.
"""),
        code('''
coordinates, explained = overview.pca_coordinates(atlas, seed=seed)
for column in color_by:
    plots.scatter_by(coordinates, column, explained=explained, simulated=atlas.simulated)
'''),
    ],
)
write(
    "02_train_evaluate",
    [
        md("""
# Train and evaluate: one target, three models, two protocols

Deep learning (Keras MLP), random forest and a regularized linear baseline predict one sample
attribute from the small-RNA profile. **Stratified cross-validation** tests samples like the
training ones; **held-out studies** (grouped folds or leave-one-study-out) test on studies the model
has never seen, the case that matters when annotating new public data. All preprocessing
(RPM, log2, detection filter, scaling) is fitted inside each training fold.
"""),
        parameters(DATA_PARAMETERS + '''
target = "tissue"  # tissue, tissue_group, sex, age_group or any sample-sheet column
models = {"dl": {}, "rf": {}, "linear": {}}  # model name -> hyperparameters (empty: defaults)
protocols = ["stratified", "grouped"]  # also: leave_one_study_out
n_splits = 5
min_class_size = 10  # classes with fewer labelled samples are dropped
min_studies = 2  # classes seen in fewer studies are dropped (needed for held-out studies)
age_bins = None  # e.g. [0, 18, 40, 65, 200]; None: 0-17, 18-39, 40-64, 65+
where = {}  # keep samples whose column has one of the values, e.g. {"sample_category": ["tissue"]}
min_share = 0.01  # detection filter: share of training samples a feature must be detected in
progress = True
output_dir = None  # folder for CSV tables (set by `srna-nb run`)
'''),
        code('''
from IPython.display import Markdown, display

from srna_nb import datasets, evaluation, models as srna_models, overview, plots, targets

atlas, truth = datasets.load_dataset(
    data_source, n_samples=n_samples, seed=seed, path=data_path,
    counts_path=counts_path, samples_path=samples_path, **loader_options,
)
display(Markdown(overview.source_note(atlas)))
data = targets.prepare_target(
    atlas, target, min_class_size=min_class_size, min_studies=min_studies, age_bins=age_bins, where=where,
)
display(Markdown(f"## Target `{target}`: {len(data.y)} samples, {len(data.classes)} classes"))
display(data.class_table().T if len(data.classes) > 12 else data.class_table())
'''),
        code('''
estimators = {
    name: srna_models.make_model(name, params, input_scale=atlas.value_kind, min_share=min_share, seed=seed)
    for name, params in models.items()
}
result = evaluation.evaluate(data, estimators, protocols, n_splits=n_splits, seed=seed, progress=progress)
'''),
        md("## Accuracy by model and protocol (pooled over folds)"),
        code('''
display(result.accuracy_table("accuracy").style.format("{:.3f}").set_caption("accuracy"))
display(result.accuracy_table("balanced_accuracy").style.format("{:.3f}").set_caption("balanced accuracy"))
result.summary().style.format(precision=3)
'''),
        code('''
written = result.write(output_dir)  # CSV tables for the report index (nothing when output_dir is None)
'''),
        md("## Per-class accuracy (recall) and confusion matrices"),
        code('''
for protocol in protocols:
    plots.grouped_bars(
        result.per_class_table(protocol, "recall"), f"Per-class accuracy, {protocol}", "recall",
        simulated=atlas.simulated,
    )
'''),
        code('''
for protocol in protocols:
    for name in models:
        plots.confusion_heatmap(result.confusion(name, protocol), f"{name}, {protocol}", simulated=atlas.simulated)
'''),
        md("## Fold by fold"),
        code('''
result.scores.style.format(precision=3)
'''),
    ],
)
print("notebooks written", file=sys.stderr)
