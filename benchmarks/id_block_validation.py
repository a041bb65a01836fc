"""Patient-ID-block validation: train on some patients, test on a later block of them.

Usage::

    python benchmarks/id_block_validation.py [--data /work/shared/data/chest_xray_224_train]
        [--memory CACHE] [--jobs 2] [--labels binary|3class] [--blocks 5] [--only NAME ...]

Random patient-grouped folds mix every period of the data set in every fold. The
Kermany file names number the patients (``personN_*``, ``IM-XXXX``,
``NORMAL2-IM-XXXX``), and neighbouring numbers are likely neighbouring admissions,
so holding out a contiguous range of numbers is a held-out *period*: a shift that
uses the training split only. Each naming series is cut into ``--blocks``
contiguous ranges of patient numbers with about the same number of patients
(so each block keeps roughly the class mix), and each block is predicted by the
pipeline fitted on the others.

Binary (``--labels binary``): the 14 feature configurations of
``shortcut_validation.SHIFTED``, with the protocol of the maintainers' measured
table (FeatureExtractor -> StandardScaler -> balanced L2 logistic regression
C=0.01, no calibration, threshold maximising balanced accuracy on
patient-grouped 5-fold out-of-fold probabilities of the training blocks); prints
per configuration the mean over blocks of accuracy, ROC-AUC and specificity, and
the Spearman correlation of those with the shifted-site accuracy and AUC quoted
there. 3-class: the library's 3-class candidates (flat and hierarchical, arg-max
and balanced rule) on the default features; prints accuracy, macro-F1 and
balanced accuracy per block and pooled.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from shortcut_validation import SHIFTED, spearman, spelled_out  # noqa: E402

from xrayfeat import (  # noqa: E402
    CalibratedThresholdClassifier,
    FeatureExtractor,
    HierarchicalClassifier,
    load_dataset,
)

_SERIES = re.compile(r"^(?:(person)(\d+)_|(NORMAL2-)?IM-(\d+))")


def id_blocks(paths: list[str], n_blocks: int) -> np.ndarray:
    """Block of every file: contiguous ranges of patient numbers within each naming series."""
    keys = []
    for p in paths:
        m = _SERIES.match(Path(p).name)
        if m is None:
            raise SystemExit(f"{Path(p).name!r} does not carry a Kermany patient number.")
        keys.append(("person", int(m.group(2))) if m.group(1)
                    else ("NORMAL2" if m.group(3) else "IM", int(m.group(4))))
    block = np.empty(len(paths), int)
    for series in {k[0] for k in keys}:
        ids = sorted({k[1] for k in keys if k[0] == series})
        rank = {v: r for r, v in enumerate(ids)}
        for i, k in enumerate(keys):
            if k[0] == series:
                block[i] = n_blocks * rank[k[1]] // len(ids)
    return block


def _binary(X, y, groups, block, n_blocks):
    from sklearn.metrics import accuracy_score, roc_auc_score

    out = []
    for b in range(n_blocks):
        tr, te = block != b, block == b
        m = CalibratedThresholdClassifier(classifier="logreg", calibration=None).fit(
            X[tr], y[tr], groups=groups[tr])
        proba = m.predict_proba(X[te])[:, list(m.classes_).index("PNEUMONIA")]
        pred = m.predict(X[te])
        normal = y[te] == "NORMAL"
        out.append((accuracy_score(y[te], pred), roc_auc_score(~normal, proba),
                    float(np.mean(pred[normal] == "NORMAL"))))
    return np.array(out)


THREE_CLASS = {
    "flat, arg-max": lambda: CalibratedThresholdClassifier(class_costs=1 - np.eye(3)),
    "flat, balanced": lambda: CalibratedThresholdClassifier(),
    "hierarchical, arg-max": lambda: HierarchicalClassifier(class_costs=1 - np.eye(3)),
    "hierarchical, balanced (default)": lambda: HierarchicalClassifier(),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/chest_xray_224_train"))
    ap.add_argument("--memory", default=None, help="feature cache folder")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--labels", default="binary", choices=["binary", "3class"])
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--only", nargs="*", help="configuration names to run")
    args = ap.parse_args(argv)

    ds = load_dataset(args.data, labels=args.labels)
    paths, y, groups = ds.paths.tolist(), np.asarray(ds.labels), np.asarray(ds.groups).astype(str)
    block = id_blocks(paths, args.blocks)
    print(f"{len(y)} training images, {args.labels}, {args.blocks} patient-number blocks "
          f"(images per block {np.bincount(block).tolist()}), seed 0 (folds inside the training blocks)")
    t0 = time.perf_counter()
    if args.labels == "3class":
        from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

        X = FeatureExtractor(memory=args.memory, n_jobs=args.jobs).fit_transform(paths)
        print(f"{'classifier and rule':<34} {'acc':>6} {'macroF1':>7} {'balacc':>6}   pooled over blocks; "
              "macro-F1 per block")
        for name, make in THREE_CLASS.items():
            pred = np.empty(len(y), object)
            per_block = []
            for b in range(args.blocks):
                tr, te = block != b, block == b
                pred[te] = make().fit(X[tr], y[tr], groups=groups[tr]).predict(X[te])
                per_block.append(f1_score(y[te], pred[te], average="macro"))
            print(f"{name:<34} {accuracy_score(y, pred):6.3f} {f1_score(y, pred, average='macro'):7.3f} "
                  f"{balanced_accuracy_score(y, pred):6.3f}   " + " ".join(f"{v:.3f}" for v in per_block))
        print(f"{time.perf_counter() - t0:.0f} s")
        return

    names = [n for n in SHIFTED if not args.only or n in args.only]
    print(f"{'configuration':<22} {'acc':>6} {'auc':>6} {'spec':>6} | {'shift acc':>9} {'auc':>6} {'spec':>6}")
    rows = []
    for name in names:
        feats, s_auc, s_acc, _, s_spec = SHIFTED[name]
        X = FeatureExtractor(**spelled_out(feats), memory=args.memory, n_jobs=args.jobs).fit_transform(paths)
        r = _binary(X, y, groups, block, args.blocks).mean(axis=0)
        rows.append((r, s_acc, s_auc))
        print(f"{name:<22} {r[0]:6.3f} {r[1]:6.3f} {r[2]:6.3f} | {s_acc:9.3f} {s_auc:6.3f} {s_spec:6.3f}",
              flush=True)
    if len(rows) >= 3:
        for k, key in enumerate(("accuracy", "ROC-AUC", "specificity")):
            vals = [r[0][k] for r in rows]
            print(f"Spearman rho vs shifted accuracy / AUC, block {key:<11}: "
                  f"{spearman(vals, [r[1] for r in rows]):+.2f} / {spearman(vals, [r[2] for r in rows]):+.2f}")
    print(f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
