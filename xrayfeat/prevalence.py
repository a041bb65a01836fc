"""Deployment prevalence: prior-shift correction of calibrated probabilities.

A classifier's calibrated probabilities carry the class mix it was trained on
(the Kermany training split is 74 % pneumonia); a deployment site rarely has
that mix. If only the mix changes (the look of each class does not),
Bayes' rule moves the probabilities exactly (Saerens, Latinne & Decaestecker,
*Neural Computation* 14, 2002, eq. 2.4)::

    p'(c | x)  ∝  p(c | x) * prior'(c) / prior(c)

:func:`adjust_proba` applies it; :meth:`xrayfeat.XrayClassifier.set_prevalence`
uses it for the model's probabilities and re-chooses the decision threshold.
When the deployment mix is unknown, :func:`estimate_prevalence` estimates it
from *unlabelled* images of the new site by expectation-maximisation on the
calibrated probabilities (Saerens et al. 2002; Alexandari, Kundaje & Shrikumar,
ICML 2020, show that it works well once probabilities are calibrated). That
estimate is transductive (it uses the very images to be classified) and is
never applied unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .exceptions import ConfigError

__all__ = ["adjust_proba", "em_prevalence", "estimate_prevalence", "PrevalenceEstimate", "resolve_prior"]


def resolve_prior(prevalence: Any, classes: np.ndarray, *, pos_label: Any = None,
                  name: str = "prevalence") -> np.ndarray:
    """Turn a user's prevalence into class priors in ``classes`` order.

    Parameters
    ----------
    prevalence : float, dict or array-like
        Binary: the share of the positive class (``pos_label``) in (0, 1).
        Any problem: ``{class: share}`` for every class, or shares in ``classes``
        order; shares must be positive and sum to 1 (to within 1e-6).
    classes : ndarray of shape (n_classes,)
        The model's classes.
    pos_label : object or None, default=None
        Binary: the positive class; None applies :func:`xrayfeat._labels.positive_class`.
    name : str, default="prevalence"
        Name used in error messages.

    Returns
    -------
    ndarray of shape (n_classes,), dtype float64

    Raises
    ------
    ConfigError
        For a value of the wrong kind, unknown or missing classes, shares
        outside (0, 1) or not summing to 1.

    Examples
    --------
    >>> import numpy as np
    >>> resolve_prior(0.3, np.array(["NORMAL", "PNEUMONIA"])).tolist()
    [0.7, 0.3]
    """
    classes = np.asarray(classes)
    if isinstance(prevalence, (int, float)) and not isinstance(prevalence, bool):
        if len(classes) != 2:
            raise ConfigError(
                f"a single-number {name} is the positive class's share and needs a binary model; "
                f"this one has classes {classes.tolist()}: give {{class: share}} for each."
            )
        from ._labels import positive_class

        p = float(prevalence)
        if not 0.0 < p < 1.0:  # said in the user's terms, not as the two-class prior it implies
            raise ConfigError(f"{name} must lie strictly between 0 and 1 (the share of the positive class); "
                              f"got {prevalence!r}.")
        prior = np.where(classes == positive_class(classes, pos_label), p, 1.0 - p)
    elif isinstance(prevalence, dict):
        keys = {str(k) for k in prevalence}
        names = [str(c) for c in classes]
        if keys != set(names):
            raise ConfigError(f"{name} must give a share for each of the classes {names}; got {sorted(keys)}.")
        lookup = {str(k): v for k, v in prevalence.items()}
        prior = np.array([float(lookup[c]) for c in names])
    else:
        try:
            prior = np.asarray(prevalence, dtype=float).ravel()
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, a dict or a sequence of shares; got {prevalence!r}.") from None
        if prior.shape != (len(classes),):
            raise ConfigError(f"{name} must have one share per class ({len(classes)}); got {prior.tolist()}.")
    if not np.all(np.isfinite(prior)) or np.any(prior <= 0) or np.any(prior >= 1):
        raise ConfigError(f"{name} shares must lie strictly between 0 and 1; got {prior.tolist()}.")
    if abs(prior.sum() - 1.0) > 1e-6:
        raise ConfigError(f"{name} shares must sum to 1; got {prior.tolist()} (sum {prior.sum():.6g}).")
    return prior


def adjust_proba(proba: Any, train_prior: Any, new_prior: Any) -> np.ndarray:
    """Move calibrated probabilities from the training class mix to another.

    Parameters
    ----------
    proba : array-like of shape (n, n_classes)
        Calibrated probabilities under the training mix.
    train_prior, new_prior : array-like of shape (n_classes,)
        Class shares of the training data and of the deployment site.

    Returns
    -------
    ndarray of shape (n, n_classes), dtype float64
        Rows sum to 1.

    Examples
    --------
    >>> import numpy as np
    >>> adjust_proba([[0.5, 0.5]], [0.25, 0.75], [0.5, 0.5]).round(3).tolist()
    [[0.75, 0.25]]
    """
    p = np.asarray(proba, dtype=float)
    w = np.asarray(new_prior, dtype=float) / np.asarray(train_prior, dtype=float)
    if p.ndim != 2 or p.shape[1] != len(w):
        raise ConfigError(f"proba must have shape (n, {len(w)}); got {p.shape}.")
    q = p * w
    total = q.sum(axis=1, keepdims=True)
    # a row of zeros (cannot happen with calibrated models) stays uniform rather than NaN
    return np.divide(q, total, out=np.full_like(q, 1.0 / len(w)), where=total > 0)


def em_prevalence(proba: Any, train_prior: Any, *, max_iter: int = 1000,
                  tol: float = 1e-8) -> tuple[np.ndarray, int, bool]:
    """Maximum-likelihood class mix of unlabelled data by EM (Saerens et al. 2002).

    Parameters
    ----------
    proba : array-like of shape (n, n_classes)
        Calibrated probabilities of the unlabelled images under the training mix.
    train_prior : array-like of shape (n_classes,)
        Class shares of the training data.
    max_iter : int, default=1000
        Iteration limit.
    tol : float, default=1e-8
        Stop when no share moves by more than this.

    Returns
    -------
    prior : ndarray of shape (n_classes,)
    n_iter : int
    converged : bool

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(4000) < 0.3                      # 30 % positives at the new site
    >>> x = rng.normal(np.where(y, 1.0, -1.0))          # x ~ N(+-1, 1): likelihood ratio exp(2x)
    >>> p = 1 / (1 + np.exp(-(2 * x + np.log(3))))      # calibrated where positives were 75 %
    >>> prior, _, ok = em_prevalence(np.column_stack([1 - p, p]), [0.25, 0.75])
    >>> ok, round(float(prior[1]), 1)
    (True, 0.3)
    """
    p = np.asarray(proba, dtype=float)
    prior0 = np.asarray(train_prior, dtype=float)
    prior = prior0.copy()
    for it in range(1, max_iter + 1):
        new = adjust_proba(p, prior0, prior).mean(axis=0)
        done = np.max(np.abs(new - prior)) <= tol
        prior = new
        if done:
            return prior, it, True
    return prior, max_iter, False


@dataclass(frozen=True)
class PrevalenceEstimate:
    """Result of :func:`estimate_prevalence`.

    Attributes
    ----------
    prevalence : dict
        ``{class: estimated share}`` at the new site; pass it to
        :meth:`xrayfeat.XrayClassifier.set_prevalence`.
    n_images : int
        Unlabelled images used.
    n_iter : int
        EM iterations.
    converged : bool
        False if EM hit the iteration limit.
    method : str
        ``"em (transductive)"``: the estimate uses the images to be classified.
    skipped : dict
        ``{position: reason}`` of the images that could not be read
        (``on_error="skip"``); they are not in ``n_images``.
    """

    prevalence: dict
    n_images: int
    n_iter: int
    converged: bool
    method: str = "em (transductive)"
    skipped: dict = field(default_factory=dict)


def estimate_prevalence(model: Any, images: Any, *, max_iter: int = 1000,
                        on_error: str = "raise") -> PrevalenceEstimate:
    """Estimate a new site's class mix from its unlabelled images (opt-in, transductive).

    The model's probabilities under its *training* mix are used, whatever
    prevalence is set on it, so calling this twice gives the same answer.

    Parameters
    ----------
    model : XrayClassifier
        A fitted model with calibrated probabilities.
    images : str, path-like, ndarray, Dataset or sequence
        Unlabelled images of the new site (see :func:`xrayfeat.api.resolve_images`).
        A few hundred are needed for a stable estimate.
    max_iter : int, default=1000
        EM iteration limit.
    on_error : {"raise", "skip"}, default="raise"
        "skip": images that cannot be read are left out, listed in ``skipped``
        and named in one warning (as in :func:`xrayfeat.predict_table`).

    Returns
    -------
    PrevalenceEstimate

    Raises
    ------
    ConfigError
        If the model is not fitted, or no image could be read.
    ImageReadError
        With ``on_error="raise"``, for the first unreadable image.

    Examples
    --------
    >>> est = estimate_prevalence(model, "new_site/")                # doctest: +SKIP
    >>> model.set_prevalence(est.prevalence)                         # doctest: +SKIP
    """
    from sklearn.utils.validation import check_is_fitted

    from .api import _check_model, _features_or_skip, resolve_images

    model = _check_model(model)
    check_is_fitted(model, "model_")
    F, ok, errors = _features_or_skip(model, resolve_images(images), on_error)
    if not ok.any():
        raise ConfigError(f"none of the {len(ok)} image(s) could be read, so nothing is left to estimate from.")
    proba = model.model_.training_mix_proba(F[ok])
    prior, n_iter, converged = em_prevalence(proba, model.train_prior_, max_iter=max_iter)
    return PrevalenceEstimate(
        prevalence={c.item() if hasattr(c, "item") else c: float(v) for c, v in zip(model.classes_, prior)},
        n_images=int(len(proba)), n_iter=int(n_iter), converged=bool(converged), skipped=errors,
    )
