"""Choose the 3-class default (normal / bacterial / viral) by patient-grouped CV.

Usage::

    python benchmarks/select_3class.py [--data /work/shared/data/chest_xray_224_train]
        [--memory CACHE] [--jobs 2] [--extra] [--nested] [--swap 2500] [--out results.json]

Every configuration is scored on the same 5 patient-grouped, class-stratified
folds of the training split (seed 0) by its calibrated out-of-fold
probabilities, under two decision rules:

``argmax``
    the most probable class (the rule before this script; ``class_costs=1 - I``);
``balanced``
    the largest ``p(c | x) / prior(c)``, the Bayes rule for balanced accuracy
    (:func:`xrayfeat.calibrated.balanced_argmax`), independent of the class mix.

It prints accuracy, macro-F1, balanced accuracy and per-class recall. ``--nested``
adds an honest figure for the one tuned setting (the stage-2 regularisation
``C_within``): inside each outer fold, ``C_within`` is chosen from ``GRID`` by an
inner 5-fold grouped CV on the other folds (balanced-rule macro-F1), and the
chosen model scores the outer fold. ``--swap N`` runs the training-only
chest-swap diagnostic (:func:`xrayfeat.shortcut_report`, N composites, same
folds) for the old default, the new one and their rule variants. ``--extra`` adds
stage-2 models other than logistic regression (RBF SVM, XGBoost; slower) and
other crop sizes (64, 96, 224 px; the time includes their feature extraction).

No test image is read: the official test split must not choose anything.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xrayfeat import (  # noqa: E402
    CalibratedThresholdClassifier, FeatureExtractor, HierarchicalClassifier, XrayClassifier, load_dataset,
    patient_folds, shortcut_report,
)
from xrayfeat.calibrated import balanced_argmax  # noqa: E402

SEED = 0
N_FOLDS = 5
#: Stage-2 regularisation grid (inverse L2 strength of the bacterial-vs-viral model).
GRID = (0.01, 0.003, 0.001, 0.0003, 0.0001)


def rule_metrics(y: np.ndarray, proba: np.ndarray, classes: np.ndarray, rule: str) -> dict:
    """Accuracy, macro-F1, balanced accuracy and per-class recall of one decision rule."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score

    prior = np.array([np.mean(y == c) for c in classes])
    pred = classes[balanced_argmax(proba, prior) if rule == "balanced" else np.argmax(proba, axis=1)]
    recall = recall_score(y, pred, labels=classes, average=None)
    return {"accuracy": accuracy_score(y, pred), "macro_f1": f1_score(y, pred, average="macro"),
            "balanced_accuracy": balanced_accuracy_score(y, pred),
            **{f"recall_{c}": float(r) for c, r in zip(classes, recall)}}


def two_stage_oof(X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: list, second: str,
                  params: dict, jobs: int) -> np.ndarray:
    """Out-of-fold probabilities of stage 1 = the library's binary model and stage 2 = any
    named classifier, combined as HierarchicalClassifier does (for ``--extra``)."""
    first = CalibratedThresholdClassifier(threshold=0.5, cv=folds, n_jobs=jobs).fit(X, y == "NORMAL", groups=groups)
    rows = np.flatnonzero(y != "NORMAL")
    where = np.full(len(y), -1)
    where[rows] = np.arange(len(rows))
    inner = [(where[tr[y[tr] != "NORMAL"]], where[te[y[te] != "NORMAL"]]) for tr, te in folds]
    stage2 = CalibratedThresholdClassifier(classifier=second, classifier_params=params, threshold=0.5, cv=inner,
                                           n_jobs=jobs).fit(X[rows], y[rows], groups=groups[rows])
    p2 = np.empty((len(y), 2))
    for k, (_, te) in enumerate(folds):
        p2[te] = stage2.member_proba(k, X[te])
    p2[rows] = stage2.cv_results_["oof_proba"]
    p_norm = first.cv_results_["oof_proba"][:, 1]
    classes = np.unique(y)
    out = np.empty((len(y), 3))
    out[:, list(classes).index("NORMAL")] = p_norm
    out[:, np.searchsorted(classes, stage2.classes_)] = (1 - p_norm)[:, None] * p2
    return out


