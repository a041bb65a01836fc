"""The pipeline grid: :class:`PipelineSpec` and the expansion of ``[[pipelines]]`` entries.

Each entry may give lists for its keys; their cross product is the grid. Every
pipeline is checked against the library's own validators (feature families and
their parameters, preprocessing steps, classifier parameters, threshold objectives)
before anything is run.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xrayfeat.exceptions import ConfigError

from .schema import _NAME, PIPELINE_SCHEMA


# --------------------------------------------------------------------------- pipelines
@dataclass(frozen=True)
class PipelineSpec:
    """One fully resolved pipeline of the grid.

    Attributes
    ----------
    name : str
        Unique, human-readable name (also the folder name of its results).
    features : str
        Feature-set name (a ``[feature_sets]`` entry or ``family+family``).
    families : tuple of str
    family_params : dict
    preprocess : str
        Name of the ``[preprocessing]`` chain.
    preprocess_steps : list
        The chain as given to :meth:`xrayfeat.preprocess.Preprocessor.from_config`.
    crop_lungs : bool
    classifier : str
    classifier_params : dict
    calibration : str or None
    threshold : str or float
    image_size : int
    source : str
        The ``pipelines[i]`` entry it was expanded from (for error messages).
    """

    name: str
    features: str
    families: tuple[str, ...]
    family_params: dict
    preprocess: str
    preprocess_steps: list
    crop_lungs: bool
    classifier: str
    classifier_params: dict
    calibration: str | None
    threshold: str | float
    image_size: int
    source: str

    def extractor_params(self) -> dict[str, Any]:
        """Parameters of :class:`xrayfeat.extract.FeatureExtractor` (without memory/n_jobs)."""
        return {
            "families": list(self.families),
            "family_params": copy.deepcopy(self.family_params) or None,
            "image_size": self.image_size,
            "preprocess": copy.deepcopy(self.preprocess_steps) or None,
            "crop_lungs": self.crop_lungs,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "features": self.features, "families": list(self.families),
            "family_params": self.family_params, "preprocess": self.preprocess,
            "preprocess_steps": self.preprocess_steps, "crop_lungs": self.crop_lungs,
            "classifier": self.classifier, "classifier_params": self.classifier_params,
            "calibration": self.calibration, "threshold": self.threshold,
            "image_size": self.image_size,
        }


_GRID_KEYS = ("features", "preprocess", "crop_lungs", "classifier", "calibration", "threshold")


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _auto_name(p: dict[str, Any], multiclass: bool, defaults: dict[str, Any]) -> str:
    """Features, then whatever differs from ``[pipeline_defaults]``, then the classifier."""
    parts = [p["features"]]
    if p["preprocess"] != defaults.get("preprocess", "none"):
        parts.append(p["preprocess"])
    if p["crop_lungs"]:
        parts.append("crop")
    parts.append(p["classifier"])
    if p["calibration"] != defaults.get("calibration", "sigmoid"):
        parts.append(f"cal-{p['calibration']}")
    if not multiclass and p["threshold"] != defaults.get("threshold", "balanced_accuracy"):
        parts.append(_threshold_tag(p["threshold"]))
    return "-".join(parts)


def _threshold_tag(threshold: str | float) -> str:
    """Short, file-name-safe tag of a threshold objective: ``sens0.96``, ``ppv0.9``, ``t0.5``."""
    if isinstance(threshold, float):
        return f"t{threshold:g}"
    from xrayfeat.thresholds import parse_objective

    objective = parse_objective(threshold)
    if objective.bound is not None:
        return ("sens" if objective.kind.endswith("sensitivity") else "ppv") + objective.name.split(">=")[1]
    return objective.name.replace("_", "")


def _rewrap(key: str, exc: Exception) -> ConfigError:
    return ConfigError(f"{key}: {exc}")


def _feature_set(name: str, cfg: Mapping[str, Any], key: str) -> tuple[tuple[str, ...], dict]:
    from xrayfeat.features import list_families

    sets = cfg.get("feature_sets", {})
    if name in sets:
        entry = sets[name]
        if "families" not in entry:
            raise ConfigError(f"'feature_sets.{name}.families' is required.")
        return tuple(entry["families"]), dict(entry.get("family_params", {}))
    families = tuple(name.split("+"))
    valid = list_families()
    bad = [f for f in families if f not in valid]
    if bad:
        raise ConfigError(
            f"{key}: {name!r} is neither a [feature_sets] entry ({sorted(sets) or 'none defined'}) "
            f"nor families joined by '+' (valid families: {valid}); unknown: {bad}."
        )
    return families, {}


def expand_pipelines(cfg: Mapping[str, Any]) -> list[PipelineSpec]:
    """Expand the ``[[pipelines]]`` entries (each a grid) into validated pipelines.

    Every list-valued key of an entry among ``features``, ``preprocess``,
    ``crop_lungs``, ``classifier``, ``calibration`` and ``threshold`` is crossed
    with the others. Each pipeline is checked with the library's own validators.

    Raises
    ------
    ConfigError
        Naming the entry (``pipelines[i].key``) for an unknown feature set,
        family, family parameter, preprocessing chain or step, classifier or
        classifier parameter, threshold objective; for an explicit ``name`` on an
        entry that expands to several pipelines; or for duplicate names.
    """
    from xrayfeat.dataset import BINARY_CLASSES, THREE_CLASSES
    from xrayfeat.extract import FeatureExtractor
    from xrayfeat.models import XRAY_CLASSIFIERS, classifier_param_names, resolve_classifier
    from xrayfeat.preprocess import Preprocessor
    from xrayfeat.thresholds import parse_objective

    multiclass = cfg["labels"] == "3class"
    defaults = cfg.get("pipeline_defaults", {})
    chains = cfg.get("preprocessing", {})
    specs: list[PipelineSpec] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(cfg["pipelines"]):
        src = f"pipelines[{i}]"
        full = {**defaults, **entry}
        missing = [k for k in PIPELINE_SCHEMA if k not in full and k != "name"]
        if missing:
            raise ConfigError(f"{src} lacks {missing} and [pipeline_defaults] does not set them.")
        axes = [_as_list(full[k]) for k in _GRID_KEYS]
        combos = list(itertools.product(*axes))
        if "name" in entry and len(combos) > 1:
            raise ConfigError(
                f"{src}.name is set but the entry expands to {len(combos)} pipelines; "
                "remove the name (names are then generated) or split the entry."
            )
        for combo in combos:
            p = dict(zip(_GRID_KEYS, combo))
            if p["classifier"] not in XRAY_CLASSIFIERS:
                raise ConfigError(f"{src}.classifier: unknown classifier {p['classifier']!r}; expected one of "
                                  f"{sorted(XRAY_CLASSIFIERS)}.")
            # "auto" is the library's default for the run's task; the name shows what it is.
            clf = p["classifier"] = resolve_classifier(p["classifier"], THREE_CLASSES if multiclass else BINARY_CLASSES)
            if clf == "hierarchical" and not multiclass:
                raise ConfigError(f"{src}.classifier: 'hierarchical' needs labels = \"3class\".")
            params = dict(full.get("classifier_params", {}))
            unknown = sorted(set(params) - set(classifier_param_names(clf)))
            if unknown:
                raise ConfigError(
                    f"{src}.classifier_params: unknown parameter(s) {unknown} for classifier {clf!r}; "
                    f"accepted: {classifier_param_names(clf)}."
                )
            calibration = None if p["calibration"] == "none" else p["calibration"]
            if calibration is None and clf in ("svm", "linear-svm"):
                raise ConfigError(f"{src}.calibration: classifier {clf!r} needs calibration 'sigmoid' or 'isotonic'.")
            threshold = p["threshold"]
            if isinstance(threshold, str):
                try:
                    threshold = parse_objective(threshold).name
                except ConfigError as exc:
                    raise _rewrap(f"{src}.threshold", exc) from None
            else:
                threshold = float(threshold)
            p["threshold"] = threshold
            if multiclass:
                # The threshold is binary-only (see default.toml): refused, not silently
                # dropped while its name would still reach the run's hash and names.
                from xrayfeat.calibrated import default_param

                if threshold != default_param("threshold"):
                    raise ConfigError(
                        f"{src}.threshold = {p['threshold']!r} applies to binary runs only; a 3class run "
                        "decides by the largest p(class) / prior(class). Leave threshold at its default "
                        f"({default_param('threshold')!r}) for labels = \"3class\".")
                threshold = default_param("threshold")
            families, family_params = _feature_set(p["features"], cfg, f"{src}.features")
            pre = p["preprocess"]
            if pre not in chains:
                raise ConfigError(
                    f"{src}.preprocess: unknown preprocessing chain {pre!r}; define it under "
                    f"[preprocessing] (defined: {sorted(chains)})."
                )
            steps = copy.deepcopy(chains[pre])
            try:
                Preprocessor.from_config(steps)
            except ConfigError as exc:
                raise _rewrap(f"preprocessing.{pre}", exc) from None
            name = entry.get("name") or _auto_name(p, multiclass, defaults)
            if not _NAME.match(name):
                raise ConfigError(f"{src}.name: {name!r} may use letters, digits and _ . + - only.")
            if name in seen:
                raise ConfigError(
                    f"two pipelines are both named {name!r} ({seen[name]} and {src}); in 3-class "
                    "mode the threshold is not used, so entries differing only by threshold "
                    "collide." if multiclass else
                    f"two pipelines are both named {name!r} ({seen[name]} and {src}); give one a name."
                )
            seen[name] = src
            spec = PipelineSpec(
                name=name, features=p["features"], families=families,
                family_params=family_params, preprocess=pre, preprocess_steps=steps,
                crop_lungs=bool(p["crop_lungs"]), classifier=clf, classifier_params=params,
                calibration=calibration, threshold=threshold,
                image_size=int(full["image_size"]), source=src,
            )
            try:
                FeatureExtractor(**spec.extractor_params()).fit()
            except ConfigError as exc:
                raise _rewrap(f"{src}.features ({p['features']})", exc) from None
            specs.append(spec)
    return specs
