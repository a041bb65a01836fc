"""Benchmark configuration: TOML files, ``--set`` overrides, a schema, pipeline grids.

Layers, each overriding the one before (tables merge key by key, lists and
values replace):

1. ``experiments/configs/default.toml`` -- every key, documented;
2. ``experiments/configs/sample.toml`` -- only when the *sample* profile is active
   (``profile = "auto"`` and no data given, or ``profile = "sample"``);
3. the user's ``--config FILE``;
4. command-line flags (``--data``, ``--train``, ``--test``, ``--labels``, ``--out``,
   ``--jobs``, ``--compare``);
5. ``--set key=value`` overrides, in order (``--set cv.folds=3``,
   ``--set pipelines[0].classifier=xgboost``). Values are parsed as TOML values
   (``3``, ``true``, ``[0.5, 1.0]``, ``"text"``); anything that does not parse is
   taken as a bare string (``--set labels=3class``).

:func:`resolve_config` validates the result completely -- structure against
:data:`SCHEMA` (unknown keys and wrong types are errors that name the key,
e.g. ``unknown key 'pipelines[2].clasifier'``), then every pipeline against the
library's own validators (feature families and their parameters, preprocessing
steps, classifier parameters, threshold objectives) -- before anything is run.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xrayfeat._validation import Predicate, is_int
from xrayfeat.exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    try:
        import tomli as tomllib
    except ImportError as exc:
        raise ImportError(
            "experiments.run reads TOML configs; on Python 3.10 install tomli "
            "(pip install tomli)."
        ) from exc

__all__ = [
    "CONFIG_DIR",
    "DEFAULT_CONFIG",
    "SAMPLE_PROFILE",
    "SCHEMA",
    "PipelineSpec",
    "load_toml",
    "merge",
    "apply_set",
    "validate_structure",
    "resolve_config",
    "expand_pipelines",
    "config_hash",
]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default.toml"
SAMPLE_PROFILE = CONFIG_DIR / "sample.toml"

#: Keys that change how a run executes or is displayed but not its numbers; they
#: are left out of the run folder's hash so that e.g. ``--jobs 2`` or ``--compare``
#: reuse the finished pipelines of an earlier run.
EXECUTION_KEYS = ("profile", "run", "compare", "figures", "learning_curve", "shortcuts")


# ----------------------------------------------------------------------------- schema
class _Check(Predicate):
    """A leaf of the schema: the library's predicate-with-description, raising on a key."""

    def __init__(self, expected: str, test: Callable[[Any], bool]):
        super().__init__(test, expected)

    @property
    def expected(self) -> str:
        return self.description

    def __call__(self, value: Any, key: str) -> None:  # type: ignore[override]
        if not self.test(value):
            raise ConfigError(f"{key!r} must be {self.expected}; got {value!r}.")


_is_int = is_int


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def Int(low: int | None = None, high: int | None = None, *, not_zero: bool = False) -> _Check:
    rng = ("" if low is None else f" >= {low}") + ("" if high is None else f" and <= {high}")
    return _Check(
        "an integer" + rng + (" and not 0" if not_zero else ""),
        lambda v: _is_int(v) and (low is None or v >= low) and (high is None or v <= high)
        and not (not_zero and v == 0),
    )


def Float(low: float, high: float, *, open_low: bool = True, open_high: bool = True) -> _Check:
    lb, hb = "(" if open_low else "[", ")" if open_high else "]"

    def test(v: Any) -> bool:
        if not _is_num(v):
            return False
        return (v > low if open_low else v >= low) and (v < high if open_high else v <= high)

    return _Check(f"a number in {lb}{low}, {high}{hb}", test)


def Choice(*options: Any) -> _Check:
    return _Check(f"one of {list(options)}", lambda v: isinstance(v, (str, bool)) and v in options)


Str = _Check("a string", lambda v: isinstance(v, str))
Bool = _Check("true or false", lambda v: isinstance(v, bool))
Table = _Check("a table (TOML {...} or [section])", lambda v: isinstance(v, dict))


