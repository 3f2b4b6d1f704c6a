"""Widgets: each explorer is built, driven through its controls, and its outputs follow."""

from __future__ import annotations

import pytest

from srna_nb import augment, explain, models, targets, widgets
from srna_nb.simulate import simulate_atlas

TISSUES = ["liver", "heart", "lung", "testis", "whole blood"]
LIGHT = {"dl": {"hidden_layers": [32], "max_epochs": 10}, "rf": {"n_estimators": 20}, "linear": {}}


@pytest.fixture(scope="module")
def simulation():
    return simulate_atlas(n_samples=400, seed=0, n_studies=20, tissues=TISSUES)


def test_evaluation_explorer_follows_its_controls(simulation):
    atlas, _ = simulation
    explorer = widgets.EvaluationExplorer(atlas, model_params=LIGHT, n_splits=3)
    assert explorer.status.value == ""
    first_table, first_figure = explorer.tables[0].value, explorer.figures[0].value
    assert "tissue, dl, stratified" in first_table and bytes(first_figure).startswith(b"\x89PNG")
    assert all(t in first_table for t in ("pooled accuracy", "balanced_accuracy mean"))

    explorer.target.value = "sex"
    assert "sex, dl, stratified" in explorer.tables[0].value and explorer.figures[0].value != first_figure
    explorer.model.value = "linear"
    assert "sex, linear, stratified" in explorer.tables[0].value
    explorer.protocol.value = "grouped"
    assert "sex, linear, grouped" in explorer.tables[0].value
    assert set(explorer._results) == {("tissue", "dl", "stratified"), ("sex", "dl", "stratified"),
                                      ("sex", "linear", "stratified"), ("sex", "linear", "grouped")}

    cached = explorer.result("tissue", "dl", "stratified")
    explorer.target.value, explorer.model.value, explorer.protocol.value = "tissue", "dl", "stratified"
    assert explorer.result("tissue", "dl", "stratified") is cached  # going back does not recompute
    assert explorer.tables[0].value == first_table


def test_evaluation_explorer_shows_errors_instead_of_raising(simulation):
    atlas, _ = simulation
    explorer = widgets.EvaluationExplorer(atlas, model_params=LIGHT, model_names=["linear"], selection=targets.TargetSelection("tissue", min_class_size=10_000))
    assert "has 0 class(es) with at least 10000 samples" in explorer.status.value
    assert "#b00020" in explorer.status.value  # shown as an error line
    assert explorer.tables[0].value == "" and len(explorer.figures[0].value) == 0  # no stale view of another choice


def test_importance_explorer_follows_its_controls(simulation):
    atlas, truth = simulation
    data = targets.prepare_target(atlas, "tissue", min_studies=2)
    estimators = {name: models.make_model(name, LIGHT[name], input_scale=atlas.value_kind, seed=0) for name in ("dl", "rf")}
    study = explain.importance_study(data, estimators, n_repeats=1, n_splits=3, steps=16, progress=False)
    explorer = widgets.ImportanceExplorer(study, truth, k=10)
    assert explorer.label.value == study.largest_classes(1)[0]
    assert "(all)" in explorer.label.options
    table = explorer.table(explorer.label.value, 10)
    assert list(table.columns) == sorted(["dl permutation", "dl integrated gradients", "dl deeplift", "dl gradient x input",
                                          "rf permutation"])
    assert len(table) == 10
    # Planted markers of the class, and only those, are starred.
    markers = truth.class_markers("tissue", explorer.label.value)
    for cell in table.to_numpy().ravel():
        assert cell.endswith(" *") == (cell.removesuffix(" *") in markers)
    assert table.stack().str.endswith(" *").any()

    before_table, before_figure = explorer.tables[0].value, explorer.figures[0].value
    other = next(label for label in explorer.label.options if label not in ("(all)", explorer.label.value))
    explorer.label.value = other
    assert explorer.tables[0].value != before_table and explorer.figures[0].value != before_figure
    explorer.k.value = 4
    assert len(explorer.table(other, explorer.k.value)) == 4
    assert explorer.tables[0].value.count("<th>4</th>") == 1 and "<th>5</th>" not in explorer.tables[0].value


def test_sample_explorer_follows_its_controls(simulation):
    atlas, _ = simulation
    bundle = augment.train_bundle(atlas, "tissue", "dl", LIGHT["dl"], n_splits=3, progress=False)
    explorer = widgets.SampleExplorer(bundle, atlas, k=6)
    annotation = augment.annotate(bundle, atlas).table.set_index("sample_id")

    for sample in explorer.sample.options[:3]:
        explorer.sample.value = sample
        assert explorer.status.value == ""
        assert f"<h4>{sample}</h4>" in explorer.tables[0].value
        assert f"{annotation.loc[sample, 'probability']:.3f}" in explorer.tables[1].value  # the same calibrated probability
        assert f"<strong>{annotation.loc[sample, 'predicted']}</strong>" in explorer.tables[2].value
        assert bytes(explorer.figures[0].value).startswith(b"\x89PNG")
    figure = explorer.figures[0].value
    explorer.k.value = 12
    assert explorer.figures[0].value != figure  # more bars

    bundle_rf = augment.train_bundle(atlas, "tissue", "rf", LIGHT["rf"], n_splits=3, progress=False)
    rf_explorer = widgets.SampleExplorer(bundle_rf, atlas)
    assert "gradient attributions need a DL model" in rf_explorer.tables[2].value
    assert bytes(rf_explorer.figures[0].value) == b"" and "calibrated probability" in rf_explorer.tables[1].value


def test_explorers_show_a_snapshot_that_the_live_widget_hides(simulation):
    """Two outputs: the static snapshot (what a page without widgets shows), then the live widget,
    whose style rule hides the snapshot where the widget renders."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    atlas, _ = simulation
    explorer = widgets.EvaluationExplorer(atlas, model_params=LIGHT, model_names=["linear"], n_splits=3)
    InteractiveShell.instance()
    with capture_output() as captured:
        explorer._ipython_display_()
    snapshot, live = (output.data for output in captured.outputs)
    assert "application/vnd.jupyter.widget-view+json" not in snapshot
    assert f'class="{explorer.snapshot_id} srna-snapshot"' in snapshot["text/html"]
    assert "<table" in snapshot["text/html"] and "data:image/png;base64," in snapshot["text/html"]
    assert live["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    hide = explorer.widget.children[0]
    assert hide.value == f"<style>.{explorer.snapshot_id} {{ display: none; }}</style>"
    # Figures keep their own size: not stretched across the column.
    assert all(f.layout.align_self == "flex-start" for f in explorer.figures)
