"""Interactive explorers for JupyterLab (ipywidgets), over the same library calls as the batch notebooks.

- :class:`EvaluationExplorer`: choose target, model and protocol; see the metrics and the confusion matrix.
- :class:`ImportanceExplorer`: choose a class; see its top sRNAs by each importance method.
- :class:`SampleExplorer`: choose a sample; see its prediction, probabilities and attributions.

Each explorer keeps its controls as attributes (``explorer.target.value = "sex"`` drives it from
code, as the tests do), shows tables in ``HTML`` widgets and figures as PNG ``Image`` widgets, and
is displayed as two outputs: a static HTML snapshot of its first view, then the live ``widget``.
The live widget carries a style rule that hides the snapshot, so JupyterLab shows only the
controls; where no widget manager runs (plain ``jupyter nbconvert --to html`` read offline, an
``srna-nb run`` report, a console) the rule never applies and the snapshot is what the reader
sees. Figures are shown at their own pixel size, never stretched to the cell width.
Results are cached per choice: going back to an earlier choice does not recompute it.
"""

from __future__ import annotations

import base64
import html
import io
import uuid
from typing import Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from srna_nb import evaluation, models, plots, targets
from srna_nb.atlas import Atlas
from srna_nb.errors import SrnaError

TARGETS = ("tissue", "tissue_group", "sex", "age_group")


def figure_png(fig) -> bytes:
    """PNG bytes of a matplotlib figure, which is then closed (no duplicate inline output)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def table_html(table: pd.DataFrame, precision: int = 3) -> str:
    return table.to_html(float_format=lambda v: f"{v:.{precision}f}", border=0, classes="srna-table")


class _Explorer:
    """Controls on top, a status line, then HTML tables and PNG figures."""

    def _layout(self, controls: Sequence[widgets.Widget], tables: Sequence[widgets.HTML]):
        self.status = widgets.HTML()
        self.tables = list(tables)
        # flex-start: an image in a column box would otherwise be stretched to the box's width.
        self.figures = [widgets.Image(format="png", layout=widgets.Layout(align_self="flex-start", max_width="100%"))]
        self.snapshot_id = f"srna-snapshot-{uuid.uuid4().hex[:12]}"
        hide_snapshot = widgets.HTML(f"<style>.{self.snapshot_id} {{ display: none; }}</style>")
        self.widget = widgets.VBox([hide_snapshot, widgets.HBox(list(controls)), self.status, *self.tables, *self.figures])
        for control in controls:
            control.observe(lambda change: self.refresh(), names="value")

    def refresh(self) -> None:
        """Recompute the view for the current control values; errors are shown, not raised."""
        self.status.value = "<em>computing ...</em>"
        try:
            self._update()
            self.status.value = ""
        except SrnaError as error:
            for table in self.tables:
                table.value = ""
            for figure in self.figures:
                figure.value = b""
            self.status.value = f'<span style="color:#b00020">{html.escape(str(error))}</span>'

    def _update(self) -> None:
        raise NotImplementedError

    def _show_figure(self, position: int, fig) -> None:
        self.figures[position].value = figure_png(fig) if fig is not None else b""

    def snapshot_html(self) -> str:
        """The current view as static HTML (tables and embedded PNG figures)."""
        parts = [self.status.value, *(t.value for t in self.tables)]
        parts += [f'<img src="data:image/png;base64,{base64.b64encode(bytes(f.value)).decode()}">' for f in self.figures if len(f.value)]
        return "<div>" + "".join(parts) + "</div>"

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        display(HTML(f'<div class="{self.snapshot_id} srna-snapshot">{self.snapshot_html()}</div>'))
        display(self.widget)


class EvaluationExplorer(_Explorer):
    """Metrics and confusion matrix of one target x model x protocol, evaluated on demand.

    Parameters
    ----------
    atlas
        The data.
    target_names, model_names, protocols
        Choices offered (targets the sample sheet cannot provide are left out).
    model_params
        Model name -> hyperparameters.
    n_splits, seed, min_share
        Passed to :func:`~srna_nb.evaluation.evaluate` and :func:`~srna_nb.models.make_model`.
    selection
        Class filters, age bins and sample filter (:class:`~srna_nb.targets.TargetSelection`),
        applied to whichever target is chosen; its target is chosen first. Default: classes of
        at least 10 samples from at least 2 studies (grouped folds need 2).
    """

    def __init__(self, atlas: Atlas, target_names: Sequence[str] = TARGETS, model_names: Sequence[str] = ("dl", "rf", "linear"),
                 protocols: Sequence[str] = ("stratified", "grouped"), model_params: Mapping[str, dict] | None = None,
                 n_splits: int = 3, seed: int = 0, min_share: float = 0.01, selection: targets.TargetSelection | None = None):
        self.atlas, self.n_splits, self.seed, self.min_share = atlas, n_splits, seed, min_share
        self.model_params = dict(model_params or {})
        self.selection = selection or targets.TargetSelection(target_names[0], min_studies=2)
        available = [t for t in target_names if t in atlas.samples.columns or (t == "age_group" and "age" in atlas.samples.columns)]
        first = self.selection.target if self.selection.target in available else None
        self.target = widgets.Dropdown(options=available, value=first, description="target")
        self.model = widgets.Dropdown(options=list(model_names), description="model")
        self.protocol = widgets.Dropdown(options=list(protocols), description="protocol")
        self._data: dict[str, targets.TargetData] = {}
        self._results: dict[tuple[str, str, str], evaluation.Evaluation] = {}
        self._layout([self.target, self.model, self.protocol], [widgets.HTML()])
        self.refresh()

    def result(self, target: str, model: str, protocol: str) -> evaluation.Evaluation:
        """The (cached) evaluation of one choice."""
        key = (target, model, protocol)
        if key not in self._results:
            if target not in self._data:
                self._data[target] = self.selection.with_target(target).prepare(self.atlas)
            estimator = models.make_model(model, self.model_params.get(model, {}), input_scale=self.atlas.value_kind,
                                          min_share=self.min_share, seed=self.seed)
            self._results[key] = evaluation.evaluate(self._data[target], {model: estimator}, [protocol],
                                                     n_splits=self.n_splits, seed=self.seed, progress=False)
        return self._results[key]

    def _update(self) -> None:
        target, model, protocol = self.target.value, self.model.value, self.protocol.value
        result = self.result(target, model, protocol)
        summary = result.summary().loc[(model, protocol)].to_frame(name=f"{target}, {model}, {protocol}")
        self.tables[0].value = table_html(summary)
        self._show_figure(0, plots.confusion_heatmap(result.confusion(model, protocol), f"{target}: {model}, {protocol}",
                                                     simulated=self.atlas.simulated))


class ImportanceExplorer(_Explorer):
    """Top sRNAs of one class by each model x importance method of an :class:`~srna_nb.explain.ImportanceStudy`.

    With the simulator's ``truth``, planted markers of the class are marked with a star.
    """

    def __init__(self, study, truth=None, k: int = 10, simulated: bool = True):
        self.study, self.truth, self.simulated = study, truth, simulated
        classes = sorted(study.importances["class"].astype(str).unique(), key=lambda c: (c != "(all)", c))
        self.label = widgets.Dropdown(options=classes, value=study.largest_classes(1)[0] if len(study.held_out) else classes[0],
                                      description="class")
        self.k = widgets.IntSlider(value=k, min=3, max=30, description="top")
        self._layout([self.label, self.k], [widgets.HTML()])
        self.refresh()

    def table(self, label: str, k: int) -> pd.DataFrame:
        """Rank x (model method): the class' top ``k`` sRNAs; planted markers starred when truth is known."""
        top = self.study.top_features(k)
        top = top[top["class"].astype(str) == label]
        markers = self.truth.class_markers(self.study.target, None if label == "(all)" else label) if self.truth is not None else set()
        top = top.assign(source=top["model"] + " " + top["method"].str.replace("_", " "),
                         feature=[f"{f} *" if f in markers else f for f in top["feature"]])
        return top.pivot(index="rank", columns="source", values="feature")

    def _update(self) -> None:
        label, k = self.label.value, self.k.value
        caption = "<p>* planted marker (simulated data)</p>" if self.truth is not None else ""
        self.tables[0].value = caption + table_html(self.table(label, k))
        highlight = self.truth.class_markers(self.study.target, None if label == "(all)" else label) if self.truth is not None else None
        mask = self.study.importances["class"].astype(str) == label
        self._show_figure(0, plots.importance_panels(self.study.importances[mask], self.study.importances.loc[mask, "class"].iloc[0],
                                                     k=k, highlight=highlight, simulated=self.simulated))


