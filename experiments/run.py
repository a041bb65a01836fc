"""Benchmark runner: ``python -m experiments.run``.

With no arguments it trains on the embedded sample's ``train`` split and
evaluates on its ``test`` split, printing a metrics table. ``--data ROOT`` runs
on a Kaggle-layout folder instead.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xrayfeat import __version__
from xrayfeat.dataset import load_dataset
from xrayfeat.datasets import sample_path

SEED = 0


def _hog_features(paths: Sequence[str], size: int = 128) -> np.ndarray:
    """First, simple feature set: HOG on a 128 px grey image."""
    import cv2
    from skimage.feature import hog

    from xrayfeat.io import read_image

    rows = []
    for p in paths:
        img = cv2.resize(read_image(p, target_size=size), (size, size), interpolation=cv2.INTER_AREA)
        rows.append(hog(img, orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2)))
    return np.asarray(rows, dtype=np.float32)


def run(data: str | Path | None = None, *, seed: int = SEED) -> dict:
    """Fit on the train split, evaluate on the test split, return metrics."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    root = Path(data) if data else sample_path()
    train, test = load_dataset(root, split="train"), load_dataset(root, split="test")
    t0 = time.perf_counter()
    x_train, x_test = _hog_features(train.paths), _hog_features(test.paths)
    t_feat = time.perf_counter() - t0
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, class_weight="balanced", max_iter=2000, random_state=seed))
    model.fit(x_train, train.y)
    proba = model.predict_proba(x_test)[:, 1]
    pred = (proba >= 0.5).astype(int)
    y = test.y
    return {
        "pipeline": "hog128-logreg",
        "n_train": len(train),
        "n_test": len(test),
        "accuracy": accuracy_score(y, pred),
        "balanced_accuracy": balanced_accuracy_score(y, pred),
        "sensitivity": recall_score(y, pred, pos_label=1),
        "specificity": recall_score(y, pred, pos_label=0),
        "roc_auc": roc_auc_score(y, proba),
        "feature_seconds": t_feat,
        "seed": seed,
    }


def format_table(rows: list[dict]) -> str:
    """Render metric rows as a fixed-width text table."""
    cols = ["pipeline", "n_train", "n_test", "accuracy", "balanced_accuracy", "sensitivity", "specificity", "roc_auc"]
    head = " | ".join(f"{c:>17}" for c in cols)
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(" | ".join(f"{r[c]:>17.3f}" if isinstance(r[c], float) else f"{r[c]!s:>17}" for c in cols))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.run", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="Kaggle-layout root with train/ and test/ (default: embedded sample)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    print(f"xrayfeat {__version__}, Python {platform.python_version()}, seed {args.seed}")
    result = run(args.data, seed=args.seed)
    print(format_table([result]))
    print(json.dumps({k: v for k, v in result.items() if k == "feature_seconds"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
