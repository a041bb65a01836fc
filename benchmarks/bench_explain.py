"""Benchmark :func:`xrayfeat.explain`: milliseconds per image for every model type.

For each classifier (logreg and linear SVM: exact linear contributions; XGBoost:
``pred_contribs``; RBF SVM: occlusion), a model is fitted with the default
features on ``--n-train`` training images (patient-disjoint from the explained
ones), then ``explain`` runs on ``--n-images`` other images given as files:

- *cold*: the first call, one pass, as a user meets it (includes the one-off
  imports and the first-use set-up);
- *best of N*: the fastest of ``--repeat`` further passes, wall clock and CPU
  time of the process (the CPU figure suffers less from a shared machine);
- *predict*: ``predict_proba`` on the same files without the cache, the floor
  (reading, segmentation and features are shared by both);
- the mean ``inside_lungs`` share of the explained images.

Then one pass of the linear explanation on the full-resolution originals, and
the peak resident memory of the process. One process, one core for OpenCV.

Usage::

    python benchmarks/bench_explain.py                        # defaults below
    python benchmarks/bench_explain.py --n-train 400 --n-images 20 --repeat 2
"""

from __future__ import annotations

import argparse
import glob
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import xrayfeat  # noqa: E402
from xrayfeat.dataset import patient_id  # noqa: E402

DATA = "/work/shared/data/chest_xray_224_train"
FULLRES = "/work/shared/data/chest_xray_fullres_sample"
# (classifier, extra parameters, share of --n-images explained): occlusion costs ~70 predictions
MODELS = [("logreg", {}, 1.0), ("linear-svm", {}, 1.0), ("xgboost", {}, 1.0), ("svm", {}, 0.4)]


def _split(n_train: int, n_images: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """Training files and labels, and explained files, from disjoint patients."""
    paths = sorted(glob.glob(f"{DATA}/*/*.jpeg"))
    rng = np.random.default_rng(seed)
    patients = sorted({patient_id(p) for p in paths})
    held = set(rng.choice(patients, size=len(patients) // 5, replace=False).tolist())
    train = [p for p in paths if patient_id(p) not in held]
    test = [p for p in paths if patient_id(p) in held]
    train = [train[i] for i in rng.choice(len(train), n_train, replace=False)]
    test = [test[i] for i in rng.choice(len(test), n_images, replace=False)]
    return train, [Path(p).parent.name for p in train], test


def _timed(fn) -> tuple[float, float, object]:
    """(wall s, CPU s of this process, result): CPU time is less sensitive to a shared machine."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=600)
    ap.add_argument("--n-images", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cv", type=int, default=3)
    ap.add_argument("--cache", default=None, help="feature cache for the fits (a directory)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    train, y, test = _split(args.n_train, args.n_images, args.seed)
    print(f"fit on {len(train)} training images (cv={args.cv}, seed {args.seed}); explain files of "
          f"patients not in training; default features (image_size "
          f"{xrayfeat.FeatureExtractor().image_size})")
    print(f"{'model':<11}{'method':<15}{'images':>7}{'cold ms':>9}{'best ms':>9}{'best cpu':>9}"
          f"{'predict ms':>11}{'in lungs':>9}")
    linear = None
    for name, params, share in MODELS:
        model = xrayfeat.XrayClassifier(classifier=name, cv=args.cv, memory=args.cache,
                                        **params).fit(train, y)
        model.set_params(memory=None)  # time features as a user without a cache meets them
        files = test[:max(1, int(round(share * len(test))))]
        cold, _, explanations = _timed(lambda: xrayfeat.explain(model, files))
        best, cpu, _ = min((_timed(lambda: xrayfeat.explain(model, files)) for _ in range(args.repeat)),
                           key=lambda t: t[0])
        floor = min(_timed(lambda: model.predict_proba(files))[0] for _ in range(args.repeat))
        inside = np.nanmean([e.inside_lungs for e in explanations])
        n = len(files)
        print(f"{name:<11}{explanations[0].method:<15}{n:>7}{cold / n * 1e3:9.1f}{best / n * 1e3:9.1f}"
              f"{cpu / n * 1e3:9.1f}{floor / n * 1e3:11.1f}{inside:9.3f}")
        if name == "logreg":
            linear = model
    full = sorted(glob.glob(f"{FULLRES}/*/*.jpeg"))
    if full and linear is not None:
        t, _, explanations = _timed(lambda: xrayfeat.explain(linear, full))
        shapes = {e.heatmap.shape for e in explanations}
        print(f"\nlogreg on {len(full)} full-resolution originals (heatmaps of {len(shapes)} shapes, "
              f"largest {max(shapes)}): {t / len(full) * 1e3:.1f} ms/image, one pass")
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\npeak resident memory of this process: {kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
