"""Does the model read the lungs? A training-only shortcut diagnostic.

Patient-grouped cross-validation on one site rewards every cue that separates
the classes there, including cues outside the lungs (body size and shape, arms,
markers, collimation). Those cues do not travel to a new site, so CV alone
ranks configurations backwards: on the Kermany data, whole-image features score
CV ROC-AUC 0.998 against 0.98 for lung crops, but on the shifted official test
split the crops are 10-15 points more accurate.

:func:`shortcut_report` asks the question directly, with a counterfactual on the
training data only. Inside each held-out fold, every film with a plausible lung
mask receives the chest region of another patient's film (the *donor*, of a
class drawn uniformly at random): the lungs' bounding box plus the margin a lung
crop keeps, warped onto the recipient's box (:func:`swap_lungs`). The model of
that fold, fitted on the other folds' real films, then scores the composites:

``swap_balanced_accuracy``
    Balanced accuracy (mean recall over classes) against the *donor's* label at
    the pipeline's own decision rule (tuned threshold or arg-max). A model that
    reads the chest keeps most of its CV accuracy; one that reads what lies
    around it (body size and shape, arms, neck, abdomen, markers, collimation)
    follows the recipient and falls towards chance. This is the criterion
    xrayfeat's defaults are chosen by.
``swap_auc_donor`` / ``swap_auc_recipient``
    ROC-AUC of the composites' scores against the donor's and the recipient's
    labels; the two labels are independent by construction.
``follows_donor``
    Among composites whose donor and recipient classes differ, the share
    labelled with the donor's class (the rest follow the recipient).

``region="lungs"`` moves the lung fields only (heart, mediastinum and ribs stay
the recipient's): a stricter test that even lung crops fail in part, and that
on the Kermany data did not track accuracy on a new site (see below).

Validation (``python benchmarks/shortcut_validation.py``): for the 14
configurations whose accuracy on the shifted official test split was measured
by the maintainers (quoted in that script; no test image is read), the chest
swap's balanced accuracy on the training split ranks them with Spearman rho
0.78 against the shifted accuracy (0.60 against the shifted ROC-AUC) with
SEGMENT_VERSION 5 masks, 0.74 / 0.55 with version 3 and 0.84 / 0.73 with
version 2, the code of the day the shifted figures were measured; CV ROC-AUC
gives -0.22. The lung-field swap gave 0.18.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import Interval, Options, check_image, check_mask, check_params
from .preprocess import fill_outside
from .exceptions import ConfigError

__all__ = ["swap_lungs", "shortcut_report", "ShortcutReport"]

#: What :func:`swap_lungs` can move from the donor film.
REGIONS = ("chest", "lungs")

#: Side of the square working copy on which composites are built (the size the
#: extractor's first resize would give for the default image_size).
_COMPOSITE_SIZE = 224


def _cv2():
    import cv2

    return cv2


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1), half-open, of a non-empty mask."""
    x, y, w, h = _cv2().boundingRect(np.ascontiguousarray(mask).view(np.uint8))
    return y, y + h, x, x + w


def _chest(mask: np.ndarray) -> np.ndarray:
    """The region a lung crop keeps (:func:`xrayfeat.segment.crop_box`), as a mask."""
    from .segment import crop_box

    r0, r1, c0, c1 = crop_box(mask)
    out = np.zeros(mask.shape, bool)
    out[r0:r1, c0:c1] = True
    return out


