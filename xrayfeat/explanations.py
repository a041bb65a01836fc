"""Where on the film did the model look? Per-pixel explanations of a fitted classifier.

:func:`explain` turns one prediction into a heatmap in the input image's
coordinates: positive values pushed the model towards the class it predicted,
negative values away from it. Three methods, chosen by the model:

``"linear"`` (logreg, linear SVM): exact.
    The score explained is the **mean calibrated log-odds** of the explained
    class over the cross-fitted ensemble's members: member *i* (a scaler and a
    linear model fitted without fold *i*) gives the decision value
    ``f_i(x) = w_i . z_i(x) + c_i`` with ``z_i`` the standardised features, and
    the shared sigmoid calibrator maps it to the log-odds ``a f_i(x) + b``. The
    contribution of feature *j* is ``mean_i(a w_ij z_ij(x))``, so the
    contributions plus ``Explanation.baseline`` (``mean_i(a c_i + b)``) equal
    ``Explanation.score`` to float precision. (The model's probability is the
    mean of the members' calibrated probabilities, a monotone function of each
    member's log-odds.) Without sigmoid calibration (isotonic, or
    ``calibration=None``) ``a = 1, b = 0``: the mean decision
    value. Each feature's contribution is then put on the pixels it describes by
    its family's :meth:`~xrayfeat.features.FeatureFamily.attribution_map` (HOG:
    its cell; LBP: its grid region's mask pixels; intensity histogram bins: the
    pixels of that grey level; statistics: the whole mask; zones: their lung
    band), and the map is carried back through the resize and the lung crop, so
    the heatmap sums to ``score - baseline`` up to resampling error.

``"tree-contribs"`` (XGBoost): exact for the booster.
    XGBoost's own per-feature contributions (``pred_contribs``, TreeSHAP) of the
    raw booster margin, averaged over the members; they plus the bias term sum
    to the mean margin (calibration is monotone and not undone). Mapped to pixels
    as above.

``"occlusion"`` (models with standardised features; the default for the RBF SVM): approximate.
    Each *part* of the image as the families see it (a HOG cell, an LBP grid
    region, a lung zone; a family without geometry, such as the intensity
    statistics, as a whole: :meth:`~xrayfeat.features.FeatureFamily.feature_parts`)
    is hidden in turn by resetting its features to their training mean (the
    mean of the ensemble members' scalers): the average film's value, where
    filling pixels would describe a flat patch, which reads as an opacity. The
    part's value is the drop of the calibrated log-odds of the predicted label,
    shared evenly by its features and mapped to pixels as above. The reference
    is the average film, not the decision: for a non-linear model the average
    film's own log-odds (``Explanation.baseline``, every part reset at once) can
    be far from the class mix, so a film predicted as the label can still have a
    mostly negative heatmap (it is less like the label than the average film).
    For a linear model this reproduces the exact heatmap closely (correlation
    0.97-0.99 in the tests). One prediction per part: ~70 for the defaults.
    ``Explanation.contributions`` is then None (the parts' values need not add
    up to ``score - baseline``).

``Explanation.inside_lungs`` is the share of the positive attribution that falls
inside the lung mask (segmented on the working image, as for the crop; NaN when
the mask was implausible). For a model that reads the chest it is high; a
model leaning on labels, borders or the abdomen scores low.

Cost (``python benchmarks/bench_explain.py``): see the README.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from .exceptions import ConfigError

__all__ = ["Explanation", "explain", "explanation_method", "EXPLAIN_METHODS"]

#: Names of the explanation methods, see the module docstring.
EXPLAIN_METHODS = ("linear", "tree-contribs", "occlusion")
# Images per batch: bounds the intermediates (prepared images, contributions) of long lists.
_BATCH = 64


@dataclasses.dataclass(repr=False)
class Explanation:
    """Why the model predicted ``label`` for one image.

    Attributes
    ----------
    heatmap : ndarray of shape (rows, cols), dtype float32
        Attribution per pixel of the image as read (see :func:`explain`): positive
        towards ``label``, negative away from it, zero where no feature looked
        (outside the lung crop).
    label : object
        The predicted class (at the model's threshold).
    probability : float
        Calibrated probability of ``label`` (under the model's prevalence).
    threshold : float or None
        The binary model's threshold on the probability of ``pos_label``.
    classes : ndarray
        The model's classes.
    proba : ndarray of shape (n_classes,)
        Calibrated probability of every class, in ``classes`` order (what
        :func:`xrayfeat.predict_proba` gives for the image).
    pos_label : object or None
        The binary model's positive class (None for multiclass models).
    method : {"linear", "tree-contribs", "occlusion"}
        How the heatmap was made (see the module docstring).
    score : float
        The explained score, oriented towards ``label``: the mean calibrated
        log-odds (linear) or mean booster margin (tree-contribs), both under the
        training class mix, or the calibrated log-odds of ``probability``
        (occlusion). With three or more classes it is the one-vs-rest log-odds
        of the label's column before the probabilities are normalised to sum to
        one, so it differs from ``logit(probability)``, and it can be negative
        for a label chosen by the largest ``p / training share`` (the balanced
        rule) rather than the largest ``p``.
    baseline : float
        The part of ``score`` no feature explains (intercepts, bias); for
        occlusion, the label's calibrated log-odds with every part reset to the
        training mean (the average film).
    contributions : ndarray of shape (n_features,) or None
        Per-feature contributions, oriented like ``score``, in the order of
        ``model.features_.get_feature_names_out()``; ``contributions.sum() +
        baseline == score``. None for occlusion.
    family_totals : dict of str to float
        Sum of the contributions of each feature family (occlusion: of its
        parts' values).
    lung_mask : ndarray of bool of shape (rows, cols), or None
        The lung mask in the image's coordinates; None if segmentation gave no
        plausible mask.
    inside_lungs : float
        Share of the positive attribution inside ``lung_mask`` (NaN without a
        mask or without positive attribution).
    crop_box : tuple of int or None
        ``(row0, row1, col0, col1)`` of the region the features described, in the
        image's coordinates (None without lung cropping).
    crop_fallback : bool
        True when the lung mask was rejected and the central crop was used.
    inverted : bool
        True when the film looked inverted (white lungs) and its negative was
        described (``FeatureExtractor(invert=...)``).
    """

    heatmap: np.ndarray
    label: Any
    probability: float
    threshold: float | None
    classes: np.ndarray
    proba: np.ndarray
    pos_label: Any
    method: str
    score: float
    baseline: float
    contributions: np.ndarray | None
    family_totals: dict[str, float]
    lung_mask: np.ndarray | None
    inside_lungs: float
    crop_box: tuple[int, int, int, int] | None
    crop_fallback: bool
    inverted: bool

    def __repr__(self) -> str:
        return (f"Explanation(label={self.label!r}, probability={self.probability:.3f}, "
                f"method={self.method!r}, inside_lungs={self.inside_lungs:.3f}, "
                f"shape={self.heatmap.shape})")

    def as_dict(self) -> dict[str, Any]:
        """The scalar fields, JSON-serialisable (no arrays)."""
        return {
            "label": _plain(self.label), "probability": self.probability,
            "threshold": self.threshold, "pos_label": _plain(self.pos_label), "method": self.method,
            "score": self.score,
            "baseline": None if np.isnan(self.baseline) else self.baseline,
            "family_totals": dict(self.family_totals),
            "inside_lungs": None if np.isnan(self.inside_lungs) else self.inside_lungs,
            "crop_box": None if self.crop_box is None else list(self.crop_box),
            "crop_fallback": self.crop_fallback, "inverted": self.inverted,
        }

    def save_png(self, path: str | os.PathLike, image: Any, **kwargs: Any) -> str:
        """Write the overlay of :func:`xrayfeat.plot_explanation` to a PNG file.

        Parameters
        ----------
        path : str or path-like
            Output file.
        image : array-like of shape (rows, cols) or str or path-like
            The image explained (any resolution: the heatmap is stretched onto it).
        **kwargs
            Passed to :func:`xrayfeat.plot_explanation`.

        Returns
        -------
        str
            The path written.
        """
        from .plots import save_explanation

        return save_explanation(self, image, path, **kwargs)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# ------------------------------------------------------------------------- model access
@dataclasses.dataclass
class _Member:
    """One fitted base model of the cross-fitted ensemble, with its calibration map.

    ``pipeline`` is the fitted ``Pipeline([scaler,] model)``; the member's
    calibrated log-odds for its score column k are ``slope[k] * f_k + offset[k]``
    (1 and 0 without sigmoid calibration); ``booster`` is the XGBoost booster
    (or None); ``feature_mean`` the mean of the features it was fitted on, from
    its scaler (None without one).
    """

    pipeline: Any
    slope: np.ndarray
    offset: np.ndarray
    booster: Any = None
    feature_mean: np.ndarray | None = None


@dataclasses.dataclass
class _Fitted:
    """What explanations need of a fitted model: its members, and its probabilities and
    labels on feature matrices (``proba(F)``, ``labels(proba)``)."""

    members: list[_Member]
    proba: Any
    labels: Any


def _unwrap(model: Any) -> _Fitted:
    """The fitted parts of an :class:`~xrayfeat.XrayClassifier`.

    The one place that knows how the model is built: ``model_`` is a
    :class:`~xrayfeat.calibrated.CalibratedThresholdClassifier` whose ``members_``
    are the fold-fitted pipelines and whose ``calibrators_`` (shared by the members,
    one per score column) are ``[a, b]`` arrays for sigmoid calibration
    (``p = expit(-(a f + b))``), knot arrays for isotonic, or empty without
    calibration.
    """
    est = model.model_
    if hasattr(est, "stages_"):
        # A hierarchical model's class probability is a product of two stages, not one
        # linear score: occlusion explains it, resetting features to stage 1's training
        # mean (its scalers saw every film; stage 2's saw pneumonia films only).
        members = [_Member(pipe, np.ones(1), np.zeros(1), None, getattr(pipe[0], "mean_", None))
                   for pipe in est.stages_[0].members_]
        return _Fitted(members, est.predict_proba, est._labels)
    calibrators = list(est.calibrators_)
    n = 1 if len(est.classes_) == 2 else len(est.classes_)  # score columns
    sigmoid = bool(calibrators) and all(np.ndim(c) == 1 for c in calibrators)
    slope = -np.array([c[0] for c in calibrators], dtype=np.float64) if sigmoid else np.ones(n)
    offset = -np.array([c[1] for c in calibrators], dtype=np.float64) if sigmoid else np.zeros(n)
    members = []
    for pipe in est.members_:
        final = pipe[-1]
        booster = final._model().get_booster() if hasattr(final, "booster_json_") else None
        mean = getattr(pipe[0], "mean_", None) if len(pipe) > 1 else None
        members.append(_Member(pipe, slope, offset, booster, mean))
    return _Fitted(members, est.predict_proba, est._labels)


def explanation_method(model: Any) -> str:
    """The method :func:`explain` uses for ``model`` by default.

    Parameters
    ----------
    model : XrayClassifier
        A fitted model.

    Returns
    -------
    {"linear", "tree-contribs", "occlusion"}
        "linear" for logistic regression and linear SVMs, "tree-contribs" for
        XGBoost, "occlusion" for anything else (the RBF SVM, hierarchical models).
    """
    model = _check_model(model)
    if hasattr(model.model_, "stages_"):  # hierarchical: see _unwrap
        return "occlusion"
    member = _unwrap(model).members[0]
    if member.booster is not None:
        return "tree-contribs"
    final = member.pipeline[-1]
    if hasattr(final, "coef_") and getattr(final, "kernel", "linear") == "linear":
        return "linear"
    return "occlusion"


def _check_model(model: Any) -> Any:
    from ._fitted import check_is_fitted
    from .classifier import XrayClassifier

    if not isinstance(model, XrayClassifier):
        raise ConfigError(f"explain needs a model from xrayfeat.fit or xrayfeat.load; got "
                          f"{type(model).__name__}.")
    check_is_fitted(model, "model_")
    return model


# ------------------------------------------------------------------------- scores
def _oriented_index(model: Any, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(score column, sign) per image: the column of the members' scores that
    speaks for each predicted label, and +1/-1 so that positive means 'towards it'."""
    classes = model.classes_
    k = np.searchsorted(classes, labels)
    if len(classes) == 2:  # one score column, for classes_[1]
        return np.zeros_like(k), np.where(k == 1, 1.0, -1.0)
    return k, np.ones(len(k))


def _linear_contributions(members: list[_Member], F: np.ndarray, col: np.ndarray,
                          sign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(contributions (n, d), baseline (n,)) of the mean calibrated log-odds, oriented."""
    contrib = np.zeros(F.shape, dtype=np.float64)
    base = np.zeros(len(F))
    for m in members:
        z = m.pipeline[:-1].transform(F) if len(m.pipeline) > 1 else F
        final = m.pipeline[-1]
        coef = np.atleast_2d(final.coef_)
        intercept = np.atleast_1d(final.intercept_)
        contrib += (m.slope[col] * sign)[:, None] * coef[col] * np.asarray(z, dtype=np.float64)
        base += sign * (m.slope[col] * intercept[col] + m.offset[col])
    return contrib / len(members), base / len(members)


def _tree_contributions(members: list[_Member], F: np.ndarray, col: np.ndarray,
                        sign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(contributions (n, d), bias (n,)) of the mean booster margin, oriented."""
    from xgboost import DMatrix

    data = DMatrix(np.asarray(F, dtype=np.float32))
    total = None
    for m in members:
        c = m.booster.predict(data, pred_contribs=True)
        if c.ndim == 3:  # multiclass: (n, classes, d + 1)
            c = c[np.arange(len(F)), col]
        total = c if total is None else total + c
    total = total.astype(np.float64) / len(members) * sign[:, None]
    return total[:, :-1], total[:, -1]


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


# ------------------------------------------------------------------------- geometry
def _feature_map(spec: Any, contributions: np.ndarray, image: np.ndarray,
                 mask: np.ndarray | None) -> tuple[np.ndarray, dict[str, float]]:
    """Per-pixel amounts on the families' input, and each family's total."""
    out = np.zeros(image.shape, dtype=np.float64)
    totals: dict[str, float] = {}
    start = 0
    for fam in spec.families:
        n = fam.n_features(image.shape)
        part = contributions[start:start + n]
        start += n
        out += fam.attribution_map(part, image, mask)
        totals[fam.name] = float(part.sum())
    return out, totals


def _to_input(amounts: np.ndarray, spec: Any, info: dict[str, Any]) -> np.ndarray:
    """Carry per-pixel amounts on the families' input back to the image as read:
    undo the resize of the crop, place it in the working image, undo the first resize."""
    from .features._base import resize_amounts

    size = spec.image_size
    if info.get("crop_box") is not None:
        r0, r1, c0, c1 = info["crop_box"]
        work = np.zeros((size, size))
        work[r0:r1, c0:c1] = resize_amounts(amounts, (r1 - r0, c1 - c0))
    else:
        work = amounts
    return resize_amounts(work, tuple(info["shape"]))


def _input_box(spec: Any, info: dict[str, Any]) -> tuple[int, int, int, int] | None:
    if info.get("crop_box") is None:
        return None
    rows, cols = info["shape"]
    r0, r1, c0, c1 = info["crop_box"]
    s = spec.image_size
    return (int(round(r0 * rows / s)), int(round(r1 * rows / s)),
            int(round(c0 * cols / s)), int(round(c1 * cols / s)))


def _input_lungs(prep: Any) -> np.ndarray | None:
    """The working image's lung mask at the input's shape, if it is plausible."""
    import cv2

    from .segment import check_lung_mask

    if prep.lungs is None or not check_lung_mask(prep.lungs)[0]:
        return None
    rows, cols = prep.info["shape"]
    return cv2.resize(prep.lungs.view(np.uint8), (cols, rows), interpolation=cv2.INTER_NEAREST) > 0


def _inside(heatmap: np.ndarray, lungs: np.ndarray | None) -> float:
    if lungs is None:
        return float("nan")
    positive = np.maximum(heatmap, 0.0)
    total = float(positive.sum())
    return float(positive[lungs].sum()) / total if total > 0 else float("nan")


def _parts(spec: Any) -> tuple[np.ndarray, int]:
    """Part number of every feature over all families (each family's parts numbered on)."""
    out, n = [], 0
    for fam in spec.families:
        p = fam.feature_parts(spec.shape)
        out.append(p + n)
        n += int(p.max()) + 1 if p.size else 0
    return np.concatenate(out), n


def _occlusion_contributions(fitted: _Fitted, spec: Any, F: np.ndarray, k_label: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-feature share of each part's drop (n, d), the label's log-odds (n,), at the mean (n,)).

    Every part (a HOG cell, an LBP region, a family without geometry as a whole)
    is reset in turn to the training mean of its features, the average film's
    value; the drop of the label's calibrated log-odds is the part's value, shared
    evenly by its features. The last row resets every part: the reference.
    """
    baseline = np.mean([m.feature_mean for m in fitted.members], axis=0)
    parts, n_parts = _parts(spec)
    size = np.bincount(parts, minlength=n_parts)
    contrib = np.empty(F.shape, dtype=np.float64)
    score, reference = np.empty(len(F)), np.empty(len(F))
    for i, x in enumerate(F):
        X = np.repeat(x[None, :], n_parts + 2, axis=0)
        hidden = np.arange(1, n_parts + 1)[parts]  # row of X in which feature j is reset
        X[hidden, np.arange(len(x))] = baseline
        X[-1] = baseline
        s = _log_odds(fitted.proba(X)[:, k_label[i]])
        drop = s[0] - s[1:-1]
        contrib[i] = (drop / size)[parts]
        score[i], reference[i] = s[0], s[-1]
    return contrib, score, reference


# ------------------------------------------------------------------------- public
def _is_single(images: Any) -> bool:
    if isinstance(images, (str, os.PathLike)):
        return not os.path.isdir(images)
    if isinstance(images, np.ndarray):
        return images.dtype.kind not in "USO" and (
            images.ndim == 2 or (images.ndim == 3 and images.shape[-1] in (1, 3, 4)))
    return False


def explain(model: Any, images: Any, *, method: str = "auto") -> Explanation | list[Explanation]:
    """Explain the predictions of a fitted model: which pixels drove them.

    Parameters
    ----------
    model : XrayClassifier
        From :func:`xrayfeat.fit` or :func:`xrayfeat.load`.
    images : str, path-like, ndarray, Dataset or sequence
        One image (a file or a 2-D array) gives one :class:`Explanation`; many
        (a folder, a stack, a Dataset, a list of paths or arrays; see
        :func:`xrayfeat.predict`) give a list, computed in one batch.
    method : {"auto", "linear", "tree-contribs", "occlusion"}, default="auto"
        "auto" picks :func:`explanation_method` (linear for logreg and linear
        SVM, tree-contribs for XGBoost, occlusion for the RBF SVM). "occlusion"
        also works for the linear models (to compare); the other two only for
        their model type.

    Returns
    -------
    Explanation or list of Explanation
        Heatmaps are in the coordinates of each image as the model reads it: an
        array as given; a file as decoded for the model's ``image_size`` (large
        JPEGs at 1/2, 1/4 or 1/8 of their size). :func:`xrayfeat.plot_explanation`
        stretches a heatmap onto the image at any resolution.

    Raises
    ------
    ConfigError
        For a model that is not a fitted XrayClassifier, an unknown or
        inapplicable ``method`` or an invalid image array.
    ImageReadError
        For an unreadable image file.

    Notes
    -----
    The methods, and the exact definition of the explained score, are in the
    module docstring (:mod:`xrayfeat.explanations`). Labels and probabilities are
    those of :func:`xrayfeat.predict` and :func:`xrayfeat.predict_proba`.

    Examples
    --------
    >>> import xrayfeat
    >>> model = xrayfeat.fit(xrayfeat.sample_data.load_sample(), cv=3)  # doctest: +SKIP
    >>> e = xrayfeat.explain(model, "film.jpeg")                      # doctest: +SKIP
    >>> e.label, round(e.probability, 2), round(e.inside_lungs, 2)    # doctest: +SKIP
    ('PNEUMONIA', 0.97, 0.81)
    """
    from .api import resolve_images

    model = _check_model(model)
    if method != "auto" and method not in EXPLAIN_METHODS:
        raise ConfigError(f"unknown explanation method {method!r}; expected 'auto' or one of "
                          f"{list(EXPLAIN_METHODS)}.")
    default = explanation_method(model)
    chosen = default if method == "auto" else method
    fitted = _unwrap(model)
    occludable = all(m.feature_mean is not None for m in fitted.members)
    if chosen != default and (chosen != "occlusion" or not occludable):
        hint = "" if default == "occlusion" or not occludable else " or 'occlusion'"
        why = (" (occlusion resets features to their training mean, which only models that "
               "standardise their features keep)" if chosen == "occlusion" else "")
        raise ConfigError(f"method={chosen!r} does not apply to this {model.classifier!r} model{why}; "
                          f"use {default!r}{hint}.")
    single = _is_single(images)
    sources = resolve_images(images)
    if not sources:
        raise ConfigError("no images to explain.")
    spec = model.features_._fitted_spec()
    out: list[Explanation] = []
    for start in range(0, len(sources), _BATCH):
        out += _explain_batch(model, fitted, spec, sources[start:start + _BATCH], chosen)
    return out[0] if single else out


def _explain_batch(model: Any, fitted: _Fitted, spec: Any, sources: list,
                   method: str) -> list[Explanation]:
    from ._per_image import family_vector, prepare_image, read_source

    preps = [prepare_image(read_source(s, spec), spec, segment=True) for s in sources]
    F = np.stack([family_vector(p.image, p.mask, spec) for p in preps])
    proba = fitted.proba(F)
    labels = fitted.labels(proba)
    k_label = np.searchsorted(model.classes_, labels)
    col, sign = _oriented_index(model, labels)
    if method == "linear":
        contrib, base = _linear_contributions(fitted.members, F, col, sign)
        scores = contrib.sum(axis=1) + base
    elif method == "tree-contribs":
        contrib, base = _tree_contributions(fitted.members, F, col, sign)
        scores = contrib.sum(axis=1) + base
    else:
        contrib, scores, base = _occlusion_contributions(fitted, spec, F, k_label)
    out = []
    for i, prep in enumerate(preps):
        amounts, totals = _feature_map(spec, contrib[i], prep.image, prep.mask)
        heatmap = _to_input(amounts, spec, prep.info).astype(np.float32)
        lungs = _input_lungs(prep)
        out.append(Explanation(
            heatmap=heatmap, label=labels[i], probability=float(proba[i, k_label[i]]),
            threshold=model.threshold_, classes=model.classes_, proba=proba[i].copy(),
            pos_label=model.pos_label_,
            method=method,
            score=float(scores[i]), baseline=float(base[i]),
            contributions=None if method == "occlusion" else contrib[i], family_totals=totals,
            lung_mask=lungs, inside_lungs=_inside(heatmap, lungs), crop_box=_input_box(spec, prep.info),
            crop_fallback=bool(prep.info.get("crop_fallback", False)),
            inverted=bool(prep.info["inverted"]),
        ))
    return out
