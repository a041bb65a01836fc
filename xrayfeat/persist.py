"""Model files that cannot run code when loaded.

``pickle`` and ``joblib`` files execute whatever their author put in them the
moment they are loaded. xrayfeat model files are skops archives instead: a zip
holding a JSON schema of plain values and numpy arrays (``.npy``, read without
pickle), where every object type must be named and is checked against an
explicit allow-list *before* anything is constructed. XGBoost boosters are
stored in XGBoost's own JSON format inside that archive.

A file that is not such an archive, that was tampered with, or that names any
type or function outside :data:`ALLOWED_TYPES` (besides plain containers, numbers,
strings and numpy arrays) is refused with :class:`ModelFileError`. The check reads
every name in the schema itself: skops trusts all of scikit-learn's estimators and
numpy's functions by default, far more than an xrayfeat model holds.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import publish
from ._version import __version__
from .exceptions import ConfigError, ModelFileError

__all__ = ["save", "load", "ALLOWED_TYPES"]

FORMAT = "xrayfeat-model"
# 2: the fitted estimator on features is a CalibratedThresholdClassifier (cross-fitted
# calibration); format 1 files hold a structure this version no longer has.
FORMAT_VERSION = 2

#: Every non-builtin type an xrayfeat model may contain (checked before loading).
ALLOWED_TYPES = frozenset({
    # xrayfeat
    "xrayfeat.classifier.XrayClassifier",
    "xrayfeat.calibrated.CalibratedThresholdClassifier",
    "xrayfeat.hierarchical.HierarchicalClassifier",
    "xrayfeat.extract.FeatureExtractor",
    "xrayfeat.models.BalancedXGBClassifier",
    "xrayfeat.thresholds.specificity_at_sensitivity",
    "xrayfeat.thresholds.sensitivity_at_precision",
    "xrayfeat.thresholds.youden_j",
    # scikit-learn
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.svm._classes.SVC",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.utils._metadata_requests.MetadataRequest",
    "sklearn.utils._metadata_requests.MethodMetadataRequest",
    "sklearn.utils._bunch.Bunch",
    "sklearn.preprocessing._label.LabelEncoder",
    "numpy.ndarray",
    "numpy.dtype",
}) | frozenset(  # the built-in feature families, which FeatureExtractor(families=[...]) holds
    f"xrayfeat.features.{module}.{name}"
    for module, names in (("hog", ("HOG", "HOGParams")), ("lbp", ("LBP", "LBPParams")),
                          ("intensity", ("Intensity", "IntensityParams")),
                          ("glcm", ("GLCM", "GLCMParams")), ("zones", ("Zones", "ZonesParams")))
    for name in names
)

# Plain values every archive names besides the allow-list: containers, numbers,
# strings and numpy scalars (the numeric, boolean and string kinds; no object arrays).
_VALUE_TYPES = frozenset(
    {f"builtins.{t}" for t in ("dict", "list", "tuple", "str", "int", "float", "bool", "complex",
                               "bytes", "bytearray", "NoneType")}
    | {f"numpy.{np.dtype(code).type.__name__}" for code in "?bhilqBHILQefdgFDGUS"}
)

# Types that format-1 files held and this version no longer allows: a file naming only
# these (and declaring format 1) is old, not tampered with.
_FORMAT_1_TYPES = frozenset({
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.model_selection._classification_threshold.TunedThresholdClassifierCV",
    "sklearn.model_selection._classification_threshold.FixedThresholdClassifier",
    "sklearn.model_selection._split.StratifiedGroupKFold",
    "sklearn.metrics._scorer._CurveScorer",
    "sklearn.metrics._scorer._Scorer",
    "sklearn.metrics._classification.balanced_accuracy_score",
    "sklearn.metrics._classification.f1_score",
    "scipy.interpolate._polyint._Interpolator1D",
})

_EXTRA_ALLOWED: set[str] = set()


def allow_types(*names: str) -> None:
    """Add type names to the allow-list (for feature families registered by users).

    Parameters
    ----------
    *names : str
        Fully qualified names, e.g. ``"mypkg.features.MyFamily"``.
    """
    _EXTRA_ALLOWED.update(names)


def _versions() -> dict[str, str]:
    import sklearn

    out = {"xrayfeat": __version__, "scikit-learn": sklearn.__version__}
    try:
        import xgboost

        out["xgboost"] = xgboost.__version__
    except ImportError:  # pragma: no cover - xgboost is a dependency
        pass
    return out


def _estimators(obj: Any, seen: set[int] | None = None):
    """Every object with a ``__dict__`` reachable from ``obj`` through attributes and containers."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _estimators(item, seen)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _estimators(item, seen)
    elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in ("sklearn", "xrayfeat"):
        yield obj
        for item in vars(obj).values():
            yield from _estimators(item, seen)


