"""``NotFittedError`` that is also an :class:`xrayfeat.XrayfeatError`.

scikit-learn's ``check_is_fitted`` raises its own ``NotFittedError``, which an
``except xrayfeat.XrayfeatError`` clause did not catch. This module (imported
lazily: it needs scikit-learn) raises a subclass of both, so either clause works.
"""

from __future__ import annotations

from typing import Any

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted as _sklearn_check_is_fitted

from .exceptions import XrayfeatError

__all__ = ["NotFittedError", "check_is_fitted"]


class NotFittedError(XrayfeatError, _SklearnNotFittedError):
    """A model or extractor was used before ``fit`` (also a scikit-learn ``NotFittedError``)."""


def check_is_fitted(estimator: Any, attributes: Any = None) -> None:
    """scikit-learn's ``check_is_fitted``, raising :class:`NotFittedError`.

    Parameters
    ----------
    estimator : estimator instance
    attributes : str, list of str or None, default=None
        Attributes that exist only after ``fit``.

    Raises
    ------
    NotFittedError
        With scikit-learn's message, which names the class and says to call ``fit``.
    """
    try:
        _sklearn_check_is_fitted(estimator, attributes)
    except _SklearnNotFittedError as exc:
        raise NotFittedError(str(exc)) from None
