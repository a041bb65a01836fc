"""Contact sheet of the worst lung masks of the training split, by plausibility score.

Usage::

    python benchmarks/seg_contact_sheet.py [--data /work/shared/data/chest_xray_224_train]
                                           [--out /tmp] [--n 30] [--classes NORMAL PNEUMONIA]
                                           [--limit N] [--csv]

For each class, segments every image (:func:`xrayfeat.segment.segment_lungs`),
scores its mask with :func:`xrayfeat.segment.lung_mask_score` (the smallest margin
to any bound of :data:`~xrayfeat.segment.MASK_BOUNDS`; negative means
:func:`~xrayfeat.segment.crop_to_lungs` falls back to the central crop) and writes
``worst_masks_<CLASS>.png`` under ``--out``: the ``--n`` lowest-scoring images,
worst first, with the mask outline (red), the crop box (yellow), the score and
the failed bound. Masks just above 0 pass but are the next to look at. With
``--csv``, ``mask_scores_<CLASS>.csv`` lists every image's score and reason.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xrayfeat.plots import plot_worst_masks  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/chest_xray_224_train", type=Path)
    ap.add_argument("--out", default="/tmp", type=Path)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--classes", nargs="*", default=["NORMAL", "PNEUMONIA"])
    ap.add_argument("--limit", type=int, default=None, help="max images per class")
    ap.add_argument("--csv", action="store_true", help="also write every image's score")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for cls in args.classes:
        files = sorted((args.data / cls).glob("*.jpeg"))[:args.limit]
        if not files:
            print(f"{cls}: no images under {args.data / cls}")
            continue
        out, ranking = plot_worst_masks(files, args.out / f"worst_masks_{cls}.png", n=args.n)
        n_bad = sum(score < 0 for _, score, _ in ranking)
        print(f"{cls}: {n_bad} / {len(ranking)} implausible; worst {len(ranking[:args.n])} in {out}")
        if args.csv:
            with open(args.out / f"mask_scores_{cls}.csv", "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["file", "score", "reason"])
                w.writerows((Path(f).name, f"{s:.4f}", r) for f, s, r in ranking)


if __name__ == "__main__":
    main()
