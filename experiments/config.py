"""Benchmark configuration: TOML files, ``--set`` overrides, resolution and the run hash.

The schema lives in :mod:`experiments.schema`, the pipeline grid in
:mod:`experiments.grid`; both are re-exported here.

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
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from xrayfeat.exceptions import ConfigError

from .grid import PipelineSpec, _rewrap, expand_pipelines
from .schema import SCHEMA, _join, validate_structure

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
#: The CNN is one of them: enabling it must not rerun the classical pipelines, and its
#: stage is pinned by its own settings (``RunDir.load_stage``).
EXECUTION_KEYS = ("profile", "run", "compare", "figures", "learning_curve", "shortcuts", "cnn")


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
    cnn = cfg["cnn"]
    if cnn["threshold"] != "" and isinstance(cnn["threshold"], str):
        from xrayfeat.thresholds import parse_objective

        try:
            parse_objective(cnn["threshold"])
        except ConfigError as exc:
            raise _rewrap("cnn.threshold", exc) from None
    if cnn["enabled"] and 2 ** len(cnn["filters"]) > cnn["image_size"]:
        raise ConfigError(f"cnn.filters: {len(cnn['filters'])} blocks halve the image {len(cnn['filters'])} "
                          f"times, more than cnn.image_size={cnn['image_size']} allows.")
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
