"""Pre-trained models shipped with the package (built by ``tools/build_models.py`` from public atlases).

Each model is a bundle folder in ``srna_nb/pretrained/<name>/`` with a model card (``card.json``,
``MODEL_CARD.md``): training sets and licences, classes with sample and study counts, naming
release, held-out-study and cross-atlas accuracy measured when it was built, versions, date.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd

from srna_nb.augment.bundle import Bundle, load_bundle
from srna_nb.errors import SrnaParameterError


def _folder() -> Path:
    return Path(str(resources.files("srna_nb").joinpath("pretrained")))


def model_names() -> list[str]:
    """Names of the shipped models."""
    folder = _folder()
    return sorted(p.name for p in folder.iterdir() if (p / "bundle.json").is_file()) if folder.is_dir() else []


def model_card(name: str) -> dict:
    """The model card of a shipped model."""
    return json.loads((_model_folder(name) / "card.json").read_text())


def list_models() -> pd.DataFrame:
    """One row per shipped model: target, model, classes, features, accuracies measured when built."""
    rows = []
    for name in model_names():
        card = model_card(name)
        cross = card.get("cross-atlas (train on one atlas, annotate the other's shared organs; mean over seeds)", {})
        chosen = {k: v for k, v in cross.items() if k.endswith(f"{card.get('candidate', card['model'])}, missing features = {card.get('imputation')}")}
        candidate = card.get("candidate", card["model"])
        atlas_out = [v for k, v in card.get(ATLAS_OUT_KEY, {}).items()
                     if k.endswith(f", {candidate}") and "=" not in k]  # whole atlases, not their parts (TCGA's kinds)
        rows.append({
            "name": name, "target": card["target"], "model": card["model"], "classes": len(card["classes"]),
            "features": card["features"], "training samples": sum(s["samples"] for s in card["training sets"].values()),
            "held-out-study accuracy": card.get("held-out-study accuracy (grouped 5 folds, cross-fitted)"),
            "cross-atlas accuracy": " / ".join(f"{v['accuracy']:.3f}" for v in chosen.values()),
            "held-out-atlas accuracy": _span([v["learnt-class accuracy"] for v in atlas_out]),
            "built": card["built"], "description": card["description"],
        })
    return pd.DataFrame(rows)


#: The card entry of leave-one-atlas-out figures (``tools/build_models.py``).
ATLAS_OUT_KEY = "leave-one-atlas-out (train on the other atlases, annotate the held-out one; mean over seeds)"


def _span(values: list) -> str:
    """``lowest-highest (n atlases)`` of per-atlas accuracies on learnt classes; empty when none were measured."""
    values = [v for v in values if v is not None]
    return f"{min(values):.2f}-{max(values):.2f} ({len(values)} atlases)" if values else ""


def _model_folder(name: str) -> Path:
    if name not in model_names():
        raise SrnaParameterError(f"no shipped model {name!r}; shipped: {', '.join(model_names()) or 'none'}")
    return _folder() / name


def load_model(name: str) -> Bundle:
    """A shipped model by name, checked like any bundle (checksums, trusted types)."""
    return load_bundle(_model_folder(name))
