"""The benchmark configuration's schema: what every key may hold, checked before anything runs.

:func:`validate_structure` checks a merged configuration against :data:`SCHEMA`
(unknown keys and wrong types name the key, e.g. ``unknown key
'pipelines[2].clasifier'``); the leaves are the library's predicate-with-description
(:class:`xrayfeat._validation.Predicate`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from xrayfeat._validation import Predicate, is_int
from xrayfeat.exceptions import ConfigError


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
    "cnn": {
        "enabled": Bool,
        "image_size": Int(16, 1024),
        "epochs": Int(1, 1000),
        "patience": Int(1, 1000),
        "batch_size": Int(1, 4096),
        "learning_rate": Float(0.0, 1.0),
        "val_folds": Int(2, 20),
        "filters": ListOf(Int(1, 4096), min_len=1),
        "dense": Int(1, 65536),
        "dropout": Float(0.0, 1.0, open_low=False),
        "rotation": Float(0.0, 180.0, open_low=False, open_high=False),
        "shift": Float(0.0, 0.5, open_low=False, open_high=False),
        "zoom": Float(0.0, 0.9, open_low=False, open_high=False),
        "threshold": _Check('"" (the pipelines\' threshold) or a threshold as in [pipeline_defaults]',
                            lambda v: v == "" or _threshold_ok(v)),
    },
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
