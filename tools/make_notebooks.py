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

# Every notebook loads its data the same way (cells import datasets, logs, overview, Markdown, display first).
LOAD_DATA = '''logs.show_messages()  # srna_nb's messages (what was read, kept or dropped) as cell output
atlas, truth = datasets.load_dataset(
    data_source, n_samples=n_samples, seed=seed, path=data_path,
    counts_path=counts_path, samples_path=samples_path, **loader_options,
)
display(Markdown(overview.source_note(atlas)))
'''

LOAD_TARGET = '''
from IPython.display import Markdown, display

from srna_nb import datasets, logs, models as srna_models, overview, plots, targets

''' + LOAD_DATA + '''data = targets.prepare_target(
    atlas, target, min_class_size=min_class_size, min_studies=min_studies, age_bins=age_bins, where=where,
)
display(Markdown(f"## Target `{target}`: {len(data.y)} samples, {len(data.classes)} classes"))
display(data.class_table().T if len(data.classes) > 12 else data.class_table())
estimators = {
    name: srna_models.make_model(name, params, input_scale=atlas.value_kind, min_share=min_share, seed=seed)
    for name, params in models.items()
}
'''

PARALLEL_PARAMETERS = '''
backend = "serial"  # where model fits run: "serial", "loky" (local processes) or "dask"
scheduler = None  # Dask scheduler address (tcp://HOST:8786); None with "dask": a local cluster
n_jobs = None  # workers for "loky" / a local Dask cluster (None: all cores)
'''

TARGET_PARAMETERS = '''
target = "tissue"  # tissue, tissue_group, sex, age_group or any sample-sheet column
min_class_size = 10  # classes with fewer labelled samples are dropped
min_studies = 2  # classes seen in fewer studies are dropped (needed for held-out studies)
age_bins = None  # e.g. [0, 18, 40, 65, 200]; None: 0-17, 18-39, 40-64, 65+
where = {}  # keep samples whose column has one of the values, e.g. {"sample_category": ["tissue"]}
min_share = 0.01  # detection filter: share of training samples a feature must be detected in
'''

write(
    "00_explore",
    [
        md("""
# Explore interactively

**Start JupyterLab** from the project folder (after `make install`, which creates `.venv`):

```bash
.venv/bin/pip install -e '.[jupyter]'
.venv/bin/jupyter lab notebooks/00_explore.ipynb
```

(Conda: `conda env create -f environment.yml`, `conda activate srna_nb`, `jupyter lab`.)
Run all cells, then use the controls: each explorer calls the same library functions as the batch
reports (`evaluation.evaluate`, `explain.importance_study`, `augment.annotate`). In an HTML report
the explorers appear as static snapshots of their first view.
"""),
        parameters(DATA_PARAMETERS + TARGET_PARAMETERS + '''
models = {"dl": {}, "rf": {}, "linear": {}}  # models offered by the evaluation explorer
protocols = ["stratified", "grouped"]
n_splits = 3  # folds per evaluation (computed when chosen, then cached)
importance_models = {"dl": {}}  # models explained by the importance explorer
n_repeats = 1  # permutations per sRNA
bundle_model = "dl"  # model of the bundle behind the sample explorer (attributions need "dl")
bundle_dir = None  # explore a saved bundle instead of training one
'''),
        code('''
from IPython.display import Markdown, display

from srna_nb import augment, datasets, explain, logs, models as srna_models, overview, targets, widgets

''' + LOAD_DATA),
        md("## Metrics and confusion matrix: choose target, model and protocol"),
        code('''
target_options = dict(min_class_size=min_class_size, min_studies=min_studies, age_bins=age_bins, where=where)
widgets.EvaluationExplorer(atlas, model_params=models, model_names=list(models), protocols=protocols,
                           n_splits=n_splits, seed=seed, min_share=min_share, target_options=target_options)
'''),
        md("## Top sRNAs per class and importance method"),
        code('''
data = targets.prepare_target(atlas, target, **target_options)
estimators = {name: srna_models.make_model(name, params, input_scale=atlas.value_kind, min_share=min_share, seed=seed)
              for name, params in importance_models.items()}
study = explain.importance_study(data, estimators, n_repeats=n_repeats, n_splits=n_splits, seed=seed, progress=False)
widgets.ImportanceExplorer(study, truth, simulated=atlas.simulated)
'''),
        md("## One sample: prediction, probabilities and the sRNAs behind it"),
        code('''
if bundle_dir is None:
    bundle = augment.train_bundle(atlas, target, bundle_model, models.get(bundle_model, {}), n_splits=n_splits,
                                  seed=seed, progress=False, min_share=min_share, **target_options)
else:
    bundle = augment.load_bundle(bundle_dir)
widgets.SampleExplorer(bundle, atlas)
'''),
    ],
)
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
output_dir = None  # folder for the report's key figures (set by `srna-nb run`)
'''),
        code('''
