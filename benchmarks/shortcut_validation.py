"""Validate the shortcut criterion against accuracy measured on a shifted site.

Usage::

    python benchmarks/shortcut_validation.py [--data /work/shared/data/chest_xray_224_train]
        [--memory CACHE] [--jobs 2] [--labels binary] [--extra] [--out results.json]

For each of the 14 feature configurations in ``SHIFTED`` it runs
:func:`xrayfeat.shortcut_report` on the training split only (FeatureExtractor ->
StandardScaler -> balanced L2 logistic regression C=0.01, threshold maximising
balanced accuracy on patient-grouped 5-fold out-of-fold probabilities, exactly
the protocol of the measured table) and prints, per configuration, the CV
ROC-AUC, the lung-swap criterion and the figures measured on the shifted site,
then the Spearman correlation of each training-only score with the shifted
accuracy. ``--extra`` adds candidate configurations that were never measured on
the shifted site (their criterion is printed, no correlation is claimed).

The shifted-site figures are quoted from the project's issue tracker (issue
"Defaults that hold on a new site"): one patient-disjoint half (321 images, 124
NORMAL / 197 PNEUMONIA) of the official Kermany test split, measured by the
maintainers; the other half is sealed. Nothing here reads a test image.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xrayfeat import XrayClassifier, load_dataset, shortcut_report  # noqa: E402

# Every configuration is spelled out from this base, so that changing the library's
# defaults never changes what a row means.
_BASE = {"families": ["hog", "lbp", "intensity"], "image_size": 224, "preprocess": None, "crop_lungs": False}
# The shifted site was scored with LBP coding the image as given (before LBP's smoothing).
_LBP_AS_MEASURED = {"smoothing": 0.0}
_CROP = {"crop_lungs": True}
_PCT_CLAHE = {"preprocess": ["percentile", "clahe"]}

#: name -> (FeatureExtractor parameters, shifted ROC-AUC, accuracy, sensitivity, specificity)
SHIFTED = {
    "whole 224": ({}, 0.949, 0.782, 0.995, 0.444),
    "whole 224 pct+clahe": (_PCT_CLAHE, 0.939, 0.760, 0.990, 0.395),
    "whole 128": ({"image_size": 128}, 0.944, 0.769, 0.995, 0.411),
    "whole 224 hog": ({"families": ["hog"]}, 0.944, 0.782, 0.990, 0.452),
    "crop 224": (_CROP, 0.949, 0.863, 0.949, 0.726),
    "crop 224 pct+clahe": ({**_CROP, **_PCT_CLAHE}, 0.957, 0.872, 0.949, 0.750),
    "crop 160": ({**_CROP, "image_size": 160}, 0.953, 0.907, 0.959, 0.823),
    "crop 128": ({**_CROP, "image_size": 128}, 0.960, 0.897, 0.959, 0.798),
    "crop 128 pct": ({**_CROP, "image_size": 128, "preprocess": ["percentile"]}, 0.956, 0.885, 0.949, 0.782),
    "crop 128 pct+clahe": ({**_CROP, "image_size": 128, **_PCT_CLAHE}, 0.945, 0.875, 0.980, 0.710),
    "crop 96": ({**_CROP, "image_size": 96}, 0.963, 0.910, 0.975, 0.806),
    "crop 128 hog": ({**_CROP, "image_size": 128, "families": ["hog"]}, 0.956, 0.879, 0.959, 0.750),
    "crop 128 lbp": ({**_CROP, "image_size": 128, "families": ["lbp"]}, 0.880, 0.819, 0.838, 0.790),
    "crop 128 intensity": ({**_CROP, "image_size": 128, "families": ["intensity"]}, 0.802, 0.735, 0.787, 0.653),
}

#: Candidates never scored on the shifted site.
EXTRA: dict[str, dict] = {
    "crop 64": {**_CROP, "image_size": 64},
    "crop 80": {**_CROP, "image_size": 80},
    "crop 96 masked": {**_CROP, "image_size": 96, "mask_outside": True},
    "crop 96 +zones": {**_CROP, "image_size": 96, "families": ["hog", "lbp", "intensity", "zones"]},
    "crop 96 masked +zones": {**_CROP, "image_size": 96, "mask_outside": True,
                              "families": ["hog", "lbp", "intensity", "zones"]},
    "crop 128 masked": {**_CROP, "image_size": 128, "mask_outside": True},
    "crop 160 masked": {**_CROP, "image_size": 160, "mask_outside": True},
    "crop 160 +zones": {**_CROP, "image_size": 160, "families": ["hog", "lbp", "intensity", "zones"]},
    "crop 128 +zones": {**_CROP, "image_size": 128, "families": ["hog", "lbp", "intensity", "zones"]},
    "crop 128 hog+intensity": {**_CROP, "image_size": 128, "families": ["hog", "intensity"]},
    "crop 128 lbp smoothed": {**_CROP, "image_size": 128, "family_params": {"lbp": {"smoothing": 1.0}}},
}


def spelled_out(config: dict) -> dict:
    """``config`` on top of ``_BASE``, LBP coding the image as given unless it says otherwise."""
    out = {**_BASE, **config}
    if "lbp" in out["families"]:
        params = dict(out.get("family_params") or {})
        params["lbp"] = {**_LBP_AS_MEASURED, **params.get("lbp", {})}
        out["family_params"] = params
    return out


def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/chest_xray_224_train"))
    ap.add_argument("--memory", default=None, help="feature cache folder")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--labels", default="binary", choices=["binary", "3class"])
    ap.add_argument("--classifier", default="logreg")
    ap.add_argument("--calibration", default="none", help="'none' as in the measured table, or sigmoid")
    ap.add_argument("--extra", action="store_true", help="also score the unmeasured candidates")
    ap.add_argument("--only", nargs="*", help="configuration names to run")
    ap.add_argument("--only-extra", action="store_true", help="score the unmeasured candidates only")
    ap.add_argument("--out", default=None, help="write all figures as JSON here")
    ap.add_argument("--region", default="chest", choices=["chest", "lungs"])
    ap.add_argument("--max-composites", type=int, default=None)
    args = ap.parse_args()

    ds = load_dataset(args.data, labels=args.labels)
    configs = {k: v[0] for k, v in SHIFTED.items()}
    if args.extra:
        configs.update(EXTRA)
    if args.only_extra:
        configs = dict(EXTRA)
    configs = {k: spelled_out(v) for k, v in configs.items()}
    if args.only:
        configs = {k: v for k, v in configs.items() if k in args.only}
    calibration = None if args.calibration == "none" else args.calibration
    estimators = {
        name: XrayClassifier(classifier=args.classifier, features=feats, calibration=calibration)
        for name, feats in configs.items()
    }
    t0 = time.perf_counter()
    reports = shortcut_report(ds, estimators, region=args.region, max_composites=args.max_composites,
                              memory=args.memory, n_jobs=args.jobs)
    elapsed = time.perf_counter() - t0
    print(f"{len(ds)} training images, {args.labels}, classifier={args.classifier}, "
          f"calibration={calibration}, region={args.region}, 5 patient-grouped folds, seed 0; {elapsed:.0f} s")
    head = (f"{'configuration':<22} {'cv auc':>7} {'cv bacc':>7} {'swap bacc':>9} {'swap auc':>8} "
            f"{'body auc':>8} {'follow':>6} | {'shift auc':>9} {'acc':>6} {'spec':>6}")
    print(head)
    print("-" * len(head))
    rows = []
    for name, rep in reports.items():
        shifted = SHIFTED.get(name)
        tail = f"{shifted[1]:9.3f} {shifted[2]:6.3f} {shifted[4]:6.3f}" if shifted else f"{'-':>9} {'-':>6} {'-':>6}"
        print(f"{name:<22} {rep.cv_roc_auc:7.3f} {rep.cv_balanced_accuracy:7.3f} "
              f"{rep.swap_balanced_accuracy:9.3f} {rep.swap_auc_donor:8.3f} {rep.swap_auc_recipient:8.3f} "
              f"{rep.follows_donor:6.3f} | {tail}")
        rows.append({"name": name, **rep.as_dict(),
                     **({"shifted_auc": shifted[1], "shifted_accuracy": shifted[2]} if shifted else {})})
    print(f"composites per configuration: {next(iter(reports.values())).n_composites}; "
          f"films without a plausible mask (not swapped): {next(iter(reports.values())).n_skipped}")
    measured = [r for r in rows if "shifted_accuracy" in r]
    if args.labels == "binary" and len(measured) >= 3:
        acc = [r["shifted_accuracy"] for r in measured]
        auc = [r["shifted_auc"] for r in measured]
        for key in ("cv_roc_auc", "cv_balanced_accuracy", "swap_balanced_accuracy", "swap_auc_donor",
                    "follows_donor"):
            vals = [r[key] for r in measured]
            print(f"Spearman rho vs shifted accuracy / AUC, {key:<24}: "
                  f"{spearman(vals, acc):+.2f} / {spearman(vals, auc):+.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