def _compact_support_vectors(model: Any) -> None:
    """Store SVM support vectors as float32 where that loses nothing (in place).

    They are rows of the standardised float32 feature matrix, held as float64 by
    libsvm: half of every RBF-SVM model file was zero mantissa bits.
    :func:`_restore_support_vectors` undoes it on load.
    """
    import numpy as np
    from sklearn.svm._base import BaseLibSVM

    for est in _estimators(model):
        sv = getattr(est, "support_vectors_", None)
        if isinstance(est, BaseLibSVM) and isinstance(sv, np.ndarray) and sv.dtype == np.float64:
            small = sv.astype(np.float32)
            if np.array_equal(small, sv):
                est.support_vectors_ = small


def _restore_support_vectors(model: Any) -> None:
    """libsvm predicts only from float64 support vectors."""
    import numpy as np
    from sklearn.svm._base import BaseLibSVM

    for est in _estimators(model):
        sv = getattr(est, "support_vectors_", None)
        if isinstance(est, BaseLibSVM) and isinstance(sv, np.ndarray) and sv.dtype == np.float32:
            est.support_vectors_ = sv.astype(np.float64)


def _for_saving(model: Any) -> Any:
    """A copy of a fitted model ready for a file: no feature cache, compact arrays.

    The fitting machine's cache path means nothing to whoever loads the file (it
    made another user's predictions fail with "permission denied"); the loader
    can set one with ``model.set_params(memory=...)``. The copy is deep because
    the support vectors are changed in place.
    """
    import copy

    out = copy.deepcopy(model)
    _compact_support_vectors(out)
    out.memory = None
    if isinstance(out.features, dict):
        out.features = {k: v for k, v in out.features.items() if k != "memory"}
    elif hasattr(out.features, "set_params"):
        out.features.set_params(memory=None)
    out.features_.set_params(memory=None)
    return out


def check_destination(path: str | os.PathLike) -> Path:
    """Refuse a path :func:`save` must not write to: a folder, or a file that is not a model.

    Callers that fit first check here before the fit, not after it.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ModelFileError
        If ``path`` is a folder, or an existing file that is not a zip archive
        (an image, a CSV: somebody's data, which a model must not replace).
    """
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"cannot save the model to {str(path)!r}: it is a folder. Give a file name, "
                             f"e.g. {str(path / 'model.xrf')!r}.")
    if path.is_file() and _file_head(path) != b"PK\x03\x04":
        raise ModelFileError(f"{str(path)!r} exists and is not a model file, so it was not overwritten; "
                             "choose another name or remove it first.")
    return path


def save(model: Any, path: str | os.PathLike) -> Path:
    """Save a fitted model to a safe skops file, atomically.

    Parameters
    ----------
    model : XrayClassifier
        A fitted model.
    path : str or path-like
        Destination; the ``.xrf`` suffix is conventional but not required.

    Returns
    -------
    pathlib.Path
        The written file. It records the xrayfeat, scikit-learn and XGBoost
        versions and the model's full configuration, except the feature cache
        (``memory``), which is machine-specific and left out.
    """
    import skops.io as sio

    from .classifier import XrayClassifier

    if not isinstance(model, XrayClassifier) or not hasattr(model, "model_"):
        raise ModelFileError(f"only fitted xrayfeat models can be saved; got {type(model).__name__}.")
    path = check_destination(path)
    model = _for_saving(model)
    config = json.dumps(model.get_params(deep=False), default=repr, sort_keys=True)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "config": config,
        "model": model,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target, then rename: a crash never leaves a half-written model.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        # Deflate: the schema (thousands of feature names) and float arrays shrink well.
        sio.dump(payload, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        refused = _refused_types(_named_types(_schema(Path(tmp))))
        if refused:
            # Refused now, not by load() after a long fit has been thrown away.
            raise ModelFileError(
                f"this model holds type(s) that xrayfeat.load would refuse: {refused}. Use a "
                "classifier xrayfeat supports (logreg, svm, linear-svm, xgboost, hierarchical), or "
                "register your own types with xrayfeat.persist.allow_types(...) before saving and "
                "before loading."
            )
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _file_head(path: Path) -> bytes:
    """The first four bytes of a file (fewer if it is shorter; empty if unreadable)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4)
    except OSError:
        return b""


def _check_archive(path: Path) -> None:
    """Refuse anything but a complete zip archive, saying which of the failures it is.

    ``zipfile.is_zipfile`` answers False for an unreadable file too (it swallows the
    OSError), which used to be reported as "a pickle file": open the file ourselves.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            complete = zipfile.is_zipfile(fh)
    except PermissionError:
        raise ModelFileError(
            f"cannot read the model file {str(path)!r}: permission denied. Ask its owner to "
            "make it readable (e.g. chmod a+r) or copy it somewhere you can read."
        ) from None
    except OSError as exc:
        raise ModelFileError(f"cannot read the model file {str(path)!r}: {exc.strerror or exc}.") from None
    if complete:
        return
    if head == b"PK\x03\x04" or not head:
        # A zip's directory is at its end: a file that starts like one but has no
        # directory was cut short (an interrupted copy or download).
        raise ModelFileError(
            f"the model file {str(path)!r} is truncated ({path.stat().st_size} bytes; the zip "
            "archive has no end). Copy or download it again."
        )
    raise ModelFileError(
        f"{str(path)!r} is not an xrayfeat model file (expected a skops zip archive). "
        "Pickle and joblib files are refused because loading them can run arbitrary code."
    )


def _schema(path: Path) -> Any:
    """A skops archive's ``schema.json``, parsed (read once; nothing is constructed)."""
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("schema.json"))


