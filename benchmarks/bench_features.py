"""Benchmark feature extraction: fast paths vs scikit-image, cold/warm cache, full resolution.

Prints, for the default feature set (HOG + multi-scale LBP + intensity):

1. per-image time of every family, fast back end vs the straightforward
   reference (``skimage.feature.hog``, ``skimage.feature.local_binary_pattern``
   + ``np.histogram``, numpy statistics), on one core, computed in the same run;
   images/second and the speed-up;
2. end-to-end extraction of a folder (default: the 5,216 training images)
   with ``n_jobs`` workers into a fresh cache (cold), then again (warm), and
   the time spent hashing file bytes alone;
3. per-image end-to-end time on ~2,000 px JPEGs (real images upscaled, written
   to a temporary folder) vs the 224 px originals, one core;
4. peak memory (``ru_maxrss`` of this process and of its children).

Timings are best-of-``--repeat`` (the machine may be shared; say so when quoting).

Usage::

    python benchmarks/bench_features.py                       # everything
    python benchmarks/bench_features.py --n-images 1000 --skip-fullres
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xrayfeat.cache import content_digest  # noqa: E402
from xrayfeat._per_image import _Spec, compute_image_features  # noqa: E402
from xrayfeat.extract import FeatureExtractor  # noqa: E402
from xrayfeat.features import DEFAULT_FAMILIES, get_family  # noqa: E402
from xrayfeat.io import read_image  # noqa: E402

DATA = "/work/shared/data/chest_xray_224_train"


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_families(paths: list[str], repeat: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    images = [read_image(p, target_size=224) for p in paths]
    print(f"\n[1] feature families, {len(images)} images of {images[0].shape}, one core, "
          f"best of {repeat}")
    print(f"{'family':<11}{'fast ms':>9}{'ref ms':>9}{'speed-up':>10}")
    total_fast = total_ref = 0.0
    for name in DEFAULT_FAMILIES:
        fast = get_family(name)()
        ref = get_family(name)({"backend": "reference"})
        tf = _best(lambda: [fast.compute(im) for im in images], repeat) / len(images)
        tr = _best(lambda: [ref.compute(im) for im in images], repeat) / len(images)
        total_fast += tf
        total_ref += tr
        print(f"{name:<11}{tf * 1e3:9.3f}{tr * 1e3:9.3f}{tr / tf:9.1f}x")
    print(f"{'total':<11}{total_fast * 1e3:9.3f}{total_ref * 1e3:9.3f}{total_ref / total_fast:9.1f}x"
          f"   ({1 / total_fast:.0f} vs {1 / total_ref:.0f} images/s)")


def bench_extract(paths: list[str], n_jobs: int, repeat: int) -> float:
    print(f"\n[2] FeatureExtractor on {len(paths)} files, n_jobs={n_jobs}")
    tmp = tempfile.mkdtemp(prefix="xrayfeat-bench-")
    try:
        colds = []
        for _ in range(repeat):
            shutil.rmtree(tmp, ignore_errors=True)
            fx = FeatureExtractor(memory=tmp, n_jobs=n_jobs, progress=False).fit()
            t0 = time.perf_counter()
            X = fx.transform(paths)
            colds.append(time.perf_counter() - t0)
        cold = min(colds)
        warm = _best(lambda: fx.transform(paths), repeat)
        hashing = _best(lambda: [content_digest(p) for p in paths], repeat)
        nocache = _best(lambda: FeatureExtractor(n_jobs=n_jobs, progress=False).fit().transform(paths), 1)
        # CPU seconds of the same work in one process: a load-independent figure
        # (wall time on a shared machine depends on what else runs).
        cpu0 = time.process_time()
        FeatureExtractor(n_jobs=1, progress=False).fit().transform(paths)
        cpu = time.process_time() - cpu0
        db = sum(f.stat().st_size for f in Path(tmp).iterdir())
        print(f"cold (empty cache): {cold:7.2f} s  ({len(paths) / cold:.0f} images/s)")
        print(f"no cache:           {nocache:7.2f} s")
        print(f"CPU time, one process, no cache: {cpu:.2f} s = {cpu / len(paths) * 1e3:.2f} ms/image "
              f"-> {cpu / n_jobs:.1f} s on {n_jobs} idle cores")
        print(f"warm (all cached):  {warm:7.3f} s  = {100 * warm / cold:.1f} % of cold "
              f"(hashing file bytes alone: {hashing:.3f} s)")
        print(f"X: {X.shape} {X.dtype}, {X.nbytes / 2**20:.0f} MiB; cache file {db / 2**20:.0f} MiB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cold


def bench_fullres(paths: list[str], repeat: int, side: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    tmp = tempfile.mkdtemp(prefix="xrayfeat-fullres-")
    try:
        big = []
        for i, p in enumerate(paths):
            img = cv2.imread(p, cv2.IMREAD_GRAYSCALE)
            up = cv2.resize(img, (side, int(side * 1.2)), interpolation=cv2.INTER_CUBIC)
            q = os.path.join(tmp, f"big{i:03d}.jpeg")
            cv2.imwrite(q, up, [cv2.IMWRITE_JPEG_QUALITY, 95])
            big.append(q)
        spec = FeatureExtractor(progress=False).fit()._spec
        assert isinstance(spec, _Spec)

        def run(files):
            for f in files:
                compute_image_features(read_image(f, target_size=spec.image_size), spec)

        t_small = _best(lambda: run(paths), repeat) / len(paths)
        t_big = _best(lambda: run(big), repeat) / len(big)
        t_big_full = _best(lambda: [read_image(f) for f in big], repeat) / len(big)
        t_big_reduced = _best(lambda: [read_image(f, target_size=224) for f in big], repeat) / len(big)
        mb = sum(os.path.getsize(f) for f in big) / len(big) / 2**20
        print(f"\n[3] end to end per image, one core: 224 px {t_small * 1e3:.2f} ms; "
              f"{side} x {int(side * 1.2)} px JPEG ({mb:.1f} MB) {t_big * 1e3:.2f} ms "
              f"-> {t_big / t_small:.1f}x")
        print(f"    decoding the large JPEG: full {t_big_full * 1e3:.1f} ms, reduced "
              f"(target_size=224) {t_big_reduced * 1e3:.1f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DATA, help="folder with */*.jpeg images")
    ap.add_argument("--n-images", type=int, default=0, help="0 = all")
    ap.add_argument("--n-family", type=int, default=100, help="images for part 1")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fullres-side", type=int, default=2000)
    ap.add_argument("--skip-families", action="store_true")
    ap.add_argument("--skip-extract", action="store_true")
    ap.add_argument("--skip-fullres", action="store_true")
    args = ap.parse_args(argv)
    paths = sorted(glob.glob(os.path.join(args.data, "*", "*.jpeg")))
    if args.n_images:
        paths = paths[:args.n_images]
    if not paths:
        sys.exit(f"no images under {args.data}")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    if not args.skip_families:
        bench_families(paths[::max(1, len(paths) // args.n_family)][:args.n_family], args.repeat)
    if not args.skip_extract:
        bench_extract(paths, args.n_jobs, args.repeat)
    if not args.skip_fullres:
        bench_fullres(paths[::max(1, len(paths) // 20)][:20], args.repeat, args.fullres_side)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\n[4] peak memory (ru_maxrss): this process {own:.0f} MiB, largest child {kids:.0f} MiB")


if __name__ == "__main__":
    main()