def ListOf(item: _Check, *, min_len: int = 0) -> _Check:
    return _Check(
        f"a list of {item.expected.removeprefix('a ').removeprefix('an ')}"
        + (f" with at least {min_len} entr{'y' if min_len == 1 else 'ies'}" if min_len else ""),
        lambda v: isinstance(v, list) and len(v) >= min_len and all(item.test(x) for x in v),
    )


def OneOrList(item: _Check) -> _Check:
    """A value, or a non-empty list of values crossed with the other lists (a grid)."""
    return _Check(
        f"{item.expected}, or a non-empty list of them",
        lambda v: item.test(v) or (isinstance(v, list) and len(v) > 0 and all(item.test(x) for x in v)),
    )


def _threshold_ok(v: Any) -> bool:
    return isinstance(v, str) or (_is_num(v) and 0.0 < v < 1.0)


_THRESHOLD = _Check('an objective name ("balanced_accuracy", "specificity@sensitivity>=0.96", ...) '
                    "or a number in (0, 1)", _threshold_ok)
_PREPROCESS_STEP = _Check("a step name or a table", lambda v: isinstance(v, (str, dict)))

#: Keys of one pipeline entry (and of ``[pipeline_defaults]``).
PIPELINE_SCHEMA: dict[str, Any] = {
    "name": Str,
    "features": OneOrList(Str),
    "preprocess": OneOrList(Str),
    "crop_lungs": OneOrList(Bool),
    "classifier": OneOrList(Str),
    "classifier_params": Table,
    "calibration": OneOrList(Choice("sigmoid", "isotonic", "none")),
    "threshold": OneOrList(_THRESHOLD),
    "image_size": Int(16, 4096),
}

FEATURE_SET_SCHEMA: dict[str, Any] = {
    "families": ListOf(Str, min_len=1),
    "family_params": Table,
}


class _MapOf:
    """A table whose keys are user-chosen names, each value checked by ``item``."""

    def __init__(self, item: Any):
        self.item = item


class _ListOfTables:
    def __init__(self, item: dict[str, Any], min_len: int = 0):
        self.item, self.min_len = item, min_len