def nested_oof(X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: list, jobs: int) -> tuple[np.ndarray, list]:
    """Outer-fold probabilities of HierarchicalClassifier with C_within chosen inside each outer fold."""
    from sklearn.metrics import f1_score

    out = np.empty((len(y), 3))
    chosen = []
    for k, (tr, te) in enumerate(folds):
        best = None
        for c in GRID:
            inner = HierarchicalClassifier(C_within=c, cv=N_FOLDS, random_state=SEED, n_jobs=jobs)
            inner.fit(X[tr], y[tr], groups=groups[tr])
            oof = inner.cv_results_["oof_proba"]
            prior = inner.train_prior_
            f1 = f1_score(y[tr], inner.classes_[balanced_argmax(oof, prior)], average="macro")
            if best is None or f1 > best[0]:
                best = (f1, c, inner)
        chosen.append(best[1])
        out[te] = best[2].predict_proba(X[te])
        print(f"  outer fold {k + 1}: C_within={best[1]} (inner macro-F1 {best[0]:.3f})", flush=True)
    return out, chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/chest_xray_224_train"))
    ap.add_argument("--memory", default=None, help="feature cache folder")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--extra", action="store_true", help="also SVM / XGBoost second stages (slower)")
    ap.add_argument("--nested", action="store_true", help="nested choice of C_within (5 x 5 grid fits)")
    ap.add_argument("--swap", type=int, default=0, help="chest-swap diagnostic with this many composites")
    ap.add_argument("--out", default=None, help="write every row as JSON here")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    t_start = time.perf_counter()
    ds = load_dataset(args.data, labels="3class")
    y, groups = ds.labels.astype(str), ds.groups.astype(str)
    classes = np.unique(y)
    folds = patient_folds(y, groups, n_splits=N_FOLDS, random_state=SEED)
    paths = ds.paths.tolist()
    X = FeatureExtractor(memory=args.memory, n_jobs=args.jobs, progress=False).fit_transform(paths)
    Xz = FeatureExtractor(families=["hog", "lbp", "intensity", "zones"], memory=args.memory, n_jobs=args.jobs,
                          progress=False).fit_transform(paths)
    print(f"{len(y)} training images ({', '.join(f'{c} {np.sum(y == c)}' for c in classes)}), "
          f"{len(set(groups.tolist()))} patients; {N_FOLDS} patient-grouped folds, seed {SEED}; "
          f"features: lung crop 128 px, {X.shape[1]} (+zones {Xz.shape[1]}); calibration sigmoid", flush=True)

    def flat(C, F=X):
        return CalibratedThresholdClassifier(classifier_params={"C": C}, cv=folds, n_jobs=args.jobs).fit(
            F, y, groups=groups).cv_results_["oof_proba"]

    def hier(c_within, F=X):
        return HierarchicalClassifier(C_within=c_within, cv=folds, n_jobs=args.jobs).fit(
            F, y, groups=groups).cv_results_["oof_proba"]

    configs = {"flat logreg C=0.01 (old default)": lambda: flat(0.01),
               "flat logreg C=0.001": lambda: flat(0.001),
               "flat logreg C=0.0003": lambda: flat(0.0003),
               "flat logreg C=0.01 +zones": lambda: flat(0.01, Xz)}
    configs.update({f"hierarchical C_within={c}" + (" (new default)" if c == 0.0003 else ""):
                    (lambda c=c: hier(c)) for c in GRID})
    configs["hierarchical C_within=0.0003 +zones"] = lambda: hier(0.0003, Xz)
    if args.extra:
        for c in (0.3, 1.0):
            configs[f"hierarchical, stage 2 RBF-SVM C={c}"] = lambda c=c: two_stage_oof(X, y, groups, folds, "svm",
                                                                                          {"C": c}, args.jobs)
        configs["hierarchical, stage 2 XGBoost"] = lambda: two_stage_oof(X, y, groups, folds, "xgboost", {},
                                                                          args.jobs)
        for size in (64, 96, 224):
            def at_size(size=size):
                F = FeatureExtractor(image_size=size, memory=args.memory, n_jobs=args.jobs,
                                     progress=False).fit_transform(paths)
                return hier(0.0003, F)
            configs[f"hierarchical C_within=0.0003, crop {size} px"] = at_size
    rows = []
    short = {c: c[0] for c in classes}
    head = (f"{'configuration':<42} {'rule':<9} {'acc':>6} {'mF1':>6} {'bacc':>6} "
            + " ".join(f"{'rec ' + short[c]:>6}" for c in classes) + f" {'s':>5}")
    print(head)
    print("-" * len(head))

    def show(name: str, proba: np.ndarray, seconds: float) -> None:
        for rule in ("argmax", "balanced"):
            m = rule_metrics(y, proba, classes, rule)
            rows.append({"configuration": name, "rule": rule, **m, "seconds": seconds, "seed": SEED,
                         "folds": N_FOLDS})
            print(f"{name:<42} {rule:<9} {m['accuracy']:6.3f} {m['macro_f1']:6.3f} {m['balanced_accuracy']:6.3f} "
                  + " ".join(f"{m[f'recall_{c}']:6.3f}" for c in classes) + f" {seconds:5.0f}", flush=True)

    for name, run in configs.items():
        t0 = time.perf_counter()
        proba = run()
        show(name, proba, time.perf_counter() - t0)
    if args.nested:
        t0 = time.perf_counter()
        print(f"nested: C_within from {GRID} by inner grouped {N_FOLDS}-fold CV (balanced-rule macro-F1)")
        proba, chosen = nested_oof(X, y, groups, folds, args.jobs)
        show(f"hierarchical, nested C_within {sorted(set(chosen))}", proba, time.perf_counter() - t0)
    if args.swap:
        t0 = time.perf_counter()
        argmax_costs = 1 - np.eye(len(classes))
        estimators = {
            "flat C=0.01, argmax (old default)": XrayClassifier(classifier="logreg", class_costs=argmax_costs),
            "flat C=0.01, balanced": XrayClassifier(classifier="logreg"),
            "hierarchical, argmax": XrayClassifier(class_costs=argmax_costs),
            "hierarchical, balanced (new default)": XrayClassifier(),
        }
        reports = shortcut_report(ds, estimators, max_composites=args.swap, memory=args.memory, n_jobs=args.jobs,
                                  labels="3class")
        print(f"chest-swap diagnostic, {args.swap} composites, same folds and composites for all; "
              f"{time.perf_counter() - t0:.0f} s")
        print(f"{'pipeline':<40} {'cv bacc':>7} {'swap bacc':>9} {'swap auc donor':>14} {'follows donor':>13}")
        for name, rep in reports.items():
            print(f"{name:<40} {rep.cv_balanced_accuracy:7.3f} {rep.swap_balanced_accuracy:9.3f} "
                  f"{rep.swap_auc_donor:14.3f} {rep.follows_donor:13.3f}")
            rows.append({"configuration": name, "swap": rep.as_dict()})
    print(f"total {time.perf_counter() - t_start:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
