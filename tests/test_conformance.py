"""scikit-learn conformance: every numeric estimator (``parametrize_with_checks``), and the
estimator-API checks of the image-level ones.

The exceptions listed are real properties of the estimators, not bugs:

- a thresholded classifier predicts the positive class where its probability reaches
  the tuned threshold, not where it exceeds 0.5, so ``predict`` is not the arg-max of
  ``predict_proba`` (scikit-learn's own ``FixedThresholdClassifier`` behaves the same);
- XGBoost with row subsampling (``subsample=0.8``) draws different rows when a row is
  repeated than when it is weighted twice, so weights are not equivalent to repetition.
"""

from __future__ import annotations

import pytest
from sklearn.model_selection import GroupKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from xrayfeat.calibrated import CalibratedThresholdClassifier
from xrayfeat.hierarchical import HierarchicalClassifier
from xrayfeat.models import BalancedXGBClassifier

_THRESHOLDED = {"check_classifiers_train": "predict applies the tuned threshold, not arg-max of predict_proba"}
_SUBSAMPLED = {"check_sample_weight_equivalence_on_dense_data":
               "row subsampling draws differ between a repeated and a twice-weighted row"}


def _expected(estimator) -> dict:
    if isinstance(estimator, HierarchicalClassifier):
        return {}  # p/prior rule: arg-max of predict_proba when classes are balanced, as in the checks
    return _SUBSAMPLED if isinstance(estimator, BalancedXGBClassifier) else _THRESHOLDED


@parametrize_with_checks(
    [
        CalibratedThresholdClassifier(cv=3),
        CalibratedThresholdClassifier(classifier="linear-svm", cv=GroupKFold(3), calibration="isotonic"),
        BalancedXGBClassifier(n_estimators=5, max_depth=2, n_jobs=1),
        HierarchicalClassifier(cv=2),
    ],
    expected_failed_checks=_expected,
)
# The checks' integer and string labels name no negative class; the hierarchical model
# says which one it took (tested in test_hierarchical.py).
@pytest.mark.filterwarnings("ignore:a hierarchical model splits one negative class off first")
def test_sklearn_conformance(estimator, check):
    check(estimator)


# The image-level estimators take paths or images, not the numeric arrays of the full
# checks; these are the checks of the estimator API itself, which hold for any input.
_API_CHECKS = ("check_no_attributes_set_in_init", "check_get_params_invariance", "check_set_params",
               "check_estimator_cloneable", "check_do_not_raise_errors_in_init_or_set_params",
               "check_mixin_order", "check_estimator_repr", "check_estimator_tags_renamed",
               "check_valid_tag_types", "check_parameters_default_constructible")


@pytest.mark.parametrize("check_name", _API_CHECKS)
@pytest.mark.parametrize("make", ["FeatureExtractor", "XrayClassifier"])
def test_image_estimators_follow_the_estimator_api(make, check_name):
    import sklearn.utils.estimator_checks as checks

    import xrayfeat

    estimator = getattr(xrayfeat, make)()
    getattr(checks, check_name)(make, estimator)
