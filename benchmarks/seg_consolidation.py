"""Robustness of lung segmentation to consolidation, measured on real films.

Usage::

    python benchmarks/seg_consolidation.py [--data /work/shared/data/chest_xray_224_train]
                                           [--n 150] [--seed 0] [--sheet consolidation.png]
                                           [--reference-from REV]

There are no expert lung masks here, so the reference is the segmentation itself
on films where it is easy: NORMAL training films whose mask scores comfortably
plausible (:func:`xrayfeat.segment.lung_mask_score` >= 0.1) and has two lungs.
Each film is then given a synthetic consolidation (seeded, recorded per film):
one lung, or a zone of it (lower, upper, or the whole lung: a white-out), is
blended towards the film's own mediastinum brightness with a smooth edge and
opacity 0.5 or 0.8, so the lung there looks like soft tissue with the ribs
faintly through it. The altered film is segmented again and compared with the
reference mask of the unaltered film.

Prints, per kind of consolidation: the mean, median and minimum Dice of the
whole mask, the mean Dice of the consolidated lung alone and of the other
(unaltered) lung alone, how often the crop fell back, and the mean fraction of the reference crop box the new box still
covers (below 1 the lung crop cuts off lung). ``--sheet`` writes the worst
cases as a contact sheet (needs matplotlib).

By default the reference films and masks come from the code under test, so a
change to the segmentation also changes what it is judged against. To compare two
versions fairly, ``--reference-from REV`` takes them from ``xrayfeat/segment.py``
at git revision REV (e.g. ``main``), imported beside the working copy's as in
``compare_segment.py``; both versions then meet the same films, the same
consolidations and the same reference masks.

This measures one thing honestly: whether a lung stays segmented when part of it
turns as bright as soft tissue. It does not stand in for Dice against expert
masks on real consolidations or on adult films.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xrayfeat.io import read_image  # noqa: E402
from xrayfeat.preprocess import resize  # noqa: E402
from xrayfeat.segment import crop_box, crop_to_lungs, segment_lungs  # noqa: E402
from xrayfeat import segment as current  # noqa: E402

SIZE = 256
ZONES = ("lower", "upper", "whole")
OPACITIES = (0.5, 0.8)


def comfortable_normals(data: Path, seed: int, size: int, segmentation: Any = current
                        ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, film, mask)`` of NORMAL films, in seeded order, resized to ``size`` px,
    whose mask (by ``segmentation``, a module like :mod:`xrayfeat.segment`) scores
    comfortably plausible (``lung_mask_score >= 0.1``): the films a benchmark can use
    the algorithm's own mask on as its reference."""
    files = sorted((data / "NORMAL").iterdir())
    for i in np.random.default_rng(seed).permutation(len(files)):
        img = resize(read_image(files[i]), size)
        mask = segmentation.segment_lungs(img)
        if segmentation.lung_mask_score(mask) >= 0.1:
            yield files[i].name, img, mask


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def _lungs(mask: np.ndarray) -> dict[int, np.ndarray] | None:
    """The reference mask's left (-1) and right (+1) lung, by image half."""
    half = mask.shape[1] // 2
    left, right = mask.copy(), mask.copy()
    left[:, half:] = False
    right[:, :half] = False
    if not left.any() or not right.any():
        return None
    return {-1: left, 1: right}


def _zone(lung: np.ndarray, zone: str) -> np.ndarray:
    rows = np.flatnonzero(lung.any(axis=1))
    top, bottom = rows[0], rows[-1] + 1
    cut = top + int(round(0.55 * (bottom - top)))
    region = np.zeros_like(lung)
    if zone == "lower":
        region[top + int(round(0.45 * (bottom - top))):] = True
    elif zone == "upper":
        region[:cut] = True
    else:
        region[:] = True
    return lung & region


def _blur(mask: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)


def consolidate(img: np.ndarray, region: np.ndarray, opacity: float,
                rng: np.random.Generator) -> np.ndarray:
    """Blend ``region`` of ``img`` towards the mediastinum's brightness, smoothly."""
    rows, cols = img.shape
    mid = img[int(0.3 * rows):int(0.7 * rows), int(0.45 * cols):int(0.55 * cols)]
    level = float(np.median(mid))
    weight = opacity * np.clip(_blur(region, 0.015 * rows) * 1.6, 0, 1)
    # Consolidation is not uniform: a smooth random field gives it patches.
    texture = _blur(rng.random(img.shape) < 0.5, 0.02 * rows)
    texture = (texture - texture.mean()) * 0.6
    out = img * (1 - weight) + (level + texture * 0.1) * weight
    return np.clip(out, 0, 1).astype(np.float32)


