"""How much reduced-resolution JPEG decoding saves: ``python benchmarks/bench_read.py``.

Upscales real full-resolution originals (or, without them, a synthetic image) to a
2,000 px short side, writes them as JPEG, then times ``read_image(path)`` (full
decode) against ``read_image(path, target_size=224)`` (libjpeg 1/8 decode), one
thread, best of several repeats. Prints ms per image and the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from xrayfeat.io import read_image

FULLRES = Path(__file__).resolve().parents[2] / "shared" / "data" / "chest_xray_fullres_sample"


def _make_inputs(folder: Path, short_side: int) -> list[Path]:
    sources = sorted(FULLRES.glob("*/*.jpeg"))[:10]
    images = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sources]
    if not images:
        rng = np.random.default_rng(0)
        images = [cv2.GaussianBlur(rng.integers(0, 255, (600, 700), dtype=np.uint8), (0, 0), 5)]
    out = []
    for i, img in enumerate(images):
        scale = short_side / min(img.shape)
        big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        path = folder / f"img{i}.jpeg"
        cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 95])
        out.append(path)
    return out


def _best_ms(paths: list[Path], repeats: int, **kwargs) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for p in paths:
            read_image(p, **kwargs)
        best = min(best, (time.perf_counter() - t0) / len(paths) * 1e3)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-side", type=int, default=2000)
    parser.add_argument("--target", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        upscaled = _make_inputs(Path(tmp), args.short_side)
        sets = {f"upscaled to {args.short_side} px (q95)": upscaled}
        if FULLRES.is_dir():
            sets["real Kaggle originals, as they are"] = sorted(FULLRES.glob("*/*.jpeg"))
        print(f"target {args.target} px, 1 thread, best of {args.repeats}")
        for name, paths in sets.items():
            full = _best_ms(paths, args.repeats)
            reduced = _best_ms(paths, args.repeats, target_size=args.target)
            print(f"{name}: {len(paths)} JPEGs, e.g. {read_image(paths[0]).shape} -> "
                  f"{read_image(paths[0], target_size=args.target).shape}")
            print(f"  full decode     {full:7.2f} ms/image  ({1e3 / full:6.1f} images/s)")
            print(f"  reduced decode  {reduced:7.2f} ms/image  ({1e3 / reduced:6.1f} images/s)")
            print(f"  speed-up        {full / reduced:7.2f}x")


if __name__ == "__main__":
    main()