def _named_types(schema: Any) -> set[str]:
    """Every type and function a skops schema names, as ``module.name``.

    Each node of the schema that stands for an object, a type or a function carries
    ``__module__`` and ``__class__``; a data dict with such keys only adds names,
    so the check can refuse more, never less.
    """
    names: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__loader__" in node and "__module__" in node and "__class__" in node:
                names.add(f"{node['__module__']}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


def _refused_types(names: set[str]) -> list[str]:
    """The names outside the allow-list and the plain value types, sorted."""
    return sorted(names - ALLOWED_TYPES - _EXTRA_ALLOWED - _VALUE_TYPES)


def _declared_format_version(schema: Any) -> int | None:
    """The ``format_version`` a model file's schema declares, if it declares one.

    Lets an old file be told apart from a tampered one before its types are checked:
    a format-1 file names types this version no longer allows.
    """
    try:
        return int(json.loads(schema["content"]["format_version"]["content"]))
    except (KeyError, TypeError, ValueError):
        return None


def load(path: str | os.PathLike) -> Any:
    """Load a model saved by :func:`save`, refusing anything that could run code.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`xrayfeat.save`.

    Returns
    -------
    XrayClassifier

    Raises
    ------
    ModelFileError
        If the file is missing, not a skops archive (e.g. a pickle or joblib
        file), corrupt or tampered with, not an xrayfeat model, or names a type
        outside the allow-list. Nothing from the file is executed in any case.
    """
    import skops.io as sio

    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{str(path)!r} is a folder, not a model file (a .xrf file written by xrayfeat.save).")
    if not path.is_file():
        raise ModelFileError(f"no such model file: {str(path)!r}.")
    _check_archive(path)
    try:
        found = sio.get_untrusted_types(file=path)
        schema = _schema(path)
        refused = _refused_types(_named_types(schema))
    except Exception as exc:  # skops raises assorted errors on damaged archives
        raise ModelFileError(f"{str(path)!r} is corrupt or was tampered with ({type(exc).__name__}: {exc}).") from None
    declared = _declared_format_version(schema)
    if refused and declared is not None and declared < FORMAT_VERSION and set(refused) <= _FORMAT_1_TYPES:
        raise ModelFileError(
            f"{str(path)!r} was written by an older xrayfeat (format {declared}, this version reads "
            f"format {FORMAT_VERSION}); fit the model again and save it."
        )
    if refused:
        raise ModelFileError(
            f"{str(path)!r} refers to type(s) outside xrayfeat's allow-list, so it was not loaded: "
            f"{refused}. If you trust the file and registered these types yourself, call "
            "xrayfeat.persist.allow_types(...) first."
        )
    try:
        payload = sio.load(path, trusted=found)
    except Exception as exc:
        raise ModelFileError(f"{str(path)!r} is corrupt or was tampered with ({type(exc).__name__}: {exc}).") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{str(path)!r} is a skops file but not an xrayfeat model.")
    if payload.get("format_version", 0) < FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was written by an older xrayfeat (format {payload.get('format_version', 0)}, "
            f"this version reads format {FORMAT_VERSION}); fit the model again and save it."
        )
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} was written by a newer xrayfeat (format {payload['format_version']}); upgrade xrayfeat."
        )
    saved, now = payload.get("versions", {}), _versions()
    changed = {k: (saved.get(k), v) for k, v in now.items() if saved.get(k) != v}
    if changed:
        warnings.warn(
            f"model file {str(path)!r} was saved with different library versions {changed}; "
            "predictions may differ slightly.", UserWarning, stacklevel=2,
        )
    model = payload.get("model")
    from .classifier import XrayClassifier

    if not isinstance(model, XrayClassifier) or not hasattr(model, "features_"):
        raise ModelFileError(
            f"{str(path)!r} is an xrayfeat archive without a fitted model in it "
            f"(found {type(model).__name__}); it was not written by xrayfeat.save."
        )
    try:
        model.features_._fitted_spec()  # features computed as when the model was fitted?
    except ConfigError as exc:
        raise ModelFileError(f"{str(path)!r} cannot be used with this xrayfeat: {exc}") from None
    _restore_support_vectors(model)
    model.saved_versions_ = saved
    return model
