"""Dice of ``segment_lungs`` against expert lung masks: JSRT / SCR, Montgomery, Shenzhen, your own.

Usage::

    python benchmarks/seg_dice.py --images DIR --masks DIR [--masks DIR ...]
                                  [--mask-suffix _mask] [--raw 2048x2048:>u2]
                                  [--size 256] [--limit N] [--sheet worst.png] [--ref REV]
    python benchmarks/seg_dice.py --synthetic 30 [--adult] [--ref REV]

There are no expert-masked films in this repository, so this script is for whoever
has them. Each image in ``--images`` (JPEG, PNG, BMP, TIFF, DICOM, or headerless
raw with ``--raw``) is paired, by file stem, with one mask per ``--masks``
directory (any format OpenCV reads; non-zero is lung); several directories are
united, for sets that keep each lung in its own file. ``--mask-suffix`` is
removed from mask stems before pairing. Image and mask are resized to ``--size``
(256, as in the issue's measurement; the mask with nearest-neighbour, so it stays
binary), the image is segmented, and the Dice of the two masks is printed per
image, then the mean, median, minimum, the fallback count
(:func:`xrayfeat.segment.crop_to_lungs`), the wall time and images/second. With
``--ref REV`` the masks of ``xrayfeat/segment.py`` at git revision ``REV`` are
scored on the same pairs beside them (imported as in ``compare_segment.py``).
Images without a mask and masks without an image are counted and listed, never
silently dropped.

``--synthetic N`` scores instead the synthetic chests of ``tests/_synthetic.py``
(seeds 0 to N-1, ``--size`` px), whose lungs are known exactly: clean, and with
the image-left lung's lower or upper zone or the whole lung consolidated as in
``seg_consolidation.py`` (blended towards the mediastinum's brightness with a
smooth edge and a seeded texture, opacity 0.5 or 0.8): a consolidation with a
true outline to score against.
The synthetic lungs have sharp edges, so this measures where the outline sits
on an edge, not robustness to real anatomy. ``--adult`` uses adult PA geometry
instead (``synthetic_adult_cxr``: large lungs under clavicles, a trunk filling
the width, a large heart cutting into the image-right lung, diaphragm domes,
breast shadows on odd seeds, slightly blurred edges), the proportions of the
JSRT films the segmentation has not been tuned on, and also scores the clean
adult chests framed tight (no outside air), rotated by 8 degrees either way, at
low contrast, under gamma 0.5 and 2, an exposure gradient and heavy noise.

Layouts it reads as they come:

- JSRT + SCR: ``--images All247images --raw 2048x2048:>u2 --masks "scr/masks/left lung"
  --masks "scr/masks/right lung"`` (JSRT's ``.IMG`` files are headerless 12-bit
  big-endian; their polarity is found by ``segment_lungs`` itself, invert="auto").
  SCR's lung fields leave out the heart and what lies behind it and below the
  diaphragm, as ``segment_lungs`` does.
- Montgomery: ``--images CXR_png --masks ManualMask/leftMask --masks ManualMask/rightMask``.
- Shenzhen: ``--images CXR_png --masks mask --mask-suffix _mask``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from seg_consolidation import (  # noqa: E402
    OPACITIES, ZONES, _lungs, _zone, consolidate, contact_sheet, dice, reference_segmentation,
)

from xrayfeat import segment as current  # noqa: E402
from xrayfeat.io import is_image_name, read_image  # noqa: E402
from xrayfeat.preprocess import resize  # noqa: E402


def parse_raw(spec: str) -> tuple[tuple[int, int], np.dtype]:
    """``"2048x2048:>u2"`` -> ((rows, cols), dtype)."""
    try:
        shape, dtype = spec.split(":")
        cols, rows = (int(v) for v in shape.lower().split("x"))
        return (rows, cols), np.dtype(dtype)
    except (ValueError, TypeError) as err:
        raise SystemExit(f"--raw {spec!r}: expected WIDTHxHEIGHT:DTYPE, e.g. 2048x2048:>u2 ({err})")


def read_raw(path: Path, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """A headerless raw image, min-max scaled to [0, 1] float32."""
    data = np.fromfile(path, dtype=dtype)
    if data.size != shape[0] * shape[1]:
        raise SystemExit(f"{path}: {data.size} values, not {shape[0]} x {shape[1]} (see --raw)")
    img = data.reshape(shape).astype(np.float32)
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / max(hi - lo, 1e-6)


def read_mask(path: Path) -> np.ndarray:
    import cv2

    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise SystemExit(f"{path}: OpenCV cannot read this mask")
    return mask > 0


def pairs(images: Path, mask_dirs: list[Path], suffix: str, raw: bool
          ) -> tuple[list[tuple[Path, list[Path]]], list[Path], list[Path]]:
    """``(image, its masks)`` by stem, images without every mask, masks without an image."""
    found = sorted(p for p in images.iterdir()
                   if p.is_file() and (raw or is_image_name(p)))
    by_dir = []
    for d in mask_dirs:
        stems = {}
        for p in sorted(d.iterdir()):
            if p.is_file():
                stem = p.stem[:-len(suffix)] if suffix and p.stem.endswith(suffix) else p.stem
                stems[stem] = p
        by_dir.append(stems)
    matched, unmatched = [], []
    for img in found:
        masks = [stems.get(img.stem) for stems in by_dir]
        if all(masks):
            matched.append((img, masks))
        else:
            unmatched.append(img)
    image_stems = {p.stem for p in found}
    orphans = [p for stems in by_dir for s, p in stems.items() if s not in image_stems]
    return matched, unmatched, orphans


def synthetic(versions: dict[str, Any], n: int, size: int, adult: bool = False) -> None:
    """``--synthetic``: Dice against the known lungs of synthetic chests, clean and consolidated."""
    from _synthetic import synthetic_adult_cxr, synthetic_cxr

    kind = "adult chests (synthetic_adult_cxr, odd seeds with breast shadows)" if adult else "chests"
    print(f"{n} synthetic {kind} (tests/_synthetic.py, seeds 0-{n - 1}) at {size} px; the image-left lung "
          "consolidated as in seg_consolidation.py (texture seeded by the chest's seed); Dice against the "
          "true lungs (mean, min) and fallbacks")
    print(f"{'consolidation':<22}" + "".join(f"{k:>26}" for k in versions))
    chests = [synthetic_adult_cxr(size, seed=seed, breasts=seed % 2 == 1) if adult
              else synthetic_cxr(size, seed=seed) for seed in range(n)]
    for zone, opacity in [("none", 0.0), *((z, o) for z in ZONES for o in OPACITIES)]:
        cases = [(consolidate(img, _zone(_lungs(lungs)[-1], zone), opacity, np.random.default_rng(seed)), lungs)
                 if opacity else (img, lungs) for seed, (img, lungs) in enumerate(chests)]
        _print_row(zone + (f", opacity {opacity}" if opacity else ""), cases, versions)
    if adult:
        print("clean adult chests, altered")
        for name, alter in _ADULT_VARIANTS.items():
            _print_row(name, [alter(img, lungs, np.random.default_rng(seed))
                              for seed, (img, lungs) in enumerate(chests)], versions)


def _print_row(label: str, cases: list[tuple[np.ndarray, np.ndarray]], versions: dict[str, Any]) -> None:
    """One table row: per version, mean and min Dice of its masks against the true lungs
    of ``cases`` ``(image, lungs)``, and how many masks fall back (fail check_lung_mask)."""
    cells = []
    for mod in versions.values():
        masks = [mod.segment_lungs(img) for img, _ in cases]
        scores = [dice(mask, lungs) for mask, (_, lungs) in zip(masks, cases)]
        fallbacks = sum(not mod.check_lung_mask(mask)[0] for mask in masks)
        cells.append(f"{np.mean(scores):.3f} (min {np.min(scores):.3f}) {fallbacks:>2}/{len(cases)}")
    print(f"{label:<22}" + "".join(f"{c:>26}" for c in cells))


def _cropped(img: np.ndarray, lungs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """8 % cut from every side and resized back: no outside air left."""
    import cv2

    n, b = img.shape[0], int(0.08 * img.shape[0])
    return (cv2.resize(img[b:n - b, b:n - b], (n, n)),
            cv2.resize(lungs[b:n - b, b:n - b].view(np.uint8), (n, n),
                       interpolation=cv2.INTER_NEAREST).view(bool))


def _rotated(degrees: float) -> Any:
    def alter(img: np.ndarray, lungs: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        n = img.shape[0]
        rot = cv2.getRotationMatrix2D((n / 2, n / 2), degrees, 1.0)
        return (cv2.warpAffine(img, rot, (n, n), borderMode=cv2.BORDER_REPLICATE),
                cv2.warpAffine(lungs.view(np.uint8), rot, (n, n), flags=cv2.INTER_NEAREST).view(bool))
    return alter


def _grey(fn: Any) -> Any:
    return lambda img, lungs, rng: (np.clip(fn(img, rng), 0, 1).astype(np.float32), lungs)


# The alterations an adult film may bring that the paediatric training films rarely do.
_ADULT_VARIANTS = {
    "framed tight (no air)": _cropped,
    "rotated -8 degrees": _rotated(-8),
    "rotated +8 degrees": _rotated(8),
    "low contrast": _grey(lambda img, rng: 0.35 + 0.4 * img),
    "gamma 0.5": _grey(lambda img, rng: np.sqrt(img)),
    "gamma 2": _grey(lambda img, rng: img ** 2),
    "exposure gradient": _grey(lambda img, rng: img + 0.15 * np.linspace(-1, 1, img.shape[1])[None, :]),
    "noise 0.08": _grey(lambda img, rng: img + rng.normal(0, 0.08, img.shape)),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synthetic", type=int, default=None, metavar="N",
                    help="instead: N synthetic chests with known lungs, clean and consolidated")
    ap.add_argument("--adult", action="store_true",
                    help="with --synthetic: adult PA geometry (tests/_synthetic.py synthetic_adult_cxr)")
    ap.add_argument("--images", type=Path)
    ap.add_argument("--masks", type=Path, action="append",
                    help="a mask directory; repeat to unite (e.g. left and right lung)")
    ap.add_argument("--mask-suffix", default="", help="removed from mask stems before pairing")
    ap.add_argument("--raw", default=None, metavar="WxH:DTYPE", help="read images as headerless raw")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--sheet", type=Path, default=None, help="write the 10 worst cases here (PNG)")
    ap.add_argument("--ref", default=None, metavar="REV", help="also score segment.py at this revision")
    args = ap.parse_args(argv)
    if args.synthetic is None and (args.images is None or not args.masks):
        ap.error("--images and --masks are required (or --synthetic N)")
    raw = parse_raw(args.raw) if args.raw else None

    import cv2

    cv2.setNumThreads(1)
    versions: dict[str, Any] = {"current": current}
    if args.ref is not None:
        versions[args.ref] = reference_segmentation(args.ref)
    if args.synthetic is not None:
        synthetic(versions, args.synthetic, args.size, args.adult)
        return
    matched, unmatched, orphans = pairs(args.images, args.masks, args.mask_suffix, raw is not None)
    if args.limit is not None:
        matched = matched[:args.limit]
    print(f"{len(matched)} image/mask pairs at {args.size} px; {len(unmatched)} images without a "
          f"mask, {len(orphans)} masks without an image")
    for p in (unmatched + orphans)[:10]:
        print(f"  unpaired: {p}")
    if not matched:
        raise SystemExit("nothing to score")

    scores = {k: [] for k in versions}
    fallbacks = dict.fromkeys(versions, 0)
    seconds = dict.fromkeys(versions, 0.0)
    cases = []
    for path, mask_paths in matched:
        img = read_raw(path, *raw) if raw else read_image(path)
        expert = np.zeros(img.shape, bool)
        for m in mask_paths:
            expert |= cv2.resize(read_mask(m).view(np.uint8), (img.shape[1], img.shape[0]),
                                 interpolation=cv2.INTER_NEAREST).view(bool)
        img = resize(img, args.size)
        expert = cv2.resize(expert.view(np.uint8), (img.shape[1], img.shape[0]),
                            interpolation=cv2.INTER_NEAREST).view(bool)
        row = [path.name]
        for k, mod in versions.items():
            t0 = time.perf_counter()
            mask = mod.segment_lungs(img)
            seconds[k] += time.perf_counter() - t0
            d = dice(mask, expert)
            scores[k].append(d)
            fallbacks[k] += mod.crop_to_lungs(img, mask).fallback
            row.append(f"{k} {d:.3f}")
            if k == "current":
                cases.append((d, path.name, img, expert, mask))
        print("  " + "  ".join(row))

    print(f"\n{'version':<12} {'Dice mean':>9} {'median':>7} {'min':>6} {'fallback':>9} {'images/s':>9}")
    for k, vals in scores.items():
        a = np.array(vals)
        print(f"{k:<12} {a.mean():>9.3f} {np.median(a):>7.3f} {a.min():>6.3f} "
              f"{fallbacks[k]:>4}/{len(a):<4} {len(a) / seconds[k]:>9.0f}")
    if args.sheet is not None:
        cases.sort(key=lambda c: c[0])
        contact_sheet([(img, ref, new, f"{name[:28]}\nDice {d:.2f}")
                       for d, name, img, ref, new in cases[:10]], args.sheet)
        print(f"worst 10 written to {args.sheet} (yellow: expert mask; red: segment_lungs)")


if __name__ == "__main__":
    main()