def _sides(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mask split into its left and right halves at the centre of its box."""
    r0, r1, c0, c1 = _box(mask)
    mid = (c0 + c1) // 2
    left, right = mask.copy(), mask.copy()
    left[:, mid:] = False
    right[:, :mid] = False
    return left, right


def _ring_stats(image: np.ndarray, mask: np.ndarray, width: int) -> tuple[float, float]:
    """Median and interquartile range of the band just outside the lungs."""
    cv2 = _cv2()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    ring = cv2.dilate(mask.view(np.uint8), kernel).astype(bool) & ~mask
    values = image[ring] if ring.any() else image.ravel()
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return float(med), float(max(q3 - q1, 1e-3))


def swap_lungs(body: Any, body_mask: Any, lungs: Any, lungs_mask: Any, *,
               region: str = "chest", feather: float = 0.02) -> np.ndarray:
    """Put the lungs of one film into the body of another.

    The donor's region (``region="chest"``: the lungs' bounding box plus the
    5 % margin :func:`xrayfeat.crop_to_lungs` adds, i.e. what a lung crop sees;
    ``region="lungs"``: each lung field on its own) is scaled and shifted so that
    it lands on the recipient's (``body``) same region and replaces the
    recipient there with a feathered edge. The chest region keeps the donor's
    grey levels, so a lung crop of the composite sees the donor's crop; lung
    fields are mapped linearly so that the band just outside them matches the
    recipient's band (median and interquartile range: the lungs keep their
    contrast against the surrounding tissue, which is the signal, while the
    exposure follows the recipient) and fill the union of both films' masks,
    per side.

    Parameters
    ----------
    body : array-like of shape (rows, cols)
        Recipient film, grey in [0, 1].
    body_mask : array-like of bool, shape (rows, cols)
        Recipient lung mask (non-empty).
    lungs : array-like of shape (rows2, cols2)
        Donor film, grey in [0, 1]; any size.
    lungs_mask : array-like of bool, shape (rows2, cols2)
        Donor lung mask (non-empty).
    region : {"chest", "lungs"}, default="chest"
        What is moved: the chest region around the lungs, or the lung fields only.
    feather : float, default=0.02
        Width of the blending edge as a fraction of the recipient's side, in [0, 0.2].

    Returns
    -------
    ndarray of shape (rows, cols), dtype float32
        The composite, in [0, 1].

    Raises
    ------
    ConfigError
        For invalid images, masks of the wrong shape, empty masks or ``feather``
        out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.shortcuts import swap_lungs
    >>> body = np.full((64, 64), 0.8, np.float32); bm = np.zeros((64, 64), bool)
    >>> bm[16:48, 8:28] = bm[16:48, 36:56] = True; body[bm] = 0.3
    >>> lungs = body.copy(); lungs[bm] = 0.6           # "consolidated" donor lungs
    >>> out = swap_lungs(body, bm, lungs, bm, region="lungs", feather=0)
    >>> round(float(out[32, 16]), 2), round(float(out[2, 2]), 2)
    (0.6, 0.8)
    """
    check_params({"feather": feather, "region": region},
                 {"feather": [Interval(float, 0, 0.2)], "region": [Options(*REGIONS)]}, owner="swap_lungs")
    cv2 = _cv2()
    body = check_image(body, name="body")
    lungs = check_image(lungs, name="lungs")
    bmask = check_mask(body_mask, body.shape, name="body_mask")
    lmask = check_mask(lungs_mask, lungs.shape, name="lungs_mask")
    if not bmask.any() or not lmask.any():
        raise ConfigError("swap_lungs needs non-empty lung masks for both films.")
    ring = max(2, int(round(0.03 * max(body.shape))))
    donor = np.zeros(body.shape, np.float32)
    alpha = np.zeros(body.shape, np.float32)
    if region == "lungs":
        # Each lung is warped box to box on its own: one box for both would misplace
        # lungs of different widths and leave the donor's heart or rib cage showing.
        parts = list(zip(_sides(bmask), _sides(lmask)))
    else:
        parts = [(_chest(bmask), _chest(lmask))]
    b_med, b_iqr = _ring_stats(body, bmask, ring)
    for bside, lside in parts:
        if not bside.any() or not lside.any():
            continue
        br0, br1, bc0, bc1 = _box(bside)
        lr0, lr1, lc0, lc1 = _box(lside)
        sy, sx = (br1 - br0) / (lr1 - lr0), (bc1 - bc0) / (lc1 - lc0)
        warp = np.array([[sx, 0, bc0 - sx * lc0], [0, sy, br0 - sy * lr0]], dtype=np.float64)
        size = body.shape[::-1]
        moved = cv2.warpAffine(lungs, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        moved_mask = cv2.warpAffine(lside.view(np.uint8), warp, size, flags=cv2.INTER_NEAREST).astype(bool)
        if not moved_mask.any():
            continue
        if region == "lungs":
            d_med, d_iqr = _ring_stats(moved, moved_mask, ring)
            moved = (moved - d_med) * (b_iqr / d_iqr) + b_med
        where = moved_mask | bside
        donor[where] = moved[where]
        alpha[where] = 1.0
    inside = alpha.copy()
    width = feather * max(body.shape)
    if width > 0:
        # extend the donor past its edge so the blur mixes donor and body, not zeros
        donor = fill_outside(np.clip(donor, 0, 1), inside > 0, sigma=feather)
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=width / 2)
        # the blur spreads half the edge outwards: keep the lungs themselves fully donor
        alpha = np.maximum(alpha, inside * np.minimum(1.0, 2 * alpha))
    out = alpha * donor + (1 - alpha) * body
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@dataclass
class ShortcutReport:
    """Result of :func:`shortcut_report`.

    Attributes
    ----------
    cv_roc_auc : float
        Out-of-fold ROC-AUC on the real films (binary; macro one-vs-rest for
        more classes).
    cv_balanced_accuracy : float
        Out-of-fold balanced accuracy on the real films at the decision rule.
    swap_balanced_accuracy : float
        Balanced accuracy on lung-swapped composites against the donor's label:
        the shortcut-aware criterion (higher is better).
    swap_auc_donor, swap_auc_recipient : float
        ROC-AUC of composite scores against the donor's and the recipient's label.
    follows_donor : float
        Share of mixed-class composites labelled with the donor's class.
    n_images, n_composites : int
        Real films scored out of fold, and composites scored.
    n_skipped : int
        Films left out of the swap because their lung mask was implausible.
    threshold : float or None
        The threshold the pipeline's objective picks on the out-of-fold
        probabilities (binary), else None.
    random_state : int
        Seed of the folds and of the donor draw.
    details : dict
        Per-composite arrays: ``recipient``, ``donor`` (indices into the input),
        ``proba`` (n_composites, n_classes), ``fold``; and ``oof_proba`` of the
        real films.
    """

    cv_roc_auc: float
    cv_balanced_accuracy: float
    swap_balanced_accuracy: float
    swap_auc_donor: float
    swap_auc_recipient: float
    follows_donor: float
    n_images: int
    n_composites: int
    n_skipped: int
    threshold: float | None
    random_state: int
    details: dict = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The scalar fields as a JSON-serialisable dict."""
        return {k: v for k, v in self.__dict__.items() if k != "details"}