#: The complete schema; ``experiments/configs/default.toml`` documents each key.
SCHEMA: dict[str, Any] = {
    "seed": Int(0, 2**32 - 1),
    "labels": Choice("binary", "3class"),
    "profile": Choice("auto", "sample", "none"),
    "data": {
        "root": Str,
        "train": Str,
        "test": Str,
        "val": Choice("ignore", "train"),
        "duplicates": Choice("raise", "warn", "ignore"),
    },
    "run": {
        "out": Str,
        "cache": Str,
        "jobs": Int(-1, 256, not_zero=True),
    },
    "cv": {"folds": Int(2, 20)},
    "evaluation": {
        "n_boot": Int(0, 100_000),
        "alpha": Float(0.0, 0.5),
        "ece_bins": Int(2, 100),
        "timing_images": Int(0, 10_000),
    },
    "figures": {
        "enabled": Bool,
        "dpi": Int(30, 600),
        "overlay_images": Int(0, 50),
    },
    "learning_curve": {
        "enabled": Bool,
        "fractions": ListOf(Float(0.0, 1.0, open_high=False), min_len=1),
        "pipeline": Str,
    },
    "compare": {
        "files": ListOf(Str),
        "threshold": Float(0.0, 1.0),
    },
    "shortcuts": {"enabled": Bool},
    "explain": {
        "enabled": Bool,
        "occlusion_images": Int(0, 100_000),
        "sheet_images": Int(0, 12),
    },
    "feature_sets": _MapOf(FEATURE_SET_SCHEMA),
    "preprocessing": _MapOf(ListOf(_PREPROCESS_STEP)),
    "pipeline_defaults": PIPELINE_SCHEMA,
    "pipelines": _ListOfTables(PIPELINE_SCHEMA, min_len=1),
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def _unknown(key: str, name: str, known: Sequence[str]) -> ConfigError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys here: {sorted(known)}."
    return ConfigError(f"unknown key {key!r}{hint}")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _check_table(value: Any, schema: dict[str, Any], prefix: str) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{prefix!r} must be a table; got {value!r}.")
    for name, item in value.items():
        key = _join(prefix, name)
        if name not in schema:
            raise _unknown(key, name, schema)
        _check_value(item, schema[name], key)


def _check_value(value: Any, rule: Any, key: str) -> None:
    if isinstance(rule, dict):
        _check_table(value, rule, key)
    elif isinstance(rule, _MapOf):
        if not isinstance(value, dict):
            raise ConfigError(f"{key!r} must be a table of named entries; got {value!r}.")
        for name, item in value.items():
            if not _NAME.match(name):
                raise ConfigError(
                    f"{_join(key, name)!r}: names may use letters, digits and _ . + - only."
                )
            _check_value(item, rule.item, _join(key, name))
    elif isinstance(rule, _ListOfTables):
        if not isinstance(value, list) or len(value) < rule.min_len:
            raise ConfigError(
                f"{key!r} must be a list of at least {rule.min_len} table(s) "
                f"(TOML [[{key}]] sections); got {value!r}."
            )
        for i, item in enumerate(value):
            _check_table(item, rule.item, f"{key}[{i}]")
    else:
        rule(value, key)


def validate_structure(cfg: Mapping[str, Any]) -> None:
    """Check every key and value type/range of a merged configuration.

    Raises
    ------
    ConfigError
        Naming the first unknown key or bad value, e.g. ``unknown key
        'pipelines[2].clasifier'; did you mean 'classifier'?``.
    """
    _check_table(dict(cfg), SCHEMA, "")


# ----------------------------------------------------------------------------- layers
def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning file and syntax errors into ConfigError."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` onto ``base``: tables merge, everything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parse_key(path: str) -> list[str | int]:
    tokens: list[str | int] = []
    pos = 0
    for m in _TOKEN.finditer(path):
        gap = path[pos:m.start()]
        if gap not in ("", "."):
            break
        tokens.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not tokens or pos != len(path) or isinstance(tokens[0], int):
        raise ConfigError(
            f"cannot parse the key {path!r} of --set; use dotted names with optional list "
            "indexes, e.g. cv.folds=3 or pipelines[0].classifier=svm."
        )
    return tokens


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: --set labels=3class


def apply_set(cfg: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply one ``key=value`` override in place and return ``cfg``.

    Raises
    ------
    ConfigError
        If the assignment has no ``=``, the key cannot be parsed, or it indexes
        past the end of a list or into a value that is not a table or list.
    """
    if "=" not in assignment:
        raise ConfigError(f"--set expects key=value; got {assignment!r}.")
    path, text = assignment.split("=", 1)
    tokens = _parse_key(path.strip())
    node: Any = cfg
    where = ""
    for tok, nxt in zip(tokens[:-1], tokens[1:]):
        if isinstance(tok, int):
            if not isinstance(node, list) or tok >= len(node):
                size = len(node) if isinstance(node, list) else 0
                raise ConfigError(f"--set {path}: {where!r} has {size} entries; index {tok} is out of range.")
            node = node[tok]
            where = f"{where}[{tok}]"
        else:
            if not isinstance(node, dict):
                raise ConfigError(f"--set {path}: {where!r} is not a table.")
            if tok not in node:
                node[tok] = [] if isinstance(nxt, int) else {}
            node = node[tok]
            where = _join(where, tok)
    last = tokens[-1]
    value = _parse_value(text.strip())
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ConfigError(f"--set {path}: index {last} is out of range for {where!r}.")
        node[last] = value
    else:
        if not isinstance(node, dict):
            raise ConfigError(f"--set {path}: {where!r} is not a table.")
        node[last] = value
    return cfg


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
    from xrayfeat.extract import FeatureExtractor
    from xrayfeat.models import CLASSIFIERS
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
            clf = p["classifier"]
            if clf not in CLASSIFIERS:
                raise ConfigError(f"{src}.classifier: unknown classifier {clf!r}; expected one of {sorted(CLASSIFIERS)}.")
            params = dict(full.get("classifier_params", {}))
            unknown = sorted(set(params) - set(CLASSIFIERS[clf]))
            if unknown:
                raise ConfigError(
                    f"{src}.classifier_params: unknown parameter(s) {unknown} for classifier {clf!r}; "
                    f"accepted: {sorted(CLASSIFIERS[clf])}."
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
                # The threshold is binary-only (see default.toml) and XrayClassifier refuses
                # any but its default on 3 classes; the name above still shows the entry's.
                from xrayfeat.calibrated import default_param

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


# ----------------------------------------------------------------------------- resolve
def _uses_sample(cfg: Mapping[str, Any]) -> bool:
    data = cfg.get("data", {})
    return not any(data.get(k) for k in ("root", "train", "test"))


def resolve_config(
    file: str | Path | None = None,
    *,
    cli: Mapping[str, Any] | None = None,
    sets: Sequence[str] = (),
) -> dict[str, Any]:
    """Build and validate the full configuration from its layers.

    Parameters
    ----------
    file : str, path or None, default=None
        The user's TOML file.
    cli : dict or None, default=None
        Values from command-line flags, as a nested dict (e.g.
        ``{"data": {"root": "..."}, "run": {"jobs": 2}}``).
    sets : sequence of str, default=()
        ``key=value`` overrides, applied last, in order.

    Returns
    -------
    dict
        The resolved configuration; ``cfg["profile"]`` says which profile was
        applied ("sample" or "none").

    Raises
    ------
    ConfigError
        For unreadable files, bad ``--set`` syntax, unknown keys, bad values and
        invalid pipelines.
    """

    user = load_toml(file) if file is not None else {}

    def build(with_sample: bool, only: tuple[str, ...] | None = None) -> dict[str, Any]:
        cfg = load_toml(DEFAULT_CONFIG)
        if with_sample:
            cfg = merge(cfg, load_toml(SAMPLE_PROFILE))
        cfg = merge(merge(cfg, user), dict(cli or {}))
        for assignment in sets:
            if only is None or assignment.strip().startswith(only):
                apply_set(cfg, assignment)
        return cfg

    # Whether the sample profile applies depends only on "profile" and "data.*"; decide
    # that first, so that --set indexes into the profile's own [[pipelines]] work.
    probe = build(False, only=("profile", "data"))
    profile = probe.get("profile", "auto")
    sample = profile == "sample" or (profile == "auto" and _uses_sample(probe))
    cfg = build(sample)
    validate_structure(cfg)
    cfg["profile"] = "sample" if sample else "none"
    data = cfg["data"]
    if data["root"] and (data["train"] or data["test"]):
        raise ConfigError("give either data.root (--data) or data.train/data.test (--train/--test), not both.")
    if data["test"] and not data["train"]:
        raise ConfigError("data.test (--test) needs data.train (--train) too.")
    specs = expand_pipelines(cfg)
    names = [s.name for s in specs]
    lc = cfg["learning_curve"]
    if lc["pipeline"] and lc["pipeline"] not in names:
        raise ConfigError(
            f"'learning_curve.pipeline' is {lc['pipeline']!r}, which is not a pipeline of this run; "
            f"pipelines: {names}."
        )
    for i, f in enumerate(cfg["compare"]["files"]):
        if not Path(f).expanduser().is_file():
            raise ConfigError(f"'compare.files[{i}]' (--compare): no such file {f!r}.")
    return cfg


def config_hash(cfg: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> str:
    """12-hex-digit digest of everything in ``cfg`` that can change a pipeline's numbers.

    :data:`EXECUTION_KEYS` (output folder, jobs, cache location, figures, the
    learning curve and comparisons) are left out; ``extra`` (e.g. resolved data
    paths and library versions) is included.
    """
    material = {k: v for k, v in cfg.items() if k not in EXECUTION_KEYS}
    material["__extra__"] = dict(extra or {})
    from xrayfeat.cache import config_digest

    return config_digest(material, default=str)[:12]
