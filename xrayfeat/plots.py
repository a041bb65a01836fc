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

__all__ = ["plot_lung_crops", "plot_worst_masks", "plot_explanation", "save_explanation",
           "plot_explanation_sheet"]


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


# ------------------------------------------------------------------------- explanations
def _explained_image(image: Any) -> np.ndarray:
    if isinstance(image, (str, os.PathLike)):
        from .io import read_image

        return read_image(image)
    return check_image(image)


def _heat_scale(heatmap: np.ndarray) -> float:
    """Colour limit: the 99.5th percentile of |heatmap| where it is non-zero, so a few
    extreme cells do not wash the rest out."""
    nz = np.abs(heatmap[heatmap != 0])
    return float(np.percentile(nz, 99.5)) if nz.size else 1.0


def plot_explanation(explanation: Any, image: Any, ax: Any = None, *, alpha: float = 0.6,
                     title: bool = True, colorbar: bool = True) -> Any:
    """Draw an explanation's heatmap over its image.

    Red pushed the model towards the predicted label, blue away from it (a
    diverging map, symmetric about zero); transparency grows as the attribution
    fades, so the film stays readable. The lung mask is outlined in yellow and
    the lung crop framed by a dashed line; the title gives the label, its
    probability, the threshold, the method and ``inside_lungs``.

    Parameters
    ----------
    explanation : Explanation
        From :func:`xrayfeat.explain`.
    image : array-like of shape (rows, cols), str or path-like
        The image explained, at any resolution (the heatmap is stretched onto it).
    ax : matplotlib Axes or None, default=None
        Where to draw; None makes a new figure (not registered with pyplot).
    alpha : float, default=0.6
        Opacity of the strongest attribution, in (0, 1].
    title : bool, default=True
        Write the title.
    colorbar : bool, default=True
        Draw the colour scale beside the axes: log-odds per pixel, positive
        towards the predicted label (symmetric about zero).

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ConfigError
        For an invalid image or ``alpha``.
    ImportError
        If matplotlib is not installed.
    """
    if not isinstance(alpha, (int, float)) or not 0 < alpha <= 1:
        raise ConfigError(f"alpha must be in (0, 1]; got {alpha!r}.")
    img = _explained_image(image)
    if ax is None:
        ax = _figure_class()(figsize=(5, 5.4)).add_subplot()
    rows, cols = img.shape
    hr, hc = explanation.heatmap.shape
    extent = (-0.5, cols - 0.5, rows - 0.5, -0.5)
    ax.imshow(img, cmap="gray", vmin=0, vmax=1, extent=extent, interpolation="antialiased")
    heat = explanation.heatmap.astype(np.float64)
    vmax = _heat_scale(heat)
    opacity = alpha * np.clip(np.abs(heat) / vmax, 0, 1) ** 0.5
    ax.imshow(heat, cmap="RdBu_r", vmin=-vmax, vmax=vmax, alpha=opacity, extent=extent,
              interpolation="bilinear")
    if colorbar:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        # The drawn layer's alpha varies per pixel; the bar shows the colours at full strength.
        bar = ax.figure.colorbar(ScalarMappable(Normalize(-vmax, vmax), "RdBu_r"), ax=ax,
                                 fraction=0.04, pad=0.02, shrink=0.8)
        bar.set_label(f"log-odds per pixel, + towards {explanation.label}", fontsize=7)
        bar.ax.tick_params(labelsize=6)
        bar.ax.yaxis.get_offset_text().set_fontsize(6)
    if explanation.lung_mask is not None:
        # The images' extent, whose top is row -0.5: with origin="upper" the mask's
        # first row is drawn there (not flipped to the bottom).
        ax.contour(explanation.lung_mask.astype(np.float32), levels=[0.5], colors="yellow",
                   linewidths=1.0, extent=extent, origin="upper")
    if explanation.crop_box is not None:
        from matplotlib.patches import Rectangle

        r0, r1, c0, c1 = explanation.crop_box
        sy, sx = rows / hr, cols / hc
        ax.add_patch(Rectangle((c0 * sx - 0.5, r0 * sy - 0.5), (c1 - c0) * sx, (r1 - r0) * sy,
                               fill=False, edgecolor="white", linestyle="--", linewidth=0.8))
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_axis_off()
    if title:
        ax.set_title(explanation_title(explanation), fontsize=9)
    return ax


def explanation_title(explanation: Any) -> str:
    """``"PNEUMONIA p=0.97 (threshold 0.62)\nlinear, 81% of positive attribution in lungs"``."""
    head = f"{explanation.label} p={explanation.probability:.2f}"
    if explanation.threshold is not None:
        head += f" (threshold {explanation.threshold:.2f} on {explanation.pos_label})"
    inside = explanation.inside_lungs
    where = "no lung mask" if np.isnan(inside) else f"{inside:.0%} of positive attribution in lungs"
    return f"{head}\n{explanation.method}, {where}"


def save_explanation(explanation: Any, image: Any, path: str | os.PathLike, *, dpi: int = 120,
                     **kwargs: Any) -> str:
    """Save :func:`plot_explanation` as an image file (PNG by default; format from the suffix).

    Parameters
    ----------
    explanation : Explanation
        From :func:`xrayfeat.explain`.
    image : array-like, str or path-like
        The image explained.
    path : str or path-like
        Output file.
    dpi : int, default=120
        Resolution.
    **kwargs
        Passed to :func:`plot_explanation`.

    Returns
    -------
    str
        The path written.
    """
    ax = plot_explanation(explanation, image, **kwargs)
    fig = ax.figure
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=dpi)
    return os.fspath(path)


def plot_explanation_sheet(explanations: Sequence[Any], images: Sequence[Any], path: str | os.PathLike,
                           *, ncols: int = 4, titles: Sequence[str] | None = None, dpi: int = 100) -> str:
    """Save a grid of explanations over their images (a contact sheet).

    Parameters
    ----------
    explanations : sequence of Explanation
    images : sequence of array-like, str or path-like
        One image per explanation.
    path : str or path-like
        Output file.
    ncols : int, default=4
        Columns of the grid.
    titles : sequence of str, optional
        One title per panel; default :func:`explanation_title`.
    dpi : int, default=100
        Resolution.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ConfigError
        If the lengths differ or nothing is given.
    """
    if not explanations or len(explanations) != len(images):
        raise ConfigError(f"plot_explanation_sheet needs as many images as explanations (at least one); "
                          f"got {len(explanations)} and {len(images)}.")
    if titles is not None and len(titles) != len(explanations):
        raise ConfigError(f"got {len(titles)} titles for {len(explanations)} explanations.")
    ncols = max(1, min(int(ncols), len(explanations)))
    nrows = math.ceil(len(explanations) / ncols)
    texts = list(titles) if titles is not None else [explanation_title(e) for e in explanations]
    head = 0.16 * max(t.count("\n") + 1 for t in texts) + 0.1  # inches of title above each panel
    fig = _figure_class()(figsize=(4.3 * ncols, (3.4 + head) * nrows))
    # Fixed margins rather than tight_layout, which draws the whole figure once more
    # (half of the cost of a sheet); the gaps leave room for each panel's colour bar.
    fig.subplots_adjust(left=0.01, right=1 - 0.85 / (4.3 * ncols), bottom=0.01,
                        top=1 - head / ((3.4 + head) * nrows), wspace=0.3, hspace=head / 3.4)
    for k, (e, img) in enumerate(zip(explanations, images)):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        plot_explanation(e, img, ax=ax, title=False)
        ax.set_title(texts[k], fontsize=7)
    fig.savefig(os.fspath(path), dpi=dpi)
    return os.fspath(path)
