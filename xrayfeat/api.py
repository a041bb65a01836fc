"""The functions most users call: ``fit``, ``predict``, ``predict_proba``.

They accept data in whatever form a user has it (a Kaggle root, a class folder,
a CSV manifest, a :class:`Dataset`, ``(paths, labels)``, a folder of images to
classify, or arrays) and delegate to :class:`xrayfeat.XrayClassifier`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._runner import skipped_summary
from .classifier import XrayClassifier
from .dataset import Dataset, _list_images, load_dataset
from .exceptions import ConfigError, DatasetError

__all__ = ["fit", "predict", "predict_proba", "predict_table", "PredictionTable", "resolve_images"]


def _training_data(data: Any, labels: str, duplicates: str = "raise"
                   ) -> tuple[list, np.ndarray, np.ndarray | None]:
    if isinstance(data, Dataset):
        ds = data
    elif isinstance(data, (str, os.PathLike)):
        ds = load_dataset(data, labels=labels, duplicates=duplicates)
    elif isinstance(data, tuple) and len(data) in (2, 3):
        paths, y = list(data[0]), np.asarray(data[1])
        groups = np.asarray(data[2]) if len(data) == 3 else None
        return paths, y, groups
    else:
        raise ConfigError(
            "data must be a folder or CSV manifest path, a Dataset, or a tuple "
            f"(paths, labels[, groups]); got {type(data).__name__}."
        )
    # A Kaggle root holds train/val/test: only ever fit on its training split.
    if "train" in set(ds.splits):
        ds = ds.split("train")
    elif set(ds.splits) - {""}:
        raise DatasetError(f"{ds.root!r} has splits {sorted(set(ds.splits.tolist()))} but no 'train' split "
                           "to fit on.")
    return ds.paths.tolist(), ds.labels, ds.groups


def fit(
    data: Any,
    *,
    classifier: Any = "auto",
    features: Any = None,
    threshold: str | float = "balanced_accuracy",
    calibration: str | None = "sigmoid",
    labels: str = "binary",
    cv: int = 5,
    random_state: int = 0,
    memory: Any = None,
    n_jobs: int | None = None,
    on_error: str = "raise",
    duplicates: str = "raise",
    **kwargs: Any,
) -> XrayClassifier:
    """Fit a chest X-ray classifier with calibrated probabilities and a chosen threshold.

    Parameters
    ----------
    data : str, path-like, Dataset or tuple
        A Kaggle root (its ``train`` split is used), a folder with class
        sub-folders, a CSV manifest, a :class:`xrayfeat.Dataset`, or
        ``(paths, labels)`` / ``(paths, labels, patient_ids)``.
    classifier : {"auto", "logreg", "svm", "linear-svm", "xgboost", "hierarchical"}, default="auto"
        See :class:`xrayfeat.XrayClassifier`; "auto" is "logreg" for two classes and
        "hierarchical" for ``labels="3class"``.
    features : dict, FeatureExtractor or None, default=None
        Feature settings: None is ``FeatureExtractor()`` (HOG + LBP + intensity on
        the lung crop at 128 px); a dict changes only the parameters it names.
    threshold : str or float, default="balanced_accuracy"
        Threshold objective or fixed threshold (binary only); see
        :mod:`xrayfeat.thresholds`.
    calibration : {"sigmoid", "isotonic"} or None, default="sigmoid"
        Probability calibration with patient-grouped folds.
    labels : {"binary", "3class"}, default="binary"
        Label set when ``data`` is a path.
    cv : int, default=5
        Patient-grouped, stratified folds for calibration, threshold and summary.
    random_state : int, default=0
        Seed of every random choice.
    memory : None, str or FeatureCache, default=None
        On-disk feature cache.
    n_jobs : int or None, default=None
        Parallel jobs.
    on_error : {"raise", "skip"}, default="raise"
        "skip": training images that cannot be read are left out of the fit,
        named in one warning and listed in the model's ``skipped_``
        (``{file: reason}``); "raise" stops at the first one.
    duplicates : {"raise", "warn", "ignore"}, default="raise"
        When ``data`` is a path: what to do with byte-identical files that
        belong to different patients, labels or splits (see
        :func:`xrayfeat.load_dataset`).
    **kwargs
        Other :class:`xrayfeat.XrayClassifier` parameters (``classifier_params``,
        ``class_costs``, ``prevalence``: the deployment site's class mix, see
        :meth:`xrayfeat.XrayClassifier.set_prevalence`).

    Returns
    -------
    XrayClassifier
        Fitted; see its ``threshold_``, ``objective_`` and ``cv_results_``.
    """
    if on_error not in ("raise", "skip"):
        raise ConfigError(f"on_error must be 'raise' or 'skip'; got {on_error!r}.")
    paths, y, groups = _training_data(data, labels, duplicates)
    model = XrayClassifier(
        classifier=classifier, features=features, threshold=threshold, calibration=calibration,
        cv=cv, random_state=random_state, memory=memory, n_jobs=n_jobs, **kwargs,
    )
    return model._fit(paths, y, groups=groups, on_error=on_error)


def resolve_images(images: Any) -> list:
    """Turn ``images`` into a list of paths or arrays.

    Parameters
    ----------
    images : str, path-like, ndarray, Dataset or sequence
        A folder (every image file below it, in natural order), one image file,
        one image array (grey, or colour with 1, 3 or 4 channels last), a stack
        of grey images of shape (n, rows, cols), an array of paths, a Dataset, or
        a sequence of paths and arrays.

    Returns
    -------
    list

    Raises
    ------
    DatasetError
        For a missing path or a folder without images.
    """
    if isinstance(images, Dataset):
        return images.paths.tolist()
    if isinstance(images, (str, os.PathLike)):
        path = Path(images)
        if path.is_dir():
            found = _list_images(path, strict=False)
            if not found:
                raise DatasetError(f"folder {str(path)!r} contains no image files.")
            return [str(p) for p in found]
        if not path.exists():
            raise DatasetError(f"no such image file or folder: {str(path)!r}.")
        return [str(path)]
    if isinstance(images, np.ndarray):
        if images.dtype.kind in "USO":  # an array of paths
            return images.tolist()
        # (rows, cols) grey, or (rows, cols, 1|3|4) colour: one image; (n, rows, cols): a stack
        if images.ndim == 2 or (images.ndim == 3 and images.shape[-1] in (1, 3, 4)):
            return [images]
        if images.ndim == 3:
            return list(images)
        raise ConfigError(
            f"an image array must be (rows, cols[, channels]) or a stack (n, rows, cols); got shape {images.shape}."
        )
    return list(images)


def _check_model(model: Any) -> XrayClassifier:
    if not isinstance(model, XrayClassifier):
        raise ConfigError(f"expected a model from xrayfeat.fit or xrayfeat.load; got {type(model).__name__}.")
    return model


def predict(model: XrayClassifier, images: Any) -> np.ndarray:
    """Predict class names (e.g. ``"NORMAL"`` / ``"PNEUMONIA"``) at the model's threshold.

    Parameters
    ----------
    model : XrayClassifier
        From :func:`fit` or :func:`xrayfeat.load`.
    images : str, path-like, ndarray, Dataset or sequence
        See :func:`resolve_images`.

    Returns
    -------
    ndarray of shape (n,)
    """
    return _check_model(model).predict(resolve_images(images))


def predict_proba(model: XrayClassifier, images: Any) -> np.ndarray:
    """Calibrated class probabilities, shape (n, n_classes), in ``model.classes_`` order.

    Parameters
    ----------
    model : XrayClassifier
        From :func:`fit` or :func:`xrayfeat.load`.
    images : str, path-like, ndarray, Dataset or sequence
        See :func:`resolve_images`.

    Returns
    -------
    ndarray of shape (n, n_classes)
    """
    return _check_model(model).predict_proba(resolve_images(images))


@dataclass
class PredictionTable:
    """Predictions with the images they belong to (from :func:`predict_table`).

    Attributes
    ----------
    images : list of str
        The file of each row (``"<array i>"`` for in-memory arrays), in input order.
    labels : ndarray of shape (n,), dtype object
        Predicted class, None for a skipped image.
    proba : ndarray of shape (n, n_classes)
        Calibrated probabilities in ``classes`` order, NaN for a skipped image.
    classes : list of str
        Column order of ``proba``.
    errors : dict of int to str
        Row -> why that image was skipped (``on_error="skip"``).
    threshold : float or None
        The model's decision threshold on the probability of its positive class
        (``model.pos_label_``; binary), None for
        a multiclass model (largest p/prior, or cheapest class).
    """

    images: list[str]
    labels: np.ndarray
    proba: np.ndarray
    classes: list[str]
    errors: dict[int, str] = field(default_factory=dict)
    threshold: float | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One dict per image: ``image``, ``label``, ``p_<class>`` ..., ``threshold``, ``error``."""
        out = []
        for i, image in enumerate(self.images):
            row: dict[str, Any] = {"image": image, "label": self.labels[i]}
            row.update({f"p_{c}": float(self.proba[i, k]) for k, c in enumerate(self.classes)})
            row["threshold"] = self.threshold
            row["error"] = self.errors.get(i, "")
            out.append(row)
        return out

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write :meth:`csv_text` to a file.

        Returns
        -------
        pathlib.Path
            The file, written atomically.
        """
        from ._atomic import write_text

        return write_text(path, self.csv_text())

    def csv_text(self) -> str:
        """:meth:`rows` as CSV text (skipped images have empty labels and probabilities)."""
        import csv
        import io

        buf = io.StringIO()
        columns = ["image", "label", *(f"p_{c}" for c in self.classes), "threshold", "error"]
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in self.rows():
            writer.writerow({k: ("" if v is None or (isinstance(v, float) and np.isnan(v)) else v)
                             for k, v in row.items()})
        return buf.getvalue()

    def to_frame(self) -> Any:
        """The table as a pandas DataFrame (needs pandas, which xrayfeat does not require)."""
        import pandas as pd

        return pd.DataFrame(self.rows())


def _features_or_skip(model: XrayClassifier, sources: list, on_error: str
                      ) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """The model's features of resolved ``sources``, which rows are usable, and why the others are not.

    With ``on_error="skip"`` one warning names the unreadable images (the first three).
    """
    if on_error not in ("raise", "skip"):
        raise ConfigError(f"on_error must be 'raise' or 'skip'; got {on_error!r}.")
    F, info = model._prediction_extractor().transform_with_info(sources, on_error=on_error)
    ok = np.array([i not in info.errors for i in range(len(sources))], dtype=bool)
    if info.errors:
        # stacklevel 3: the caller of predict_table / estimate_prevalence.
        warnings.warn(f"skipped {skipped_summary(info.errors)}", UserWarning, stacklevel=3)
    return F, ok, info.errors


def predict_table(model: XrayClassifier, images: Any, *, on_error: str = "raise") -> PredictionTable:
    """Predict labels and probabilities, each next to the file it belongs to.

    Parameters
    ----------
    model : XrayClassifier
        From :func:`fit` or :func:`xrayfeat.load`.
    images : str, path-like, ndarray, Dataset or sequence
        See :func:`resolve_images`; a folder is read in natural file order.
    on_error : {"raise", "skip"}, default="raise"
        "skip": an image that cannot be read (a 1x1 PNG, a truncated file) keeps
        its row with no label, NaN probabilities and the reason in ``errors``,
        and one warning names the skipped files; the others are classified.

    Returns
    -------
    PredictionTable
        ``.to_csv(path)``, ``.rows()`` or ``.to_frame()``.

    Raises
    ------
    ImageReadError
        With ``on_error="raise"``, for the first unreadable image.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> import xrayfeat
    >>> rng = np.random.default_rng(0)
    >>> films = [rng.random((64, 64), dtype=np.float32) * (0.5 + 0.5 * (i % 2)) for i in range(24)]
    >>> model = xrayfeat.XrayClassifier(cv=2, features={"families": ["intensity"], "image_size": 64,
    ...                                                 "progress": False}).fit(films, ["a", "b"] * 12)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # "skipped 1 unreadable image(s): ..."
    ...     table = xrayfeat.predict_table(model, films[:2] + [np.zeros((4, 4))], on_error="skip")
    >>> table.labels.tolist(), table.images[2]
    (['a', 'b', None], '<array 2>')
    >>> table.errors[2]  # doctest: +ELLIPSIS
    'cannot read image array input: image is only 4 x 4 pixels; ...'

    With files, ``table.to_csv("predictions.csv")`` writes one row per image.
    """
    model = _check_model(model)
    sources = resolve_images(images)
    F, ok, errors = _features_or_skip(model, sources, on_error)
    proba = np.full((len(sources), len(model.classes_)), np.nan)
    labels = np.full(len(sources), None, dtype=object)
    if ok.any():
        proba[ok] = model.model_.predict_proba(F[ok])
        labels[ok] = model.model_._labels(proba[ok])  # one classification, for both columns
    names = [s if isinstance(s, str) else f"<array {i}>" for i, s in enumerate(sources)]
    return PredictionTable(images=names, labels=labels, proba=proba,
                           classes=[str(c) for c in model.classes_], errors=errors,
                           threshold=None if model.threshold_ is None else float(model.threshold_))
