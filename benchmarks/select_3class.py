"""Choose the 3-class default (normal / bacterial / viral) by patient-grouped CV.

Usage::

    python benchmarks/select_3class.py [--data /work/shared/data/chest_xray_224_train]
        [--memory CACHE] [--jobs 2] [--extra] [--nested] [--swap 2500] [--out results.json]
    python benchmarks/select_3class.py --stage2 [--holdout /work/holdout] [--within-period]
        [--c-within 0.0003] [--only NAME ...] [--memory CACHE] [--jobs 1] [--out results.json]

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

``--stage2`` instead asks whether stage 2 (bacterial vs viral) should read other
features than stage 1 (which keeps the default ones): for every candidate in
``STAGE2`` it prints the 3-class macro-F1 and the bacterial-vs-viral ROC-AUC among
the true pneumonias on the 5 patient-grouped folds, on 5 held-out patient-number
periods (``id_block_validation.id_blocks``) and, with ``--holdout``, on a folder of
training-split files split into ``train/`` (earlier patients) and ``test/`` (later
ones). ``--within-period`` adds the bacterial-vs-viral CV AUC inside the later
period and inside equally sized draws of the earlier one.

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
from sklearn.base import BaseEstimator, ClassifierMixin, clone

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xrayfeat import (  # noqa: E402
    CalibratedThresholdClassifier, FeatureExtractor, HierarchicalClassifier, XrayClassifier, load_dataset,
    patient_folds, shortcut_report,
)
from xrayfeat._labels import balanced_argmax, class_shares  # noqa: E402

SEED = 0
N_FOLDS = 5
#: Stage-2 regularisation grid (inverse L2 strength of the bacterial-vs-viral model).
GRID = (0.01, 0.003, 0.001, 0.0003, 0.0001)


def rule_metrics(y: np.ndarray, proba: np.ndarray, classes: np.ndarray, rule: str,
                 prior: np.ndarray | None = None) -> dict:
    """Accuracy, macro-F1, balanced accuracy and per-class recall of one decision rule
    (``prior``: the training class mix the balanced rule divides by; None: that of ``y``)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score

    if prior is None:
        prior = class_shares(y, classes)
    pred = classes[balanced_argmax(proba, prior) if rule == "balanced" else np.argmax(proba, axis=1)]
    recall = recall_score(y, pred, labels=classes, average=None)
    return {"accuracy": accuracy_score(y, pred), "macro_f1": f1_score(y, pred, average="macro"),
            "balanced_accuracy": balanced_accuracy_score(y, pred),
            **{f"recall_{c}": float(r) for c, r in zip(classes, recall)}}


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


#: Stage-2 feature candidates (``--stage2``; stage 1 keeps the default features):
#: name -> blocks of columns, each ``(FeatureExtractor parameters, column prefixes or None)``,
#: concatenated. Prefixes pick families out of one extraction ("hog_", "lbp_", "int_").
STAGE2 = {
    "default: crop 128 HOG+LBP+int": [({}, None)],
    "crop 128 HOG only": [({}, ("hog_",))],
    "crop 128 LBP+int only": [({}, ("lbp_", "int_"))],
    "crop 128 + zones": [({}, None), ({"families": ["zones"]}, None)],
    "crop 128 + GLCM": [({}, None), ({"families": ["glcm"]}, None)],
    "zones + GLCM + LBP+int": [({"families": ["zones"]}, None), ({"families": ["glcm"]}, None),
                               ({}, ("lbp_", "int_"))],
    "crop 128 + HOG 8 px cells": [({}, None), ({"families": ["hog"], "family_params": {"hog": {"cell_size": 8}}},
                                               None)],
    "crop 128 + HOG 32 px cells": [({}, None), ({"families": ["hog"], "family_params": {"hog": {"cell_size": 32}}},
                                                None)],
    "crop 128, outside lungs filled": [({"mask_outside": True}, None)],
    "crop 128, percentile": [({"preprocess": ["percentile"]}, None)],
    "crop 128, percentile + CLAHE": [({"preprocess": ["percentile", "clahe"]}, None)],
    "crop 96": [({"image_size": 96}, None)],
    "crop 160": [({"image_size": 160}, None)],
    "crop 224": [({"image_size": 224}, None)],
    "whole image 128": [({"crop_lungs": False}, None)],
    "whole image 224": [({"crop_lungs": False, "image_size": 224}, None)],
    "whole image 128 LBP+int only": [({"crop_lungs": False}, ("lbp_", "int_"))],
    "crop 128 + whole image 128": [({}, None), ({"crop_lungs": False}, None)],
}
#: Stage-2 ensembles (``--stage2``): two logistic regressions, one on the default features and
#: one on the named STAGE2 candidate (at ``--c-within`` too), whose logits are summed.
STAGE2_SUM = {"default logit + zones+GLCM+LBP+int logit": "zones + GLCM + LBP+int",
              "default logit + whole image 128 logit": "whole image 128"}


