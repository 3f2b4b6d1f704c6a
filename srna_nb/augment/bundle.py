"""Model bundles: train once on all labelled samples, save safely, load and apply many times.

A bundle holds the fitted pipeline, the exact feature list and input scale it expects, its
classes, the probability calibration, the novelty scorer and thresholds behind the
``confident / uncertain / unknown`` status, out-of-fold predictions for the training samples, a
training summary (data, sample counts, held-out metrics) and the versions of everything involved.

On disk (a directory)::

    bundle.json        metadata, thresholds, summary, versions, and the SHA-256 of every file
    pipeline.skops     preprocessing + classifier (without the Keras network), via skops
    network-<step>.keras   the Keras network of a DL model (loaded with compile=False)
    novelty.skops      the novelty scorer
    out_of_fold.csv    cross-fitted annotations of the training samples (conflict candidates)
    calibration.csv    reliability table of held-out predictions before and after calibration

A bundle for a number (:class:`~srna_nb.augment.numeric.NumericBundle`, ``"kind": "number"`` in
``bundle.json``) has no calibration table and keeps its interval half-width and value bins in
``bundle.json`` instead of classes and a temperature.

Loading checks every file against its recorded checksum and refuses types outside
:data:`TRUSTED_TYPES` (skops never unpickles arbitrary code). The checksums detect changed or
swapped files; they are not a signature (whoever can rewrite ``bundle.json`` can rewrite them).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from srna_nb.augment.numeric import NumericBundle, NumericSummary
from srna_nb.augment.report import BundleReport, LabelledFigures
from srna_nb.calibration import TemperatureScaler
from srna_nb.errors import SrnaInputError
from srna_nb.files import sha256_file
from srna_nb.models import attach_networks, detach_networks
from srna_nb.novelty import NoveltyScorer

FORMAT_VERSION = 1
#: Types (beyond skops' defaults: numpy, scikit-learn estimators, builtins) a bundle may contain.
TRUSTED_TYPES = (
    "numpy.dtype",  # SimpleImputer (the fill step) keeps the dtype it was fitted on
    "sklearn.tree._tree.Tree",
    "srna_nb.models.DLClassifier",
    "srna_nb.models.DLRegressor",
    "srna_nb.models.RFClassifier",
    "srna_nb.models.RFRegressor",
    "srna_nb.novelty.NoveltyScorer",
    "srna_nb.preprocessing.DetectionFilter",
    "srna_nb.preprocessing.LibrarySizeNormalizer",
    "srna_nb.preprocessing.Log2p",
    "srna_nb.preprocessing.QuantileNormalizer",
)


@dataclass
class HeldOutSummary(LabelledFigures):
    """What a bundle is trained on and how it did on its held-out cross-fitting: figures, not display text.

    Accuracies and shares are over the training samples, each predicted by a model fitted without
    its study (the bundle's ``protocol``); ECE is the expected calibration error before and after
    temperature scaling.
    """

    data: str
    training_samples: int
    studies: int | None
    class_sizes: dict[str, int]
    cross_fitting: str
    accuracy: float
    balanced_accuracy: float
    ece_before: float
    ece_after: float
    confident_share: float
    confident_accuracy: float
    unknown_share: float
    conflicts: int
    #: Nominal coverage of the prediction sets, their measured coverage on held-out studies (each
    #: fold's set threshold from the other folds) and their mean size (None in older bundles).
    set_coverage: float | None = None
    held_out_set_coverage: float | None = None
    mean_set_size: float | None = None

    #: Display labels, in order (``labelled``); bundles saved before 2026-12-02 stored these as keys.
    LABELS: ClassVar[dict[str, str]] = {
        "data": "data", "training_samples": "training samples", "studies": "studies", "class_sizes": "class sizes",
        "cross_fitting": "cross-fitting", "accuracy": "held-out accuracy", "balanced_accuracy": "held-out balanced accuracy",
        "ece_before": "ECE before calibration", "ece_after": "ECE after calibration",
        "confident_share": "held-out confident share", "confident_accuracy": "held-out accuracy of confident predictions",
        "unknown_share": "held-out unknown share", "conflicts": "conflicts flagged in the training data",
        "set_coverage": "nominal prediction-set coverage", "held_out_set_coverage": "held-out prediction-set coverage",
        "mean_set_size": "held-out mean prediction-set size",
    }


@dataclass
class Bundle(BundleReport):
    """A trained, calibrated predictor for one target (see module docstring)."""

    target: str
    model_name: str
    pipeline: Any
    features: list[str]
    input_scale: str
    classes: list[str]
    calibrator: TemperatureScaler
    novelty: NoveltyScorer
    novelty_thresholds: list[float]
    confidence_threshold: float
    class_groups: dict[str, str] | None
    out_of_fold: pd.DataFrame
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: HeldOutSummary | None = None
    versions: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    #: Per feature: how much the classifier relies on it (see :func:`srna_nb.augment.reliance.input_reliance`).
    feature_importance: list[float] | None = None
    #: ``mean`` or ``zero``: how features missing from a new matrix are filled in.
    imputation: str = "zero"
    #: Below this share of input importance present in a new matrix, samples are ``low_coverage``.
    min_coverage: float = 0.0
    #: Nominal coverage of the conformal prediction sets, and the calibrated probability a class
    #: needs to enter a sample's set (:func:`srna_nb.calibration.set_threshold`); None: no sets.
    set_coverage: float | None = None
    set_threshold: float | None = None

    kind: ClassVar[str] = "classes"

    def _settings(self) -> dict[str, Any]:
        return {"target": self.target, "model": self.model_name, "classes": len(self.classes), "features": len(self.features),
                "input scale": self.input_scale, "confidence threshold": self.confidence_threshold,
                "missing features filled with": self.imputation, "minimum importance coverage": self.min_coverage,
                "calibration temperature": round(self.calibrator.temperature_, 3),
                "prediction sets": "none" if self.set_threshold is None else
                f"{self.set_coverage:.0%} nominal coverage: classes with probability >= {self.set_threshold:.3f}"}


def save_bundle(bundle: Bundle, folder: str | Path, overwrite: bool = False) -> Path:
    """Write ``bundle`` to ``folder``: all files into a temporary folder first, then moved into place."""
    import skops.io as sio

    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise SrnaInputError(f"{folder}: already exists; pass overwrite=True to replace it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes 0700: a saved bundle is readable like any folder
    try:
        shell, networks = detach_networks(bundle.pipeline)
        sio.dump(shell, staging / "pipeline.skops")
        for step, network in networks.items():
            network.save(staging / f"network-{step}.keras")
        sio.dump(bundle.novelty, staging / "novelty.skops")
        bundle.out_of_fold.to_csv(staging / "out_of_fold.csv", index=False)
        meta = {
            "format_version": FORMAT_VERSION, "kind": bundle.kind, "target": bundle.target, "model_name": bundle.model_name,
            "features": list(bundle.features), "input_scale": bundle.input_scale,
            "novelty_thresholds": list(map(float, bundle.novelty_thresholds)), "networks": sorted(networks),
            "summary": asdict(bundle.summary) if bundle.summary else None, "versions": bundle.versions, "seed": bundle.seed,
            "feature_importance": bundle.feature_importance, "imputation": bundle.imputation, "min_coverage": bundle.min_coverage,
        }
        if bundle.kind == "number":
            meta |= {"coverage": bundle.coverage, "half_width": bundle.half_width}
        else:
            bundle.calibration.to_csv(staging / "calibration.csv", index=False)
            meta |= {"classes": list(bundle.classes), "temperature": bundle.calibrator.temperature_,
                     "confidence_threshold": bundle.confidence_threshold, "class_groups": bundle.class_groups,
                     "set_coverage": bundle.set_coverage, "set_threshold": bundle.set_threshold}
        meta["files"] = {path.name: sha256_file(path) for path in sorted(staging.iterdir())}
        (staging / "bundle.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        if folder.exists():
            retired = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            os.replace(folder, retired)
            os.replace(staging, folder)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def load_bundle(folder: str | Path) -> Bundle:
    """Read a bundle written by :func:`save_bundle`, refusing altered files and untrusted types."""
    import skops.io as sio

    folder = Path(folder)
    meta_path = folder / "bundle.json"
    if not meta_path.is_file():
        raise SrnaInputError(f"{folder}: not a bundle (no bundle.json)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SrnaInputError(f"{meta_path}: not valid JSON ({error.__class__.__name__})") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise SrnaInputError(f"{meta_path}: bundle format {meta.get('format_version')!r}; this srna_nb reads format {FORMAT_VERSION}")
    for name, digest in meta.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            raise SrnaInputError(f"{path}: missing from the bundle")
        if sha256_file(path) != digest:
            raise SrnaInputError(f"{path}: altered since the bundle was saved (checksum mismatch); refusing to load it")
    kind = meta.get("kind", "classes")
    expected = {"pipeline.skops", "novelty.skops", "out_of_fold.csv", *(f"network-{s}.keras" for s in meta.get("networks", []))}
    if kind == "classes":
        expected.add("calibration.csv")
    elif kind != "number":
        raise SrnaInputError(f"{meta_path}: unknown bundle kind {kind!r} (this srna_nb knows classes and number)")
    missing = sorted(expected - set(meta.get("files", {})))
    if missing:
        raise SrnaInputError(f"{meta_path}: no checksum recorded for {', '.join(missing)}; refusing to load it")
    parts = {}
    for name in ("pipeline", "novelty"):
        path = folder / f"{name}.skops"
        untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
        if untrusted:
            raise SrnaInputError(f"{path}: contains types srna_nb does not trust ({', '.join(untrusted[:3])}); refusing to load it")
        parts[name] = sio.load(path, trusted=list(TRUSTED_TYPES))
    networks = {step: _load_network(folder / f"network-{step}.keras") for step in meta.get("networks", [])}
    common = dict(
        target=meta["target"], model_name=meta["model_name"], pipeline=attach_networks(parts["pipeline"], networks),
        features=meta["features"], input_scale=meta["input_scale"], novelty=parts["novelty"],
        novelty_thresholds=meta["novelty_thresholds"],
        out_of_fold=pd.read_csv(folder / "out_of_fold.csv", keep_default_na=False, na_values=[""]),
        versions=meta["versions"], seed=meta["seed"], feature_importance=meta.get("feature_importance"),
    )
    if kind == "number":
        return NumericBundle(
            **common, coverage=meta["coverage"], half_width=meta["half_width"],
            summary=NumericSummary.from_dict(meta["summary"]) if meta.get("summary") else None,
            imputation=meta["imputation"], min_coverage=meta["min_coverage"],
        )
    calibrator = TemperatureScaler()
    calibrator.temperature_ = float(meta["temperature"])
    return Bundle(
        **common, classes=meta["classes"], calibrator=calibrator, confidence_threshold=meta["confidence_threshold"],
        class_groups=meta["class_groups"], calibration=pd.read_csv(folder / "calibration.csv"),
        summary=HeldOutSummary.from_dict(meta["summary"]) if meta.get("summary") else None,
        imputation=meta.get("imputation", "zero"), min_coverage=meta.get("min_coverage", 0.0),
        set_coverage=meta.get("set_coverage"), set_threshold=meta.get("set_threshold"),
    )


def _load_network(path: Path):
    import keras

    # compile=False: a bundle saved under one Keras backend loads under another; safe_mode
    # (the default) refuses Lambda layers and other embedded code.
    return keras.models.load_model(path, compile=False, safe_mode=True)


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
