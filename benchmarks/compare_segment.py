"""Compare lung segmentation with another git revision: interleaved speed, and masks.

Usage::

    python benchmarks/compare_segment.py [--ref main] [--n-timing 300] [--passes 5] [--size 256]
                                         [--data /work/shared/data/chest_xray_224_train]
                                         [--limit N] [--skip-timing] [--skip-masks]

The reference ``xrayfeat/segment.py`` is read with ``git show REF:xrayfeat/segment.py``
and imported beside the working copy's, so both run in one process. Prints

- timing of ``segment_lungs`` alone and followed by ``crop_to_lungs`` on
  ``--n-timing`` training images resized to ``--size`` (256) px, single thread
  (``cv2.setNumThreads(1)``). Each pass visits every image once and runs the two
  versions back to back, in alternating order, so both meet the same machine
  load; on a shared machine that is the only fair comparison. Per version: the
  median over images of the thread CPU time (``time.thread_time``; of the
  segmentation alone and with the crop) and of the wall time (with the crop) in
  the first pass (one pass per image, as in ``bench_segment.py``), the median
  over passes of those medians, and the median of each image's best over passes;
  then the new/reference ratios of the per-pass median CPU times, without and
  with the crop. (The reference imports the working copy's other modules, e.g.
  parameter validation, so only ``segment.py`` differs between the two.)
- over the training split at 224 px (as stored): the Dice between the two
  versions' masks (mean, min, share identical) and each version's fallback rate
  per class (``crop_to_lungs``).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xrayfeat import segment as current  # noqa: E402
from xrayfeat.io import read_image  # noqa: E402
from xrayfeat.preprocess import resize  # noqa: E402


def _reference(ref: str) -> ModuleType:
    """``xrayfeat/segment.py`` at git revision ``ref``, imported as ``xrayfeat._segment_ref``."""
    source = subprocess.run(["git", "show", f"{ref}:xrayfeat/segment.py"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "segment_ref.py"
    path.write_text(source)
    # A name inside the package, so the module's relative imports resolve.
    spec = importlib.util.spec_from_file_location("xrayfeat._segment_ref", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def timing(versions: dict[str, ModuleType], files: list[Path], passes: int, size: int) -> None:
    images = [resize(read_image(f), size) for f in files]
    for mod in versions.values():  # imports, first-call setup
        mod.crop_to_lungs(images[0], mod.segment_lungs(images[0]))
    shape = (passes, len(images))
    # CPU and wall time of segment_lungs, and CPU time of the crop that follows it.
    seg_cpu, wall, crop_cpu = ({k: np.zeros(shape) for k in versions} for _ in range(3))
    names = list(versions)
    for p in range(passes):
        for i, img in enumerate(images):
            for k in (names if (i + p) % 2 == 0 else names[::-1]):
                mod = versions[k]
                c0, t0 = time.thread_time(), time.perf_counter()
                mask = mod.segment_lungs(img)
                c1, t1 = time.thread_time(), time.perf_counter()
                mod.crop_to_lungs(img, mask)
                c2, t2 = time.thread_time(), time.perf_counter()
                seg_cpu[k][p, i], crop_cpu[k][p, i] = (c1 - c0) * 1e3, (c2 - c1) * 1e3
                wall[k][p, i] = (t2 - t0) * 1e3
    print(f"segment_lungs (+ crop_to_lungs) at {size} px, {len(images)} images, 1 thread, "
          f"{passes} interleaved passes (ms per image):")
    both_cpu = {k: seg_cpu[k] + crop_cpu[k] for k in names}
    for label, times in (("segment_lungs alone, CPU", seg_cpu),
                         ("segment_lungs + crop_to_lungs, CPU", both_cpu),
                         ("segment_lungs + crop_to_lungs, wall", wall)):
        print(f"  {label}:")
        for k in names:
            a = times[k]
            print(f"    {k:<9} one pass median {np.median(a[0]):.2f} (mean {a[0].mean():.2f}, "
                  f"p90 {np.percentile(a[0], 90):.2f}); median of pass medians "
                  f"{np.median(np.median(a, axis=1)):.2f}; best of {passes} median "
                  f"{np.median(a.min(axis=0)):.2f}")
    for label, times in (("segment_lungs alone", seg_cpu), ("with crop_to_lungs", both_cpu)):
        ratio = np.median(times[names[1]], axis=1) / np.median(times[names[0]], axis=1)
        print(f"  {names[1]} / {names[0]}, per-pass median CPU, {label}: "
              + ", ".join(f"{r:.3f}" for r in ratio))


def masks(versions: dict[str, ModuleType], root: Path, limit: int | None) -> None:
    (ref_name, ref), (new_name, new) = versions.items()
    dice_all = []
    for cls in ("NORMAL", "PNEUMONIA"):
        files = sorted((root / cls).glob("*.jpeg"))[:limit]
        fallback = {ref_name: 0, new_name: 0}
        dice = []
        for f in files:
            img = read_image(f)
            a, b = ref.segment_lungs(img), new.segment_lungs(img)
            den = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
            dice.append(1.0 if den == 0 else 2 * int(np.count_nonzero(a & b)) / den)
            fallback[ref_name] += ref.crop_to_lungs(img, a).fallback
            fallback[new_name] += new.crop_to_lungs(img, b).fallback
        d = np.array(dice)
        dice_all.append(d)
        print(f"{cls:<9} {len(files)} images: Dice {ref_name} vs {new_name} mean {d.mean():.4f}, "
              f"min {d.min():.4f}, identical {np.mean(d == 1):.1%}; fallback "
              + ", ".join(f"{k} {v} ({v / max(len(files), 1):.1%})" for k, v in fallback.items()))
    d = np.concatenate(dice_all)
    print(f"all       {d.size} images: Dice mean {d.mean():.4f}, min {d.min():.4f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default="main", help="git revision to compare against")
    ap.add_argument("--data", default="/work/shared/data/chest_xray_224_train", type=Path)
    ap.add_argument("--n-timing", type=int, default=300)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--size", type=int, default=256, help="side the timed images are resized to")
    ap.add_argument("--limit", type=int, default=None, help="max images per class (masks)")
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--skip-masks", action="store_true")
    args = ap.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    versions = {args.ref: _reference(args.ref), "current": current}
    files = sorted(args.data.glob("*/*.jpeg"))
    if not files:
        sys.exit(f"no images under {args.data}")
    if not args.skip_timing:
        rng = np.random.default_rng(0)
        sample = [files[i] for i in rng.choice(len(files), min(args.n_timing, len(files)),
                                               replace=False)]
        timing(versions, sample, args.passes, args.size)
    if not args.skip_masks:
        masks(versions, args.data, args.limit)


if __name__ == "__main__":
    main()
