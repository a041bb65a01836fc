"""Is the lung mask stable under perturbations a user cannot see? Real films, no reference needed.

Usage::

    python benchmarks/seg_stability.py [--data /work/shared/data/chest_xray_224_train]
                                       [--n 300] [--seed 0] [--ref REV]

A segmentation that chains hard decisions (which threshold wins, whether a lung is
mirrored, whether a retry runs) can flip between two different masks when the
film changes imperceptibly. For ``--n`` films per class (seeded order, as stored),
each film is segmented as it is and after each of these perturbations:

- ``noise``: Gaussian noise of standard deviation 0.002 (half a grey level of 8 bits),
  seeded per film;
- ``jpeg 95``: re-encoded as JPEG at quality 95 (a user re-saving the file);
- ``shift 1 px``: the film shifted one pixel right (edge replicated);
- ``scale 1.01`` / ``rotate 1 deg``: enlarged by 1 % / rotated by one degree about
  the centre (bilinear, edge replicated); the second mask is mapped back by the
  inverse transform and the 4-pixel rim left out of the Dice.

Prints, per class, perturbation and version: the mean Dice between the two masks,
how many films' masks changed substantially (Dice below 0.95 and 0.9), the
minimum, and how many films changed their plausibility verdict
(:func:`xrayfeat.segment.check_lung_mask`). ``--ref REV`` adds
``xrayfeat/segment.py`` at git revision REV, as in ``compare_segment.py``. No
change here measures accuracy; a flip means at least one of the two masks is a
guess on a knife edge.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from seg_consolidation import dice, reference_segmentation  # noqa: E402

from xrayfeat import segment as current  # noqa: E402
from xrayfeat.io import read_image  # noqa: E402


Mapped = tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]


def _same_frame(img: np.ndarray) -> Mapped:
    return img, lambda mask: mask


def _noise(img: np.ndarray, rng: np.random.Generator) -> Mapped:
    return _same_frame(np.clip(img + rng.normal(0.0, 0.002, img.shape), 0, 1).astype(np.float32))


def resaved_as_jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """The film (float in [0, 1]) as a user re-saving it as a JPEG of ``quality`` gets it back."""
    import cv2

    ok, data = cv2.imencode(".jpg", np.round(img * 255).astype(np.uint8),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE).astype(np.float32) / np.float32(255)


def shifted_right(img: np.ndarray) -> np.ndarray:
    """The image moved one pixel right, its first column repeated."""
    return np.concatenate([img[:, :1], img[:, :-1]], axis=1)


def _jpeg(img: np.ndarray, rng: np.random.Generator) -> Mapped:
    return _same_frame(resaved_as_jpeg(img, 95))


def _shift(img: np.ndarray, rng: np.random.Generator) -> Mapped:
    return shifted_right(img), lambda mask: np.concatenate([mask[:, 1:], mask[:, -1:]], axis=1)


def _warped(angle: float, scale: float) -> Callable[[np.ndarray, np.random.Generator], Mapped]:
    def perturb(img: np.ndarray, rng: np.random.Generator) -> Mapped:
        import cv2

        rows, cols = img.shape
        warp = cv2.getRotationMatrix2D((cols / 2, rows / 2), angle, scale)
        back = cv2.invertAffineTransform(warp)
        altered = cv2.warpAffine(img, warp, (cols, rows), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
        return altered, lambda mask: cv2.warpAffine(mask.view(np.uint8) * np.uint8(255), back,
                                                     (cols, rows), flags=cv2.INTER_LINEAR) > 127
    return perturb


PERTURBATIONS = {"noise": _noise, "jpeg 95": _jpeg, "shift 1 px": _shift,
                 "scale 1.01": _warped(0.0, 1.01), "rotate 1 deg": _warped(1.0, 1.0)}
# Films pass through a warp's edge replication: the rim is left out of the Dice.
_RIM = {"scale 1.01": 4, "rotate 1 deg": 4}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/chest_xray_224_train", type=Path)
    ap.add_argument("--n", type=int, default=300, help="films per class")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ref", default=None, metavar="REV")
    args = ap.parse_args(argv)

    import cv2

    cv2.setNumThreads(1)
    versions: dict[str, Any] = {"current": current}
    if args.ref is not None:
        versions[args.ref] = reference_segmentation(args.ref)
    print(f"{args.n} films per class from {args.data} (seed {args.seed}), as stored; Dice between the "
          "masks before and after each perturbation; 'verdict' counts films whose plausibility changed")
    print(f"{'class, perturbation':<24} {'version':<10} {'mean':>6} {'<0.95':>6} {'<0.9':>5} "
          f"{'min':>6} {'verdict':>7}")
    for cls in ("NORMAL", "PNEUMONIA"):
        files = sorted((args.data / cls).iterdir())
        order = np.random.default_rng(args.seed).permutation(len(files))[:args.n]
        images = [read_image(files[i]) for i in order]
        for name, perturb in PERTURBATIONS.items():
            # The same perturbed films for every version: one stream per perturbation.
            rng = np.random.default_rng(args.seed)
            altered = [perturb(img, rng) for img in images]
            rim = _RIM.get(name, 0)
            inner = (slice(rim, -rim or None), slice(rim, -rim or None))
            for version, mod in versions.items():
                scores, verdicts = [], 0
                for img, (alt, back) in zip(images, altered):
                    a, b = mod.segment_lungs(img), mod.segment_lungs(alt)
                    scores.append(dice(a[inner], back(b)[inner]))
                    verdicts += mod.check_lung_mask(a)[0] != mod.check_lung_mask(b)[0]
                s = np.array(scores)
                print(f"{cls + ', ' + name:<24} {version:<10} {s.mean():>6.3f} {(s < 0.95).sum():>6} "
                      f"{(s < 0.9).sum():>5} {s.min():>6.3f} {verdicts:>7}")


if __name__ == "__main__":
    main()