class SumOfLogits(ClassifierMixin, BaseEstimator):
    """Binary classifier whose decision function is the sum of its members' (``--stage2``)."""

    def __init__(self, estimators=()):
        self.estimators = estimators

    def fit(self, X, y):
        self.estimators_ = [clone(e).fit(X, y) for e in self.estimators]
        self.classes_ = self.estimators_[0].classes_
        return self

    def decision_function(self, X):
        return np.sum([e.decision_function(X) for e in self.estimators_], axis=0)


class BenchHierarchical(HierarchicalClassifier):
    """HierarchicalClassifier with the benchmark's stage variants: stage 2 another named
    classifier (``second``, ``second_params``; ``--extra``), and/or the stages reading
    different columns (``--stage2``): X = [stage-1 features | stage-2 features], the first
    ``n_first`` columns for stage 1 (None: both stages read every column)."""

    def __init__(self, n_first: int | None = None, C_within: float = 0.0003, cv=5, random_state: int = SEED,
                 n_jobs=None, n_sum: int | None = None, second: str = "logreg", second_params: dict | None = None):
        super().__init__(C_within=C_within, cv=cv, random_state=random_state, n_jobs=n_jobs)
        self.n_first = n_first
        self.n_sum = n_sum  # stage 2 = logit of the default features + logit of the columns after n_sum
        self.second = second
        self.second_params = second_params

    def fit(self, X, y, groups=None):
        # HierarchicalClassifier.fit builds stage 1, then stage 2.
        split = [slice(None)] * 2 if self.n_first is None else [slice(0, self.n_first), slice(self.n_first, None)]
        self._stages_left = iter(zip((1, 2), split))
        return super().fit(X, y, groups)

    def _stage(self, C, cv, n_classes=2):
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer

        from xrayfeat.models import make_classifier

        stage, cols = next(self._stages_left)
        if stage == 2 and self.second != "logreg":
            return CalibratedThresholdClassifier(classifier=self.second, classifier_params=self.second_params,
                                                 calibration=self.calibration, threshold=0.5, cv=cv,
                                                 random_state=self.random_state, n_jobs=self.n_jobs)
        if self.n_first is None:
            return super()._stage(C, cv, n_classes)

        def on(cols):
            return make_pipeline(FunctionTransformer(lambda X, cols=cols: X[:, cols]),
                                 make_classifier("logreg", random_state=self.random_state, C=C))

        model = on(cols)
        if self.n_sum is not None and stage == 2:
            model = SumOfLogits([on(slice(0, self.n_first)), on(slice(self.n_first + self.n_sum, None))])
        return CalibratedThresholdClassifier(classifier=model, calibration=self.calibration, threshold=0.5, cv=cv,
                                             random_state=self.random_state, n_jobs=self.n_jobs)


def stage2_features(blocks: list, paths: list, memory, jobs: int) -> np.ndarray:
    """The concatenated feature blocks of one STAGE2 candidate."""
    parts = []
    for params, prefixes in blocks:
        fx = FeatureExtractor(**params, memory=memory, n_jobs=jobs, progress=False)
        F = fx.fit_transform(paths)
        if prefixes is not None:
            F = F[:, [str(n).startswith(prefixes) for n in fx.get_feature_names_out()]]
        parts.append(F)
    return np.hstack(parts)


