"""Does the lung outline sit on the lung's edge? Boundary-gradient profiles on real films.

Usage::

    python benchmarks/seg_edges.py [--data /work/shared/data/chest_xray_224_train]
                                   [--n 150] [--seed 1] [--size 256] [--ref REV]

There are no expert masks here, but a lung's edge is where the grey level changes
fastest. For each film (``--n`` per class, seeded order, resized to ``--size``)
whose mask passes :func:`xrayfeat.segment.check_lung_mask`, the mask is eroded
(positive offsets) or dilated (negative) by a disk of 0-3 px, and the mean
gradient magnitude (Sobel of the film blurred with sigma 1) is taken along the
inner boundary of each. A mask whose outline lies on the edge peaks at offset -1
(the inner boundary of the mask dilated by a pixel straddles the edge): that is
where the true lungs of the synthetic chests (``tests/_synthetic.py``) peak.
Prints, per class and version, the profile normalised by each film's maximum
and averaged, and how many films peak at each offset. ``--ref REV`` adds
``xrayfeat/segment.py`` at git revision REV, as in ``compare_segment.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from _synthetic import synthetic_cxr  # noqa: E402
from seg_consolidation import reference_segmentation  # noqa: E402

from xrayfeat import segment as current  # noqa: E402
from xrayfeat.io import read_image  # noqa: E402
from xrayfeat.preprocess import resize  # noqa: E402

OFFSETS = tuple(range(-3, 4))


def profile(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean gradient magnitude along the inner boundary of the mask moved by each offset."""
    import cv2

    grey = cv2.GaussianBlur(img, (0, 0), 1.0)
    grad = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    u8 = mask.view(np.uint8)
    out = []
    for off in OFFSETS:
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(off) + 1,) * 2)
        moved = u8 if off == 0 else (cv2.erode(u8, disk) if off > 0 else cv2.dilate(u8, disk))
        ring = (moved > 0) & ~(cv2.erode(moved, np.ones((3, 3), np.uint8)) > 0)
        out.append(grad[ring].mean() if ring.any() else 0.0)
    return np.array(out)


def summary(profiles: list[np.ndarray]) -> str:
    p = np.array(profiles)
    p = p / p.max(axis=1, keepdims=True)
    peaks = np.array(OFFSETS)[p.argmax(axis=1)]
    mean = " ".join(f"{v:.3f}" for v in p.mean(axis=0))
    counts = " ".join(f"{int((peaks == o).sum()):>3}" for o in OFFSETS)
    return f"mean [{mean}]  films peaking at each offset [{counts}]"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/chest_xray_224_train", type=Path)
    ap.add_argument("--n", type=int, default=150, help="films per class")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--ref", default=None, metavar="REV")
    args = ap.parse_args(argv)

    versions: dict[str, Any] = {"current": current}
    if args.ref is not None:
        versions[args.ref] = reference_segmentation(args.ref)

    print(f"offsets {OFFSETS} px at {args.size} px (negative: dilated); an outline on the edge peaks at -1")
    chests = [synthetic_cxr(args.size, seed=s) for s in range(20)]
    print(f"{'synthetic, true lungs':<28} {summary([profile(img, lungs) for img, lungs in chests])}")
    for name, mod in versions.items():
        print(f"{'synthetic, ' + name:<28} {summary([profile(img, mod.segment_lungs(img)) for img, _ in chests])}")
    for cls in ("NORMAL", "PNEUMONIA"):
        files = sorted((args.data / cls).iterdir())
        order = np.random.default_rng(args.seed).permutation(len(files))[:args.n]
        images = [resize(read_image(files[i]), args.size) for i in order]
        for name, mod in versions.items():
            profiles = []
            for img in images:
                mask = mod.segment_lungs(img)
                if mod.check_lung_mask(mask)[0]:
                    profiles.append(profile(img, mask))
            print(f"{cls + ', ' + name + f' ({len(profiles)})':<28} {summary(profiles)}")


if __name__ == "__main__":
    main()
