"""Figures. Matplotlib is an optional dependency, imported inside each function.

Install it with ``pip install 'xrayfeat[plot]'``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._validation import check_image, check_mask
from .exceptions import ConfigError

__all__ = ["plot_lung_crops", "plot_worst_masks"]


def _figure_class():
    try:
        # A bare Figure renders with the Agg canvas and never touches pyplot's global
        # backend or figure registry, so it works on headless servers and in threads.
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "xrayfeat plotting needs matplotlib; install it with: pip install 'xrayfeat[plot]'"
        ) from exc
    return Figure


def plot_lung_crops(
    images: Sequence[Any],
    masks: Sequence[Any],
    boxes: Sequence[tuple[int, int, int, int] | None],
    path: str | os.PathLike,
    *,
    ncols: int = 5,
    titles: Sequence[str] | None = None,
) -> str:
    """Save a grid of radiographs with their lung-mask contour and crop box.

    Parameters
    ----------
    images : sequence of array-like of shape (rows, cols)
        Grey images in [0, 1]; sizes may differ.
    masks : sequence of array-like of bool
        One mask per image, same shape as the image. Drawn as a red contour.
    boxes : sequence of (row0, row1, col0, col1) or None
        Crop boxes (e.g. :attr:`xrayfeat.segment.LungCrop.box`), drawn as a
        yellow rectangle; None draws no box.
    path : str or path-like
        Output file; the format follows the suffix (``.png``, ``.pdf``, ...).
    ncols : int, default=5
        Number of columns of the grid.
    titles : sequence of str, optional
        One title per image.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ConfigError
        If the sequences have different lengths or are empty, or a mask does not
        match its image.
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from xrayfeat.plots import plot_lung_crops
    >>> img = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    >>> mask = np.zeros((64, 64), bool); mask[20:40, 10:30] = True
    >>> out = plot_lung_crops([img], [mask], [(15, 45, 5, 35)],
    ...                       os.path.join(tempfile.mkdtemp(), "grid.png"))
    >>> os.path.exists(out)
    True
    """
    n = len(images)
    if n == 0:
        raise ConfigError("plot_lung_crops needs at least one image.")
    if len(masks) != n or len(boxes) != n or (titles is not None and len(titles) != n):
        raise ConfigError(
            f"plot_lung_crops needs as many masks, boxes and titles as images; got "
            f"{n} images, {len(masks)} masks, {len(boxes)} boxes"
            + ("" if titles is None else f", {len(titles)} titles") + "."
        )
    if not isinstance(ncols, int) or ncols < 1:
        raise ConfigError(f"ncols must be a positive int; got {ncols!r}.")
    figure_class = _figure_class()
    from matplotlib.patches import Rectangle

    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig = figure_class(figsize=(3 * ncols, 3 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= n:
            continue
        img = check_image(images[i], name=f"images[{i}]")
        m = check_mask(masks[i], img.shape, name=f"masks[{i}]")
        ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        if m.any() and not m.all():
            ax.contour(m.astype(np.float32), levels=[0.5], colors="red", linewidths=1.0)
        if boxes[i] is not None:
            r0, r1, c0, c1 = boxes[i]
            ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False,
                                   edgecolor="yellow", linewidth=1.0))
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=7)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=80)
    return os.fspath(path)


def plot_worst_masks(
    sources: Sequence[str | os.PathLike],
    path: str | os.PathLike,
    *,
    n: int = 25,
    ncols: int = 5,
    image_size: int | None = None,
) -> tuple[str, list[tuple[str, float, str]]]:
    """Contact sheet of the least plausible lung masks of a set of images, worst first.

    Each image is read, segmented (:func:`xrayfeat.segment.segment_lungs`) and
    scored (:func:`xrayfeat.segment.lung_mask_score`: the smallest margin to any
    plausibility bound, negative for a mask :func:`~xrayfeat.segment.crop_to_lungs`
    falls back on). The ``n`` lowest-scoring images are drawn with
    :func:`plot_lung_crops` (mask outline, crop box), titled with their file name,
    score and the failed bound. Only scores are kept while scanning, so memory
    does not grow with the number of images; the worst ones are read again.

    Parameters
    ----------
    sources : sequence of str or path-like
        Image files (anything :func:`xrayfeat.io.read_image` reads).
    path : str or path-like
        Output file; the format follows the suffix.
    n : int, default=25
        Number of images drawn (fewer if there are fewer sources).
    ncols : int, default=5
        Number of columns of the grid.
    image_size : int, optional
        If given, each image is read at reduced resolution and stretched to
        ``image_size`` x ``image_size`` (as the benchmark's pipelines do);
        otherwise it is segmented as stored.

    Returns
    -------
    path : str
        ``path``.
    ranking : list of (str, float, str)
        ``(source, score, reason)`` for every source, lowest score first.

    Raises
    ------
    ConfigError
        If ``sources`` is empty or ``n`` is not a positive int.
    ImportError
        If matplotlib is not installed.
    """
    from .io import read_image
    from .preprocess import resize_to
    from .segment import _plausibility, crop_to_lungs, segment_lungs

    if not sources:
        raise ConfigError("plot_worst_masks needs at least one image.")
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"n must be a positive int; got {n!r}.")

    def load(src: str | os.PathLike) -> np.ndarray:
        img = read_image(src, target_size=image_size)
        return img if image_size is None else resize_to(img, image_size, image_size)

    ranking = []
    for src in sources:
        score, reason = _plausibility(segment_lungs(load(src)))
        ranking.append((os.fspath(src), score, reason))
    ranking.sort(key=lambda r: r[1])
    images, masks, boxes, titles = [], [], [], []
    for src, score, reason in ranking[:n]:
        img = load(src)
        mask = segment_lungs(img)
        images.append(img)
        masks.append(mask)
        boxes.append(crop_to_lungs(img, mask).box)
        titles.append(f"{os.path.basename(src)[:30]}\nscore {score:+.2f} {reason[:34]}")
    return plot_lung_crops(images, masks, boxes, path, ncols=ncols, titles=titles), ranking