def reference_arguments(description: str) -> argparse.ArgumentParser:
    """The options every benchmark built on :func:`comfortable_normals` takes."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", default="/work/shared/data/chest_xray_224_train", type=Path)
    ap.add_argument("--n", type=int, default=150, help="reference NORMAL films to use")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sheet", type=Path, default=None, help="write the worst cases here (PNG)")
    ap.add_argument("--reference-from", default=None, metavar="REV",
                    help="take the reference films and masks from segment.py at git revision "
                         "REV (default: the code under test)")
    return ap


def reference_segmentation(rev: str | None) -> Any:
    """The segmentation module whose masks are the reference: ``segment.py`` at git
    revision ``rev`` (imported beside the working copy's), or the code under test."""
    if rev is None:
        return current
    from compare_segment import _reference

    return _reference(rev)


def main(argv: list[str] | None = None) -> None:
    args = reference_arguments(__doc__.splitlines()[0]).parse_args(argv)
    reference = reference_segmentation(args.reference_from)

    print(f"seed {args.seed}; films from {args.data / 'NORMAL'} in seeded order; {SIZE} px; "
          f"reference masks from {args.reference_from or 'the code under test'}")

    start = time.perf_counter()
    refs = []
    for name, img, mask in comfortable_normals(args.data, args.seed, SIZE, reference):
        lungs = _lungs(mask)
        if lungs is not None:
            refs.append((name, img, mask, lungs))
        if len(refs) == args.n:
            break
    # The consolidations' textures: their own stream, after the (seeded) film order.
    rng = np.random.default_rng(args.seed + 1)
    print(f"{len(refs)} reference films (score >= 0.1, two lungs)")

    rows = {(z, o): [] for z in ZONES for o in OPACITIES}
    worst = []
    for k, (name, img, mask, lungs) in enumerate(refs):
        ref_box = crop_box(mask)
        ref_area = (ref_box[1] - ref_box[0]) * (ref_box[3] - ref_box[2])
        for zone in ZONES:
            for opacity in OPACITIES:
                side = (-1, 1)[(k + ZONES.index(zone)) % 2]
                region = _zone(lungs[side], zone)
                altered = consolidate(img, region, opacity, rng)
                new = segment_lungs(altered)
                crop = crop_to_lungs(altered, new)
                r0, r1, c0, c1 = crop.box
                inter = (max(0, min(r1, ref_box[1]) - max(r0, ref_box[0]))
                         * max(0, min(c1, ref_box[3]) - max(c0, ref_box[2])))
                d = dice(new, mask)
                # A consolidation should change its own lung only; a change on the
                # other side means the film's new look moved the whole segmentation
                # (thresholds, retries) rather than hid a lung.
                half = SIZE // 2
                side_new, other_new = new.copy(), new.copy()
                if side == 1:
                    side_new[:, :half] = other_new[:, half:] = False
                else:
                    side_new[:, half:] = other_new[:, :half] = False
                rows[zone, opacity].append((d, dice(side_new, lungs[side]),
                                            dice(other_new, lungs[-side]), crop.fallback,
                                            inter / ref_area))
                worst.append((d, name, zone, opacity, side, altered, new, mask))

    print(f"\n{'consolidation':<22} {'Dice mean':>9} {'median':>7} {'min':>6} "
          f"{'lung Dice':>9} {'other':>6} {'fallback':>8} {'box kept':>8}")
    for (zone, opacity), vals in rows.items():
        a = np.array(vals, dtype=float)
        print(f"{zone + f', opacity {opacity}':<22} {a[:, 0].mean():>9.3f} "
              f"{np.median(a[:, 0]):>7.3f} {a[:, 0].min():>6.3f} {a[:, 1].mean():>9.3f} "
              f"{a[:, 2].mean():>6.3f} {a[:, 3].mean():>8.1%} {a[:, 4].mean():>8.3f}")
    every = np.array([v for vals in rows.values() for v in vals], dtype=float)
    print(f"{'all':<22} {every[:, 0].mean():>9.3f} {np.median(every[:, 0]):>7.3f} "
          f"{every[:, 0].min():>6.3f} {every[:, 1].mean():>9.3f} {every[:, 2].mean():>6.3f} "
          f"{every[:, 3].mean():>8.1%} {every[:, 4].mean():>8.3f}")
    print(f"\n{len(every)} segmentations in {time.perf_counter() - start:.1f} s")

    if args.sheet is not None:
        worst.sort(key=lambda w: w[0])
        contact_sheet([(img, ref, new, f"{name[:22]}\n{zone} {'RL'[side > 0]} {opacity}: Dice {d:.2f}")
                       for d, name, zone, opacity, side, img, new, ref in worst[:20]], args.sheet)
        print(f"worst 20 written to {args.sheet}")


def contact_sheet(cases: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]], out: Path,
                  cols: int = 5) -> None:
    """Draw ``(image, reference mask, new mask, title)`` cases: reference yellow, new red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = (len(cases) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (img, ref, new, title) in zip(axes.ravel(), cases):
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        ax.contour(ref, levels=[0.5], colors="yellow", linewidths=0.7)
        ax.contour(new, levels=[0.5], colors="red", linewidths=0.7)
        ax.set_title(title, fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