class SampleExplorer(_Explorer):
    """One sample through a bundle: status and prediction, class probabilities, and (DL) the sRNAs behind it.

    Parameters
    ----------
    bundle
        From :func:`~srna_nb.augment.train_bundle` or :func:`~srna_nb.augment.load_bundle`.
    atlas
        Samples to explore (annotated once with the bundle).
    method
        Gradient attribution method for the sRNA contributions.
    """

    def __init__(self, bundle, atlas: Atlas, method: str = "integrated_gradients", k: int = 10, n_classes: int = 5):
        from srna_nb import augment

        self.bundle, self.atlas, self.method, self.n_classes = bundle, atlas, method, n_classes
        self.annotation = augment.annotate(bundle, atlas).table.set_index("sample_id")
        self.sample = widgets.Dropdown(options=list(map(str, atlas.samples.index)), description="sample")
        self.k = widgets.IntSlider(value=k, min=3, max=30, description="top sRNAs")
        self._layout([self.sample, self.k], [widgets.HTML(), widgets.HTML(), widgets.HTML()])
        self.refresh()

    def _update(self) -> None:
        from srna_nb import augment

        sample, k = self.sample.value, self.k.value
        row = self.annotation.loc[sample]
        columns = [c for c in ("status", "annotation", "predicted", "probability", "runner_up", "runner_up_probability",
                               "given", "conflict") if c in row.index]
        self.tables[0].value = f"<h4>{html.escape(sample)}</h4>" + table_html(row[columns].to_frame(name=self.bundle.target))
        probabilities = augment.class_probabilities(self.bundle, self.atlas, [sample]).iloc[0]
        self.tables[1].value = table_html(probabilities.nlargest(self.n_classes).to_frame(name="calibrated probability"))
        try:
            values = augment.sample_contributions(self.bundle, self.atlas, [sample], method=self.method)
        except SrnaError as error:  # models without gradient attributions (e.g. RF)
            self.tables[2].value = f"<p>{html.escape(str(error))}</p>"
            self._show_figure(0, None)
            return
        explained = values.pop("explained class").iloc[0]
        top = values.iloc[0].sort_values(key=np.abs, ascending=False).head(k)
        self.tables[2].value = (f"<p>sRNAs that moved the score of <strong>{html.escape(str(explained))}</strong> "
                                f"({self.method.replace('_', ' ')}; baseline: the average training profile)</p>")
        self._show_figure(0, plots.contribution_bars(top, f"{sample}: {explained}", simulated=self.atlas.simulated))
