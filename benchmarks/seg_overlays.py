"""Save overlay grids (image + lung-mask contour + crop box) to eyeball segmentation.

Usage::

    python benchmarks/seg_overlays.py [--data /work/shared/data] [--out /tmp] [--n 25] [--seed 0]

Writes ``seg_224_NORMAL.png``, ``seg_224_PNEUMONIA.png`` (random training images)
and ``seg_fullres.png`` (the full-resolution originals) under ``--out``. Titles
show the file name and, for fallbacks, the reason.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xrayfeat.io import read_image  # noqa: E402
from xrayfeat.plots import plot_lung_crops  # noqa: E402
from xrayfeat.segment import crop_to_lungs, segment_lungs  # noqa: E402


def grid(paths: list[Path], out: Path, target_size: int | None = None) -> str:
    images, masks, boxes, titles = [], [], [], []
    for p in paths:
        img = read_image(p, target_size=target_size)
        mask = segment_lungs(img)
        crop = crop_to_lungs(img, mask)
        images.append(img)
        masks.append(mask)
        boxes.append(crop.box)
        titles.append(p.name[:28] + ("" if not crop.fallback else "\nFALLBACK " + crop.reason[:40]))
    return plot_lung_crops(images, masks, boxes, out, titles=titles)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--out", default="/tmp")
    ap.add_argument("--n", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--files", nargs="*", help="explicit files instead of a random sample")
    args = ap.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    rng = random.Random(args.seed)
    if args.files:
        print(grid([Path(f) for f in args.files], out / "seg_files.png"))
        return
    for cls in ("NORMAL", "PNEUMONIA"):
        files = sorted((data / "chest_xray_224_train" / cls).glob("*.jpeg"))
        if files:
            sample = rng.sample(files, min(args.n, len(files)))
            print(grid(sample, out / f"seg_224_{cls}_s{args.seed}.png"))
    full = sorted((data / "chest_xray_fullres_sample").glob("*/*.jpeg"))
    if full:
        print(grid(full, out / "seg_fullres.png"))


if __name__ == "__main__":
    main()
