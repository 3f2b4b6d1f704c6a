"""Executed notebooks as static, offline HTML."""

from __future__ import annotations

from pathlib import Path

from srna_nb.files import atomic_write

REPORT_TEMPLATE = Path(__file__).resolve().parent.parent / "templates"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def render_html(executed: Path, destination: Path, keep_code: bool = False) -> None:
    """Render an executed notebook to static, offline HTML (code hidden unless ``keep_code``).

    The ``srna_report`` template is JupyterLab's without the scripts it would fetch from a
    CDN (require.js, MathJax, mermaid, widget manager): figures are embedded images and
    tables are HTML, so a report reads the same with no network and no JavaScript.
    """
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        extra_template_basedirs=[str(REPORT_TEMPLATE)], template_name="srna_report",
        exclude_input=not keep_code, exclude_input_prompt=True, exclude_output_prompt=True,
    )
    notebook = nbformat.read(executed, as_version=4)
    _drop_widget_views(notebook)
    body, _ = exporter.from_notebook_node(notebook)
    atomic_write(destination, body)


def _drop_widget_views(notebook) -> None:
    """Remove live-widget outputs (and their state); the explorers' static snapshots stay before them."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if "outputs" in cell:
            cell.outputs = [output for output in cell.outputs if WIDGET_VIEW not in output.get("data", {})]