def _read_working(sources: list, size: int) -> list[np.ndarray]:
    from .io import read_image
    from .preprocess import resize_to

    return [resize_to(read_image(s, target_size=size), size, size) for s in sources]


def _plausible_masks(images: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    from .segment import check_lung_mask, segment_lungs

    masks = [segment_lungs(im) for im in images]
    ok = np.array([check_lung_mask(m)[0] for m in masks], dtype=bool)
    return masks, ok


def _draw_donors(test: np.ndarray, y: np.ndarray, groups: np.ndarray, ok: np.ndarray,
                 rng: np.random.Generator) -> list[tuple[int, int]]:
    """(recipient, donor) pairs inside one held-out fold: one donor per recipient, of a
    class drawn uniformly, from another patient, both with plausible masks."""
    usable = test[ok[test]]
    classes = np.unique(y)
    by_class = {c: usable[y[usable] == c] for c in classes}
    pairs = []
    for r in usable:
        c = classes[rng.integers(len(classes))]
        pool = by_class[c][groups[by_class[c]] != groups[r]]
        if len(pool):
            pairs.append((int(r), int(rng.choice(pool))))
    return pairs


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y_true, y_pred))


def _auc(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y_true)) < 2:
        return float("nan")
    if len(classes) == 2:
        return float(roc_auc_score(y_true == classes[1], proba[:, 1]))
    return float(roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))


