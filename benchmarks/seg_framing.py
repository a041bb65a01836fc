"""Does the lung mask survive tight, adult-like framing? Self-consistency on real films.

Usage::

    python benchmarks/seg_framing.py [--data /work/shared/data/chest_xray_224_train]
                                     [--n 150] [--seed 0] [--sheet framing.png]
                                     [--reference-from REV]

Paediatric films show neck, arms and abdomen around small lungs; adult PA films
are framed on the chest, the lungs filling most of the film. There are no adult
films with expert masks here, so this measures the next best thing: NORMAL
training films whose mask (at 512 px) is comfortably plausible
(:func:`xrayfeat.segment.lung_mask_score` >= 0.1) are cropped to the lungs' box
plus a margin of 2, 6 or 12 % of the side, resized to 256 px and segmented
again; the new mask is compared with the wide view's mask cropped the same way.
Prints, per margin, the mean, median and minimum Dice and the fallback count;
``--sheet`` draws the worst cases (yellow: wide view's mask; red: the new one).

The reference is the algorithm's own mask on the wide view, so this finds
framing-dependence, not disagreement with an expert. A change to the
segmentation changes the wide views' masks too (and which films are
comfortable); ``--reference-from REV`` takes them from ``xrayfeat/segment.py``
at git revision REV (e.g. ``main``), as in ``seg_consolidation.py``, so two
versions are judged on the same films and reference masks.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from seg_consolidation import (  # noqa: E402
    comfortable_normals, contact_sheet, dice, reference_arguments, reference_segmentation,
)

from xrayfeat.preprocess import resize  # noqa: E402
from xrayfeat.segment import crop_to_lungs, segment_lungs  # noqa: E402

WIDE, SIZE = 512, 256
MARGINS = (0.02, 0.06, 0.12)


def reframe(img: np.ndarray, mask: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The film and its mask cropped to the mask's box plus ``margin`` of the side, at SIZE px."""
    import cv2

    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    pad = int(margin * img.shape[0])
    r0, r1 = max(0, rows[0] - pad), min(img.shape[0], rows[-1] + 1 + pad)
    c0, c1 = max(0, cols[0] - pad), min(img.shape[1], cols[-1] + 1 + pad)
    ref = cv2.resize(mask[r0:r1, c0:c1].view(np.uint8) * np.uint8(255), (SIZE, SIZE),
                     interpolation=cv2.INTER_LINEAR) > 127
    return resize(img[r0:r1, c0:c1], SIZE), ref


def main(argv: list[str] | None = None) -> None:
    args = reference_arguments(__doc__.splitlines()[0]).parse_args(argv)
    reference = reference_segmentation(args.reference_from)

    print(f"seed {args.seed}; films from {args.data / 'NORMAL'} in seeded order; "
          f"wide view {WIDE} px, reframed {SIZE} px; "
          f"wide-view masks from {args.reference_from or 'the code under test'}")
    start = time.perf_counter()
    scores = {m: [] for m in MARGINS}
    fallbacks = dict.fromkeys(MARGINS, 0)
    cases = []
    n = 0
    for name, wide, mask in comfortable_normals(args.data, args.seed, WIDE, reference):
        n += 1
        for margin in MARGINS:
            img, ref = reframe(wide, mask, margin)
            new = segment_lungs(img)
            d = dice(new, ref)
            scores[margin].append(d)
            fallbacks[margin] += crop_to_lungs(img, new).fallback
            cases.append((d, name, margin, img, ref, new))
        if n == args.n:
            break
    print(f"{n} reference films (score >= 0.1 at {WIDE} px)\n")
    print(f"{'margin':>7} {'Dice mean':>9} {'median':>7} {'min':>6} {'fallback':>8}")
    for margin, vals in scores.items():
        a = np.array(vals)
        print(f"{margin:>7.2f} {a.mean():>9.3f} {np.median(a):>7.3f} {a.min():>6.3f} "
              f"{fallbacks[margin]:>4}/{len(a)}")
    print(f"\n{len(cases)} segmentations in {time.perf_counter() - start:.1f} s")
    if args.sheet is not None:
        cases.sort(key=lambda c: c[0])
        contact_sheet([(img, ref, new, f"{name[:24]}\nmargin {margin}: Dice {d:.2f}")
                       for d, name, margin, img, ref, new in cases[:10]], args.sheet)
        print(f"worst 10 written to {args.sheet}")


if __name__ == "__main__":
    main()
