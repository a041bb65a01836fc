"""xrayfeat: a strong, fast and honest classical baseline for chest X-ray classification.

Handcrafted features (HOG, LBP, intensity statistics, GLCM) extracted after
denoising and lung segmentation, cached on disk, and fed to calibrated SVM,
XGBoost or logistic-regression classifiers with a deliberately chosen threshold.

Importing the package is cheap: submodules (and OpenCV, scikit-image,
scikit-learn, xgboost) are loaded on first use of the names below.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import FEATURE_VERSION, __version__
from .exceptions import (
    CacheError,
    ConfigError,
    DatasetError,
    DuplicateImageError,
    ImageReadError,
    ModelFileError,
    SegmentationError,
    XrayfeatError,
)

# public name -> submodule that defines it (imported lazily, PEP 562)
_LAZY = {
    # reading and data sets
    "read_image": "io",
    "read_images": "io",
    "decode_image": "io",
    "CorruptImageWarning": "io",
    "load_dataset": "dataset",
    "Dataset": "dataset",
    "patient_folds": "dataset",
    "sample_data": None,
    # preprocessing and segmentation
    "Preprocessor": "preprocess",
    "segment_lungs": "segment",
    "crop_to_lungs": "segment",
    "check_lung_mask": "segment",
    "lung_mask_score": "segment",
    "LungCrop": "segment",
    "plot_lung_crops": "plots",
    "plot_worst_masks": "plots",
    "displays": None,
    # features
    "FeatureExtractor": "extract",
    "extract_features": "extract",
    "ExtractionInfo": "extract",
    "FeatureCache": "cache",
    "features": None,
    "list_families": "features",
    "get_family": "features",
    "register_family": "features",
    # models
    "fit": "api",
    "predict": "api",
    "predict_proba": "api",
    "predict_table": "api",
    "PredictionTable": "api",
    "XrayClassifier": "classifier",
    "CalibratedThresholdClassifier": "calibrated",
    "HierarchicalClassifier": "hierarchical",
    "NotFittedError": "_fitted",
    "save": "persist",
    "load": "persist",
    # evaluation
    "binary_metrics": "metrics",
    "multiclass_metrics": "metrics",
    "expected_calibration_error": "metrics",
    "bootstrap_ci": "metrics",
    "delong_test": "metrics",
    "mcnemar_test": "metrics",
    # shortcut diagnostic
    "shortcut_report": "shortcuts",
    "swap_lungs": "shortcuts",
    "ShortcutReport": "shortcuts",
    # explanations
    "explain": "explanations",
    "Explanation": "explanations",
    "plot_explanation": "plots",
    "save_explanation": "plots",
    # deployment prevalence
    "estimate_prevalence": "prevalence",
    "adjust_proba": "prevalence",
}

__all__ = [
    "__version__",
    "FEATURE_VERSION",
    "XrayfeatError",
    "ImageReadError",
    "DatasetError",
    "DuplicateImageError",
    "ConfigError",
    "SegmentationError",
    "ModelFileError",
    "CacheError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'xrayfeat' has no attribute {name!r}")
    module = _LAZY[name]
    if module is None:
        value = importlib.import_module(f".{name}", __name__)
    else:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