def shortcut_report(data: Any, estimator: Any = None, *, region: str = "chest",
                    max_composites: int | None = None, cv: int | None = None,
                    random_state: int | None = None, memory: Any = None,
                    n_jobs: int | None = None, labels: str = "binary") -> Any:
    """Cross-validate a pipeline on real films and on lung-swapped composites.

    See the module docstring for what is measured and why. Every composite is
    scored by the model of the fold its films were held out in, so the report
    uses training data only and never scores a film the model was fitted on.

    Parameters
    ----------
    data : str, path-like, Dataset or tuple
        As for :func:`xrayfeat.fit`: a Kaggle root (its ``train`` split), a class
        folder, a CSV manifest, a Dataset or ``(paths, labels[, groups])``.
    estimator : XrayClassifier, dict of str to XrayClassifier, or None, default=None
        The pipeline to diagnose (its parameters are used; it is not fitted).
        None means ``XrayClassifier()``, the library default. A dict compares
        several pipelines on the same folds and the same composites.
    region : {"chest", "lungs"}, default="chest"
        What the donor gives (see :func:`swap_lungs`): the chest region a lung
        crop sees (tests for shortcuts outside it: body size and shape, arms,
        neck, abdomen, markers, collimation), or the lung fields only (stricter:
        the heart, mediastinum and ribs stay the recipient's).
    max_composites : int or None, default=None
        Build at most this many composites (a random subset of the recipients,
        spread over the folds); None: one per film with a plausible mask.
    cv : int or None, default=None
        Number of patient-grouped folds; None uses the (first) estimator's ``cv``.
    random_state : int or None, default=None
        Seed of folds and donor draws; None uses the (first) estimator's
        ``random_state``.
    memory : None, str or FeatureCache, default=None
        Feature cache for real films and composites; None uses each estimator's.
    n_jobs : int or None, default=None
        Parallel jobs; None uses each estimator's.
    labels : {"binary", "3class"}, default="binary"
        Label set when ``data`` is a path.

    Returns
    -------
    ShortcutReport, or dict of str to ShortcutReport when ``estimator`` is a dict

    Raises
    ------
    ConfigError
        For an estimator that is not an XrayClassifier, or too few films with a
        plausible lung mask to build composites.

    Examples
    --------
    >>> import xrayfeat
    >>> from xrayfeat import XrayClassifier
    >>> rep = xrayfeat.shortcut_report(xrayfeat.sample_data.sample_path(),
    ...                                XrayClassifier(cv=3))       # doctest: +SKIP
    >>> rep.swap_balanced_accuracy                                 # doctest: +SKIP
    0.83
    """
    from sklearn.base import clone

    from .api import _training_data
    from .classifier import XrayClassifier, _groups_for
    from .dataset import patient_folds

    single = not isinstance(estimator, dict)
    named = {"": XrayClassifier() if estimator is None else estimator} if single else dict(estimator)
    if not named:
        raise ConfigError("estimator is an empty dict; give at least one XrayClassifier.")
    for name, est in named.items():
        if not isinstance(est, XrayClassifier):
            raise ConfigError(f"estimator {name!r} must be an XrayClassifier; got {type(est).__name__}.")
    first = next(iter(named.values()))
    cv = first.cv if cv is None else cv
    random_state = first.random_state if random_state is None else random_state
    overrides = {"cv": cv, "random_state": random_state}
    overrides.update({k: v for k, v in {"memory": memory, "n_jobs": n_jobs}.items() if v is not None})
    given = named
    named = {k: clone(v).set_params(**overrides) for k, v in named.items()}
    for est in named.values():
        est._validate()

    paths, y, groups = _training_data(data, labels)
    y = np.asarray(y)
    groups = _groups_for(paths, groups)
    folds = patient_folds(y, groups, n_splits=cv, random_state=random_state)
    check_params({"region": region, "max_composites": max_composites},
                 {"region": [Options(*REGIONS)], "max_composites": [None, Interval(int, 1, None)]},
                 owner="shortcut_report")
    swaps = _build_swaps(paths, y, groups, folds, np.random.default_rng(random_state), region, max_composites)
    reports = {name: _evaluate(est, _fitted_on(given[name], y, folds), paths, y, groups, folds, swaps)
               for name, est in named.items()}
    return reports[""] if single else reports


@dataclass
class _Swaps:
    composites: list
    recipient: np.ndarray
    donor: np.ndarray
    fold: np.ndarray
    n_skipped: int


