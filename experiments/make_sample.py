"""Rebuild the embedded sample in ``xrayfeat/sample_data/sample`` from the 224 px training split.

The sample is a deterministic, patient-disjoint subset: whole patients are drawn
with a fixed seed, so a patient's images never straddle train and test. Images are
re-encoded as 1-channel JPEG (the originals store three identical channels),
which keeps the whole sample well under 2 MB.

Usage::

    python -m experiments.make_sample ../shared/data/chest_xray_224_train
"""

from __future__ import annotations

import argparse
import shutil
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from xrayfeat.dataset import load_dataset

SEED = 20261122
# images per (split, fine class); patients are added until the count is reached
QUOTA = {
    ("train", "NORMAL"): 40, ("train", "BACTERIA"): 30, ("train", "VIRUS"): 30,
    ("test", "NORMAL"): 20, ("test", "BACTERIA"): 15, ("test", "VIRUS"): 15,
}
JPEG_QUALITY = 85


def build(source: Path, dest: Path) -> dict[tuple[str, str], int]:
    ds = load_dataset(source, labels="3class")
    rng = np.random.default_rng(SEED)
    by_class: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path, label, group in zip(ds.paths, ds.labels, ds.groups):
        by_class[label][group].append(path)
    if dest.exists():
        shutil.rmtree(dest / "train", ignore_errors=True)
        shutil.rmtree(dest / "test", ignore_errors=True)
    written: dict[tuple[str, str], int] = defaultdict(int)
    # A patient can have images of both pneumonia kinds: fix each patient's split once.
    split_of: dict[str, str] = {}
    for label, patients in sorted(by_class.items()):
        order = iter(rng.permutation(sorted(patients)))
        for split in ("train", "test"):
            while written[(split, label)] < QUOTA[(split, label)]:
                patient = str(next(order))
                if split_of.setdefault(patient, split) != split:
                    continue
                for path in sorted(patients[patient])[:3]:
                    if written[(split, label)] >= QUOTA[(split, label)]:
                        break
                    folder = dest / split / ("NORMAL" if label == "NORMAL" else "PNEUMONIA")
                    folder.mkdir(parents=True, exist_ok=True)
                    grey = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
                    cv2.imwrite(str(folder / Path(path).name), grey,
                                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                    written[(split, str(label))] += 1
    return dict(written)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="folder with NORMAL/ and PNEUMONIA/ (224 px split)")
    parser.add_argument("--dest", type=Path,
                        default=Path(__file__).resolve().parents[1] / "xrayfeat" / "sample_data" / "sample")
    args = parser.parse_args()
    counts = build(args.source, args.dest)
    size = sum(p.stat().st_size for p in args.dest.rglob("*.jpeg"))
    print(counts, f"{size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