def _bv_auc(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """Bacterial-vs-viral ROC-AUC among the true pneumonias, scored by P(V) / (P(B) + P(V))."""
    from sklearn.metrics import roc_auc_score

    b, v = list(classes).index("BACTERIA"), list(classes).index("VIRUS")
    rows = y != "NORMAL"
    return roc_auc_score(y[rows] == "VIRUS", proba[rows, v] / (proba[rows, v] + proba[rows, b]))


def within_period(args, ds, y: np.ndarray, groups: np.ndarray, late: np.ndarray, names: list) -> list:
    """``--within-period``: bacterial-vs-viral grouped 5-fold CV ROC-AUC *inside* one period.

    The later pneumonias (``--holdout``/test) against three seeded draws (seeds 0-2) of as
    many earlier ones with the same bacterial / viral counts: if the later period scores
    lower even when trained on itself, part of the collapse is that period's own
    difficulty (or label noise), not a shift that other features could bridge.
    """
    from sklearn.metrics import roc_auc_score

    def cv_auc(rows: np.ndarray, F: np.ndarray) -> float:
        folds = patient_folds(y[rows], groups[rows], n_splits=N_FOLDS, random_state=SEED)
        m = CalibratedThresholdClassifier(classifier_params={"C": args.c_within}, threshold=0.5, cv=folds,
                                          n_jobs=args.jobs).fit(F[rows], y[rows], groups=groups[rows])
        return roc_auc_score(y[rows] == "VIRUS", m.cv_results_["oof_proba"][:, list(m.classes_).index("VIRUS")])

    later = np.flatnonzero((y != "NORMAL") & late)
    earlier = np.flatnonzero((y != "NORMAL") & ~late)
    print(f"bacterial vs viral, grouped {N_FOLDS}-fold CV inside one period, C={args.c_within}: "
          f"the {len(later)} later pneumonias vs as many earlier ones (same class counts, seeds 0-2)")
    rows = []
    for name in names:
        F = stage2_features(STAGE2[name], ds.paths.tolist(), args.memory, args.jobs)
        draws = []
        for seed in range(3):
            rng = np.random.default_rng(seed)
            picked = [rng.choice(earlier[y[earlier] == c], np.sum(y[later] == c), replace=False)
                      for c in ("BACTERIA", "VIRUS")]
            draws.append(cv_auc(np.sort(np.concatenate(picked)), F))
        row = {"configuration": name, "later_cv_auc": cv_auc(later, F), "earlier_cv_auc": draws}
        print(f"  {name:<32} later {row['later_cv_auc']:.3f}   earlier " + " ".join(f"{a:.3f}" for a in draws),
              flush=True)
        rows.append(row)
    return rows


def stage2_comparison(args, ds, X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: list) -> list:
    """``--stage2``: every STAGE2 candidate under three protocols, stage 1 on the default features.

    ``oof``: the 5 patient-grouped folds; ``blocks``: 5 held-out patient-number periods
    (``id_block_validation.id_blocks``), each predicted by the model fitted on the others;
    ``holdout``: fitted on ``--holdout``/train, scored on ``--holdout``/test (later patients).
    Decisions by the balanced rule with the *training* class mix (the default), and arg-max.
    """
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from id_block_validation import id_blocks

    classes = np.unique(y)
    paths = ds.paths.tolist()
    names = np.array([Path(p).name for p in paths])
    block = id_blocks(paths, 5)
    split = None
    if args.holdout:
        test = {p.name for p in Path(args.holdout, "test").glob("*/*")}
        train = {p.name for p in Path(args.holdout, "train").glob("*/*")}
        split = (np.isin(names, list(train)), np.isin(names, list(test)))
        print(f"holdout {args.holdout}: {split[0].sum()} train / {split[1].sum()} test images")
    only = [n for n in [*STAGE2, *STAGE2_SUM] if not args.only or any(o in n for o in args.only)]
    print(f"stage 2 features (stage 1: default features, C=0.01); stage-2 C_within={args.c_within}; seed {SEED}; "
          "balanced rule / arg-max; AUC = bacterial vs viral among true pneumonias")
    head = (f"{'stage-2 features':<32} {'dim':>5} | {'OOF mF1':>7} {'AUC':>5} | {'blocks acc':>10} {'mF1':>5} "
            f"{'AUC':>5} | {'hold acc':>8} {'mF1':>5} {'AUC':>5} | {'hold argmax acc':>15} {'mF1':>5} | {'s':>4}")
    print(head)
    print("-" * len(head))
    rows = []
    for name in only:
        t0 = time.perf_counter()
        n_sum = None
        if name in STAGE2_SUM:  # stage 2 sees [default | candidate]; n_sum marks the split
            F2 = np.hstack([X, stage2_features(STAGE2[STAGE2_SUM[name]], paths, args.memory, args.jobs)])
            n_sum = X.shape[1]
        else:
            F2 = stage2_features(STAGE2[name], paths, args.memory, args.jobs)
        XX = np.hstack([X, F2])
        make = lambda cv: BenchHierarchical(n_first=X.shape[1], C_within=args.c_within, cv=cv,  # noqa: E731
                                                   n_jobs=args.jobs, n_sum=n_sum)
        row = {"configuration": name, "dim": F2.shape[1], "seed": SEED, "C_within": args.c_within}
        oof = make(folds).fit(XX, y, groups=groups).cv_results_["oof_proba"]
        row["oof"] = {**rule_metrics(y, oof, classes, "balanced"), "bv_auc": _bv_auc(y, oof, classes)}
        proba = np.empty((len(y), 3))
        aucs, prior = [], np.empty((len(y), 3))
        for b in range(5):
            tr, te = block != b, block == b
            m = make(N_FOLDS).fit(XX[tr], y[tr], groups=groups[tr])
            proba[te] = m.predict_proba(XX[te])
            prior[te] = m.train_prior_
            aucs.append(_bv_auc(y[te], proba[te], classes))
        pred = classes[[balanced_argmax(p[None], q)[0] for p, q in zip(proba, prior)]]
        from sklearn.metrics import accuracy_score, f1_score

        row["blocks"] = {"accuracy": accuracy_score(y, pred), "macro_f1": f1_score(y, pred, average="macro"),
                         "bv_auc_mean": float(np.mean(aucs)), "bv_auc_per_block": aucs}
        line = (f"{name:<32} {F2.shape[1]:5d} | {row['oof']['macro_f1']:7.3f} {row['oof']['bv_auc']:5.3f} | "
                f"{row['blocks']['accuracy']:10.3f} {row['blocks']['macro_f1']:5.3f} {np.mean(aucs):5.3f} | ")
        if split is not None:
            tr, te = split
            m = make(N_FOLDS).fit(XX[tr], y[tr], groups=groups[tr])
            p = m.predict_proba(XX[te])
            row["holdout"] = {"balanced": rule_metrics(y[te], p, classes, "balanced", m.train_prior_),
                              "argmax": rule_metrics(y[te], p, classes, "argmax"),
                              "bv_auc": _bv_auc(y[te], p, classes)}
            hb, ha = row["holdout"]["balanced"], row["holdout"]["argmax"]
            line += (f"{hb['accuracy']:8.3f} {hb['macro_f1']:5.3f} {row['holdout']['bv_auc']:5.3f} | "
                     f"{ha['accuracy']:15.3f} {ha['macro_f1']:5.3f} | ")
        row["seconds"] = time.perf_counter() - t0
        print(line + f"{row['seconds']:4.0f}", flush=True)
        rows.append(row)
    if args.within_period and split is not None:
        rows += within_period(args, ds, y, groups, split[1], [n for n in only if n in STAGE2])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/chest_xray_224_train"))
    ap.add_argument("--memory", default=None, help="feature cache folder")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--extra", action="store_true", help="also SVM / XGBoost second stages (slower)")
    ap.add_argument("--nested", action="store_true", help="nested choice of C_within (5 x 5 grid fits)")
    ap.add_argument("--swap", type=int, default=0, help="chest-swap diagnostic with this many composites")
    ap.add_argument("--out", default=None, help="write every row as JSON here")
    ap.add_argument("--stage2", action="store_true",
                    help="instead: compare stage-2 features (STAGE2) by OOF, held-out periods and --holdout")
    ap.add_argument("--holdout", default=None, help="with --stage2: a folder with train/ and test/ class subfolders "
                    "of training-split files (e.g. earlier / later patients)")
    ap.add_argument("--c-within", type=float, default=0.0003, help="with --stage2: stage-2 C")
    ap.add_argument("--only", nargs="*", help="with --stage2: candidates whose name contains one of these")
    ap.add_argument("--within-period", action="store_true", help="with --stage2 --holdout: also the "
                    "bacterial-vs-viral CV AUC inside the later and (subsampled) earlier periods")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    t_start = time.perf_counter()
    ds = load_dataset(args.data, labels="3class")
    y, groups = ds.labels.astype(str), ds.groups.astype(str)
    classes = np.unique(y)
    folds = patient_folds(y, groups, n_splits=N_FOLDS, random_state=SEED)
    paths = ds.paths.tolist()
    X = FeatureExtractor(memory=args.memory, n_jobs=args.jobs, progress=False).fit_transform(paths)
    if args.stage2:
        rows = stage2_comparison(args, ds, X, y, groups, folds)
        print(f"total {time.perf_counter() - t_start:.0f} s")
        if args.out:
            Path(args.out).write_text(json.dumps(rows, indent=1, default=float))
        return
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
        def second(name, params):
            return BenchHierarchical(second=name, second_params=params, cv=folds, n_jobs=args.jobs).fit(
                X, y, groups=groups).cv_results_["oof_proba"]

        for c in (0.3, 1.0):
            configs[f"hierarchical, stage 2 RBF-SVM C={c}"] = lambda c=c: second("svm", {"C": c})
        configs["hierarchical, stage 2 XGBoost"] = lambda: second("xgboost", {})
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