def _build_swaps(paths: list, y: np.ndarray, groups: np.ndarray, folds: list,
                 rng: np.random.Generator, region: str, max_composites: int | None) -> _Swaps:
    images = _read_working(paths, _COMPOSITE_SIZE)
    masks, ok = _plausible_masks(images)
    if ok.sum() < 2 * len(np.unique(y)):
        raise ConfigError(f"only {int(ok.sum())} films have a plausible lung mask; too few to swap lungs.")
    pairs, pair_fold = [], []
    for k, (_, te) in enumerate(folds):
        fold_pairs = _draw_donors(te, y, groups, ok, rng)
        pairs += fold_pairs
        pair_fold += [k] * len(fold_pairs)
    if max_composites is not None and len(pairs) > max_composites:
        keep = np.sort(rng.choice(len(pairs), max_composites, replace=False))
        pairs = [pairs[i] for i in keep]
        pair_fold = [pair_fold[i] for i in keep]
    return _Swaps(
        composites=[swap_lungs(images[r], masks[r], images[d], masks[d], region=region) for r, d in pairs],
        recipient=np.array([p[0] for p in pairs], dtype=np.int64),
        donor=np.array([p[1] for p in pairs], dtype=np.int64),
        fold=np.array(pair_fold, dtype=np.int64),
        n_skipped=int((~ok).sum()),
    )


def _fitted_on(est: Any, y: np.ndarray, folds: list) -> Any:
    """``est`` if it was fitted on these labels with these folds, else None.

    A fitted pipeline's members are then exactly the fold models the diagnostic
    needs, so nothing is refitted.
    """
    model = est.__dict__.get("model_")
    if model is None:
        return None
    res = model.cv_results_
    fold_of = np.full(len(y), -1)
    for k, (_, te) in enumerate(folds):
        fold_of[te] = k
    same = (len(res["fold"]) == len(y) and np.array_equal(res["fold"], fold_of)
            and np.array_equal(model.classes_[res["y_index"]], y) and len(model.members_) == len(folds))
    return est if same else None


def _evaluate(est: Any, fitted: Any, paths: list, y: np.ndarray, groups: np.ndarray, folds: list,
              swaps: _Swaps) -> ShortcutReport:
    classes = np.unique(y)
    model = None if fitted is None else fitted.model_
    extractor = est._extractor().fit(paths)
    if model is None:
        # The pipeline's own estimator on exactly these folds: its members are the fold
        # models, its threshold is tuned on their out-of-fold probabilities.
        model = est._numeric(classes).set_params(cv=folds).fit(extractor.transform(paths), y, groups=groups)
    G = extractor.transform(swaps.composites) if swaps.composites else None
    oof = model.cv_results_["oof_proba"]
    swap_proba = np.zeros((len(swaps.fold), len(classes)))
    for k in range(len(folds)):
        sel = swaps.fold == k
        if sel.any():
            swap_proba[sel] = model.member_proba(k, G[sel])
    threshold = model.train_threshold_

    def decide(p: np.ndarray) -> np.ndarray:
        return model._labels(p, threshold=threshold, prior=model.train_prior_)  # p: training mix

    lung_label, body_label = y[swaps.donor], y[swaps.recipient]
    swap_pred = decide(swap_proba)
    mixed = lung_label != body_label
    return ShortcutReport(
        cv_roc_auc=_auc(y, oof, classes),
        cv_balanced_accuracy=_balanced_accuracy(y, decide(oof)),
        swap_balanced_accuracy=_balanced_accuracy(lung_label, swap_pred),
        swap_auc_donor=_auc(lung_label, swap_proba, classes),
        swap_auc_recipient=_auc(body_label, swap_proba, classes),
        follows_donor=float(np.mean(swap_pred[mixed] == lung_label[mixed])) if mixed.any() else float("nan"),
        n_images=int(len(y)),
        n_composites=int(len(swaps.fold)),
        n_skipped=swaps.n_skipped,
        threshold=threshold,
        random_state=int(est.random_state),
        details={"recipient": swaps.recipient, "donor": swaps.donor, "fold": swaps.fold,
                 "proba": swap_proba, "oof_proba": oof},
    )
