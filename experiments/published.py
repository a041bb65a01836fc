"""Published CNN results on the official test split of the same data set (REPORTED, NOT RERUN).

These numbers are copied from the papers; nothing here was trained or
evaluated by xrayfeat. They are printed beside our pipelines so the baseline is
always read against what deep networks achieve, with the caveats that matter:

* Kermany et al. (2018) trained InceptionV3 (ImageNet transfer learning) on the
  training split at full resolution and report the 624-image official test split.
* MedMNIST v2's PneumoniaMNIST keeps the official 624-image test split but
  re-splits the official training images 9:1 into train/validation and
  downsamples every image to 28 x 28 (the "224" models see those 28 px images
  upsampled); the numbers are test-split AUC and accuracy at the 0.5 threshold.

Our rows are only comparable to these when the run uses the full official test
split (``--data`` on the Kaggle folder, 624 test images).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PUBLISHED", "OFFICIAL_TEST_SIZE", "published_rows"]

#: Images in the official test split (234 NORMAL, 390 PNEUMONIA).
OFFICIAL_TEST_SIZE = 624

KERMANY_2018 = (
    "Kermany DS, Goldbaum M, Cai W, et al. Identifying Medical Diagnoses and Treatable "
    "Diseases by Image-Based Deep Learning. Cell 172(5):1122-1131, 2018. "
    "doi:10.1016/j.cell.2018.02.010"
)
MEDMNIST_2023 = (
    "Yang J, Shi R, Wei D, et al. MedMNIST v2 - A large-scale lightweight benchmark for 2D "
    "and 3D biomedical image classification. Scientific Data 10:41, 2023. "
    "doi:10.1038/s41597-022-01721-8"
)

#: One entry per published model. ``labels`` says which task the numbers are for.
PUBLISHED: tuple[dict[str, Any], ...] = (
    {"model": "InceptionV3 (transfer learning)", "source": "Kermany et al. 2018",
     "labels": "binary", "input": "full resolution",
     "metrics": {"accuracy": 0.928, "sensitivity": 0.932, "specificity": 0.901, "roc_auc": 0.968},
     "citation": KERMANY_2018},
    {"model": "InceptionV3 (transfer learning), bacterial vs viral", "source": "Kermany et al. 2018",
     "labels": "3class", "input": "full resolution",
     "metrics": {"bv_accuracy": 0.907, "bv_roc_auc": 0.940},
     "citation": KERMANY_2018},
    {"model": "ResNet-18 (28)", "source": "MedMNIST v2, PneumoniaMNIST", "labels": "binary",
     "input": "28 px", "metrics": {"roc_auc": 0.944, "accuracy": 0.854}, "citation": MEDMNIST_2023},
    {"model": "ResNet-18 (224)", "source": "MedMNIST v2, PneumoniaMNIST", "labels": "binary",
     "input": "28 px upsampled to 224", "metrics": {"roc_auc": 0.956, "accuracy": 0.864},
     "citation": MEDMNIST_2023},
    {"model": "ResNet-50 (224)", "source": "MedMNIST v2, PneumoniaMNIST", "labels": "binary",
     "input": "28 px upsampled to 224", "metrics": {"roc_auc": 0.962, "accuracy": 0.884},
     "citation": MEDMNIST_2023},
    {"model": "auto-sklearn", "source": "MedMNIST v2, PneumoniaMNIST", "labels": "binary",
     "input": "28 px", "metrics": {"roc_auc": 0.942, "accuracy": 0.855}, "citation": MEDMNIST_2023},
    {"model": "Google AutoML Vision", "source": "MedMNIST v2, PneumoniaMNIST", "labels": "binary",
     "input": "28 px", "metrics": {"roc_auc": 0.991, "accuracy": 0.946}, "citation": MEDMNIST_2023},
)


def published_rows(labels: str) -> list[dict[str, Any]]:
    """Published entries for a task: every entry for "binary"; the bacterial-vs-viral one for "3class"."""
    return [dict(p, status="REPORTED, NOT RERUN") for p in PUBLISHED if p["labels"] == labels]