from IPython.display import Markdown, display

from srna_nb import datasets, logs, overview, plots

''' + LOAD_DATA + '''overview.atlas_summary(atlas)
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
        code('''
from srna_nb import reports

reports.save_key_figures(output_dir, overview.key_figures(atlas))  # for the report index
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
        parameters(DATA_PARAMETERS + TARGET_PARAMETERS + '''
models = {"dl": {}, "rf": {}, "linear": {}}  # model name -> hyperparameters (empty: defaults)
protocols = ["stratified", "grouped"]  # also: leave_one_study_out
n_splits = 5
progress = True
output_dir = None  # folder for CSV tables (set by `srna-nb run`)
''' + PARALLEL_PARAMETERS),
        code(LOAD_TARGET),
        code('''
from srna_nb import evaluation, parallel

with parallel.use(backend, scheduler, n_jobs):  # same results on every backend
    result = evaluation.evaluate(data, estimators, protocols, n_splits=n_splits, seed=seed, progress=progress)
'''),
        md("## Accuracy by model and protocol (pooled over folds)"),
        code('''
display(result.accuracy_table("accuracy").style.format("{:.3f}").set_caption("accuracy"))
display(result.accuracy_table("balanced_accuracy").style.format("{:.3f}").set_caption("balanced accuracy"))
result.summary().style.format(precision=3)
'''),
        code('''
from srna_nb import reports

written = result.write(output_dir)  # CSV tables for the report index (nothing when output_dir is None)
reports.save_key_figures(output_dir, result.key_figures())
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
write(
    "03_feature_importance",
    [
        md("""
# Feature importance: which sRNAs drive the predictions

Each model is trained on the training studies of one fold and explained on the **held-out
studies** of that fold, so the importances describe what carries over to new data.

- **Permutation importance** (every model): how much accuracy drops when one sRNA's values are
  shuffled across samples; overall, and per class as the drop in that class' one-vs-rest
  balanced accuracy. Same numbers as eli5's `PermutationImportance`, computed by exact shortcuts.
- **Integrated gradients, DeepLIFT (rescale), gradient x input** (the MLP): each sample's class
  score split into one contribution per sRNA, relative to a baseline profile: the average
  training sample (zero after standardization). Per class: the mean contribution over the
  class' held-out samples to their own class' score.
"""),
        parameters(DATA_PARAMETERS + TARGET_PARAMETERS + '''
models = {"dl": {}, "rf": {}}  # model name -> hyperparameters (empty: defaults)
methods = ["permutation", "integrated_gradients", "deeplift", "gradient_x_input"]
n_repeats = 3  # permutations per sRNA
steps = 64  # integration points of integrated gradients
protocol = "grouped"  # which samples are held out: whole studies ("grouped") or random ("stratified")
n_splits = 5  # the held-out part is one fold of this many
top_k = 10  # sRNAs per class in the tables and precision figures
show_classes = None  # classes to plot; None: the largest held-out classes, up to 6
progress = True
output_dir = None  # folder for CSV tables (set by `srna-nb run`)
'''),
        code(LOAD_TARGET),
        code('''
from srna_nb import explain

study = explain.importance_study(
    data, estimators, methods=methods, n_repeats=n_repeats, protocol=protocol, n_splits=n_splits,
    steps=steps, seed=seed, progress=progress,
)
display(Markdown(
    f"Held out: {len(study.held_out)} samples from {study.held_out['study'].nunique()} studies "
    f"({protocol} protocol, fold 1 of {n_splits})."
))
display(study.accuracy().to_frame().style.format("{:.3f}"))
study.timings.style.format({"seconds": "{:.1f}"})
'''),
        md("## Overall permutation importance (eli5's rendering: weight +- 2 SD)"),
        code('''
from IPython.display import HTML

for name in models:
    display(Markdown(f"**{name}**"), HTML(study.eli5_html(name, top=15)))
'''),
        md("## Top sRNAs per class"),
        code('''
for label in show_classes or study.largest_classes(6):
    planted = truth.class_markers(target, label) if truth is not None else None
    plots.importance_panels(study.importances, label, k=top_k, highlight=planted, simulated=atlas.simulated)
'''),
        code('''
for (name, method), _ in study.importances.groupby(["model", "method"], sort=False):
    display(Markdown(f"**{name}, {method.replace('_', ' ')}**: top {top_k} per class"))
    display(study.top_table(name, method, top_k).T)
'''),
        md("""
## Agreement between methods

Spearman correlation of the importances over all sRNAs, and the share of one method's top 20
that the other also ranks in its top 20; mean over classes.
"""),
        code('''
study.agreement_summary().style.format("{:.2f}")
'''),
        md("""
## Planted markers recovered (simulated data only)

Share of each class' top sRNAs that the simulator planted as markers of that class (a tissue's
own markers and its tissue group's); `expected_by_chance` is what a random ranking would give.
"""),
        code('''
if truth is None:
    display(Markdown("Real data: there is no ground truth of markers; compare the top sRNAs with the literature."))
else:
    precision = study.marker_precision(truth, top_k)
    display(explain.compare.precision_summary(precision).style.format(precision=3))
    display(precision.pivot(index="class", columns="source", values="precision").style.format("{:.1f}"))
'''),
        md("""
## Completeness check

Integrated gradients and DeepLIFT promise that a sample's attributions add up to its score
difference from the baseline: the gap should be tiny next to the score difference.
"""),
        code('''
study.completeness.style.format(precision=4)
'''),
        md("## Single samples: what pushed each towards its predicted class"),
        code('''
study.example_explanations()
'''),
        code('''
from srna_nb import reports

written = study.write(output_dir, truth=truth, k=top_k)  # CSV tables (nothing when output_dir is None)
reports.save_key_figures(output_dir, study.key_figures(truth, top_k))
'''),
    ],
)
write(
    "04_augment",
    [
        md("""
# Metadata augmentation: fill in missing labels, abstain when unsure, flag conflicts

A model bundle is trained once on every labelled sample (or loaded from disk) and applied to
samples whose label is missing. Each sample gets the predicted label, its **calibrated**
probability, the runner-up and a status: **confident** (probability at least the threshold),
**uncertain**, or **unknown** (unlike the training samples of the class it resembles most, e.g. a
tissue the model never saw). An uncertain tissue whose tissue group is clear falls back to the group.
Labelled samples whose confident prediction disagrees with their label are listed as **conflicts**.
"""),
        parameters(DATA_PARAMETERS + TARGET_PARAMETERS + '''
model = "dl"  # dl, rf or linear
model_params = {}  # hyperparameters (empty: defaults)
bundle_dir = None  # load this saved bundle instead of training one
save_bundle = True  # save the trained bundle to <output_dir>/bundle
annotate_counts_path = None  # matrix to annotate; None: the training atlas' samples without a label
annotate_samples_path = None  # its sample sheet (optional; a target column is checked for conflicts)
confidence_threshold = 0.8  # calibrated probability from which a prediction is confident
unknown_rate = 0.05  # share of held-out in-distribution samples flagged unknown
min_overlap = 0.1  # refuse a matrix holding a smaller share of the bundle's sRNAs (wrong file or species)
n_splits = 5  # cross-fitting folds
unseen_checks = []  # classes to leave out of training entirely, to check they come back unknown
progress = True
output_dir = None  # folder for the CSV table and the bundle (set by `srna-nb run`)
''' + PARALLEL_PARAMETERS),
        code('''
from pathlib import Path

from IPython.display import Markdown, display

import pandas as pd

from srna_nb import augment, datasets, logs, overview, plots
from srna_nb.augment import measure

''' + LOAD_DATA),
        md("## The bundle"),
        code('''
from srna_nb import parallel

if bundle_dir is None:
    with parallel.use(backend, scheduler, n_jobs):  # the cross-fitting folds are independent jobs
        bundle = augment.train_bundle(
            atlas, target, model, model_params, n_splits=n_splits, confidence_threshold=confidence_threshold,
            unknown_rate=unknown_rate, min_class_size=min_class_size, min_studies=min_studies, age_bins=age_bins,
            where=where, min_share=min_share, seed=seed, progress=progress,
        )
    if save_bundle and output_dir is not None:
        saved = augment.save_bundle(bundle, Path(output_dir) / "bundle", overwrite=True)
        display(Markdown(f"Saved to `{Path(output_dir).name}/{saved.name}` beside this report."))
else:
    bundle = augment.load_bundle(bundle_dir)
bundle.describe()
'''),
        md("""
## Calibration

Held-out-study predictions (cross-fitted) before and after temperature scaling; the "after" curve
uses, for each fold, a temperature fitted on the other folds. ECE = expected calibration error.
"""),
        code('''
display(Markdown(
    f"ECE before: **{bundle.summary.ece_before:.3f}**, after: **{bundle.summary.ece_after:.3f}** "
    f"(temperature {bundle.calibrator.temperature_:.2f})"
))
plots.reliability_diagram(bundle.calibration, simulated=atlas.simulated);
'''),
        md("## Annotated samples"),
        code('''
new = augment.samples_to_annotate(atlas, target, annotate_counts_path, annotate_samples_path)
annotation = augment.annotate(bundle, new, min_overlap=min_overlap)
display(Markdown(f"Feature overlap: {annotation.overlap.describe()}."))
display(annotation.status_counts().style.format({"share": "{:.1%}"}))
if output_dir is not None:
    written = annotation.write(Path(output_dir) / f"augmented_{target}.csv")
    display(Markdown(f"[Download the table (CSV)]({Path(output_dir).name}/{written.name})"))
annotation.table.head(30).style.format(precision=3)
'''),
        md("""
## Conflicts in the training labels

Cross-fitted predictions of the training samples (each from a model that did not see it) that
are confident and disagree with the given label, strongest evidence (log probability ratio) first.
"""),
        code('''
conflicts = bundle.conflicts()
display(Markdown(f"{len(conflicts)} of {len(bundle.out_of_fold)} labelled samples flagged."))
conflicts.head(25).style.format(precision=3)
'''),
        code('''
if len(annotation.conflicts()):
    display(Markdown("Conflicts in the annotated samples' own labels:"), annotation.conflicts().head(25))
'''),
        md("""
## Checked against the simulator's ground truth (simulated data only)

Hidden labels: samples whose label the simulator removed. Mislabels: labels it planted wrong.
Unseen classes: trained again without any sample of the class, then asked about those samples.
"""),
        code('''
if truth is None:
    display(Markdown("Real data: no ground truth to check against."))
else:
    display(pd.Series(measure.hidden_label_recovery(annotation.table, truth, target), name="hidden labels").round(3).to_frame())
    display(pd.Series(measure.mislabel_detection(bundle.out_of_fold, truth, target), name="planted mislabels").round(3).to_frame())
'''),
        code('''
with parallel.use(backend, scheduler, n_jobs):
    checks = [
        measure.unseen_class_check(atlas, target, label, model=model, params=model_params, n_splits=n_splits,
                                   conflict_protocol="grouped", unknown_rate=unknown_rate, seed=seed)
        for label in unseen_checks
    ]
pd.DataFrame(checks) if checks else Markdown("No unseen-class check requested (`unseen_checks`).")
'''),
        code('''
from srna_nb import reports

reports.save_key_figures(output_dir, measure.key_figures(bundle, annotation, truth))  # for the report index
'''),
    ],
)
write(
    "05_cross_atlas",
    [
        md("""
# Cross-atlas annotation: a model meets another atlas

Public samples come from studies a model has never seen, usually quantified by another pipeline.
Here a bundle is trained on each atlas in turn (calibration and abstention thresholds from its own
study-held-out folds) and annotates the other atlas' samples of the classes both hold; the other
atlas' own labels are the truth. Feature names are harmonized to miRBase 22 when the atlases are
loaded; features the other atlas lacks are filled in by the rule given (`mean`: the training mean
at the classifier's input; `zero`: not detected).
"""),
        parameters('''
# Atlases by name: keyword arguments of srna_nb.datasets.load_dataset, plus an optional "where"
# (column -> allowed values) that keeps only matching samples. Default: the simulated atlas split
# by library kit (same biology, a shift like another pipeline's).
atlas_sources = {
    "truseq": {"source": "simulated", "where": {"library_prep": ["Illumina TruSeq Small RNA"]}},
    "nebnext": {"source": "simulated", "where": {"library_prep": ["NEBNext Small RNA"]}},
}
target = "tissue"  # the label both atlases hold, in one vocabulary
models = {"linear": {}}  # model name -> hyperparameters
seeds = [0, 1, 2]  # one bundle per seed and direction; figures are means and spreads over seeds
imputations = ["mean", "zero"]  # how features missing from the other atlas are filled in
min_class_size = 10
min_studies = 2
n_splits = 5  # cross-fitting folds of each bundle
progress = False
output_dir = None  # folder for CSV tables (set by `srna-nb run`)
''' + PARALLEL_PARAMETERS),
        code('''
from IPython.display import Markdown, display

import pandas as pd

from srna_nb import datasets, logs, overview, parallel, plots, reports
from srna_nb.augment import cross

logs.show_messages()  # srna_nb's messages (what was read, kept or dropped) as cell output
atlases = datasets.load_sources(atlas_sources)
for name, atlas in atlases.items():
    display(Markdown(f"**{name}**: {atlas.n_samples} samples x {atlas.n_features} features. " + overview.source_note(atlas)))
simulated = any(atlas.simulated for atlas in atlases.values())
'''),
        md("## Feature names, harmonized to miRBase 22 (rows of each input)"),
        code("cross.mapping_summary(atlases)"),
        md("""
## Accuracy on the other atlas

Mean over seeds (sd: spread over seeds). *Confident*: calibrated probability at least the
bundle's threshold; *coverage*: share of the model's features, and of its input importance,
that the other atlas holds.
"""),
        code('''
with parallel.use(backend, scheduler, n_jobs):
    study = cross.cross_atlas_study(atlases, target, models, seeds=tuple(seeds), imputations=tuple(imputations),
                                    min_class_size=min_class_size, min_studies=min_studies, n_splits=n_splits,
                                    progress=progress)
study.summary().style.format(precision=3)
'''),
        md("## How the features matched (first seed)"),
        code('''
for direction, overlap in study.overlaps.items():
    display(Markdown(f"**{direction}**: {overlap.describe()}."))
'''),
        md("""
## Reliability of calibrated probabilities on the other atlas

Calibration was fitted on the training atlas' own held-out studies; these points show whether it
holds on another atlas (first seed and imputation).
"""),
        code('''
for direction, part in study.reliability.groupby(["direction", "model"], sort=False):
    plots.reliability_diagram(part.assign(probabilities="calibrated, other atlas"), title=" ".join(direction),
                              simulated=simulated)
'''),
        md("## Predictions against the other atlas' labels (first seed)"),
        code('''
for direction, table in study.annotations.items():
    display(Markdown(f"**{direction}**: rows are the other atlas' labels, columns the predictions"))
    display(pd.crosstab(table["truth"], table["predicted"]))
'''),
        code('''
written = study.write(output_dir)  # CSV tables (nothing when output_dir is None)
reports.save_key_figures(output_dir, study.key_figures())
'''),
    ],
)
print("notebooks written", file=sys.stderr)
