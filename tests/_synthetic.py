"""Synthetic chest-like radiographs with a known lung mask, for tests and examples.

The picture is deliberately crude but has the structures a lung segmenter has to
cope with: dark outside air, a bright elliptical body, two dark elliptical lung
fields (the ground truth), a bright mediastinum and heart between them, a smooth
intensity gradient, Gaussian noise, an optional black label box near a corner and
an optional black frame (film border / collimation edge).

:func:`synthetic_cxr` has the proportions of the paediatric training films (lungs
about 18 % of the film, the body an ellipse in outside air);
:func:`synthetic_adult_cxr` those of an adult PA film, the other geometry a
segmenter tuned on children has to hold on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["synthetic_cxr", "synthetic_adult_cxr", "dice"]


def _canvas(rows: int, cols: int, seed: int) -> tuple[np.random.Generator, np.ndarray, np.ndarray,
                                                       Callable[[float], float],
                                                       Callable[[float, float, float, float], np.ndarray]]:
    """A seeded generator, the grid's coordinates as fractions of its sides, a jitter
    (uniform in [-s, s], from that generator) and an ellipse painter on that grid."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:rows, :cols].astype(np.float32)
    yy /= rows
    xx /= cols

    def jitter(s: float) -> float:
        return float(rng.uniform(-s, s))

    def ellipse(cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
        return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1.0

    return rng, yy, xx, jitter, ellipse


def synthetic_cxr(
    size: int | tuple[int, int] = 256,
    *,
    seed: int = 0,
    inverted: bool = False,
    label_box: bool = True,
    border: bool = True,
    noise: float = 0.03,
) -> tuple[np.ndarray, np.ndarray]:
    """Return a synthetic chest radiograph and its true lung mask.

    Parameters
    ----------
    size : int or (int, int), default=256
        Output shape; an int gives a square image.
    seed : int, default=0
        Seed for the random jitter of positions and the noise.
    inverted : bool, default=False
        If True return ``1 - image`` (white lungs, dark body).
    label_box : bool, default=True
        Draw a black label box with white "text" near the top-left corner.
    border : bool, default=True
        Draw a black frame along the image edges.
    noise : float, default=0.03
        Standard deviation of additive Gaussian noise.

    Returns
    -------
    image : ndarray of shape (rows, cols), dtype float32, values in [0, 1]
    lungs : ndarray of bool, shape (rows, cols)
        True inside the two lung ellipses.
    """
    rows, cols = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    rng, yy, xx, j, ellipse = _canvas(rows, cols, seed)
    img = np.full((rows, cols), 0.06, np.float32)
    body = ellipse(0.58 + j(0.02), 0.5 + j(0.02), 0.56, 0.44)
    img[body] = 0.62 + 0.12 * yy[body]  # soft tissue gets denser towards the abdomen
    img[ellipse(0.5, 0.5, 0.45, 0.06)] = 0.85  # mediastinum / spine
    img[ellipse(0.66, 0.55, 0.13, 0.13)] = 0.8  # heart

    lungs = np.zeros((rows, cols), bool)
    for cx in (0.29, 0.71):
        lungs |= ellipse(0.45 + j(0.03), cx + j(0.02), 0.24 + j(0.02), 0.12 + j(0.01))
    # Lungs are dark but not flat: a vertical gradient and faint "rib" stripes.
    ribs = 0.03 * np.sin(yy * 60.0)
    img[lungs] = (0.2 + 0.1 * yy + ribs)[lungs]

    if label_box:
        r0, r1 = int(0.05 * rows), int(0.12 * rows)
        c0, c1 = int(0.05 * cols), int(0.22 * cols)
        img[r0:r1, c0:c1] = 0.0
        for k in range(c0 + 2, c1 - 2, max(3, (c1 - c0) // 6)):
            img[r0 + (r1 - r0) // 3:r1 - (r1 - r0) // 3, k:k + max(1, (c1 - c0) // 12)] = 1.0
    if border:
        br, bc = max(1, int(0.025 * rows)), max(1, int(0.025 * cols))
        img[:br] = img[-br:] = 0.0
        img[:, :bc] = img[:, -bc:] = 0.0
    if noise > 0:
        img = img + rng.normal(0.0, noise, img.shape).astype(np.float32)
    img = np.clip(img, 0.0, 1.0).astype(np.float32)
    if inverted:
        img = 1.0 - img
    return img, lungs


def synthetic_adult_cxr(
    size: int = 256,
    *,
    seed: int = 0,
    breasts: bool = False,
    noise: float = 0.03,
) -> tuple[np.ndarray, np.ndarray]:
    """Return a synthetic adult PA chest radiograph and its true lung fields.

    Adult geometry, as on JSRT-like films: the trunk fills nearly the whole width
    (outside air only above the shoulders and in thin strips beside the arms), the
    lungs are large (about 30 % of the film, apices at ~0.13 of the height, under
    bright clavicles), the heart is large and on the image's right, where it cuts
    into the lung field as in the SCR masks, each lung ends on a diaphragm dome
    (the image-left one higher) with the deep costophrenic angle lateral to it,
    and a gastric bubble lies below the image-right dome. Edges are blurred
    slightly (a film's unsharpness). ``breasts`` adds two soft opacities over the
    lower lateral lung fields; they stay lung in the truth.

    Parameters
    ----------
    size : int, default=256
        Side of the square output.
    seed : int, default=0
        Seed for the jitter of positions and sizes and for the noise.
    breasts : bool, default=False
        Overlay breast shadows on the lower lungs.
    noise : float, default=0.03
        Standard deviation of additive Gaussian noise.

    Returns
    -------
    image : ndarray of shape (size, size), dtype float32, values in [0, 1]
    lungs : ndarray of bool, shape (size, size)
    """
    import cv2

    rng, yy, xx, j, ellipse = _canvas(size, size, seed)
    img = np.full((size, size), 0.05, np.float32)
    shoulders = 0.03 + 0.22 * np.abs(xx - 0.5) ** 1.3  # the trunk's top edge
    trunk = (yy > shoulders) & (np.abs(xx - 0.5) < 0.43 + j(0.02))
    img[trunk] = (0.6 + 0.15 * yy)[trunk]
    for cx in (0.035, 0.965):  # the arms, a strip of air beside each
        img[(np.abs(xx - cx) < 0.035) & (yy > 0.12)] = 0.7
    img[ellipse(0.45, 0.5, 0.5, 0.065)] = 0.86  # mediastinum and spine
    hy, hx = 0.64 + j(0.02), 0.56 + j(0.015)
    img[ellipse(hy, hx, 0.15, 0.16)] = 0.82  # heart
    lungs = np.zeros((size, size), bool)
    for side, cx in ((0, 0.29 + j(0.015)), (1, 0.71 + j(0.015))):
        cy, ry, rx = 0.47 + j(0.02), 0.34 + j(0.02), 0.165 + j(0.01)
        dome = 0.70 + 0.03 * side + 0.09 * ((xx - cx) / rx) ** 2 + j(0.02)
        lung = ellipse(cy, cx, ry, rx) & (yy < dome) & ((xx < 0.455) if side == 0 else (xx > 0.545))
        if side == 1:
            lung &= ~ellipse(hy, hx, 0.17, 0.18)
        lungs |= lung
    ribs = 0.035 * np.sin(yy * 70.0 + 8.0 * (xx - 0.5) ** 2)
    img[lungs] = (0.2 + 0.12 * yy + ribs)[lungs]
    for x0, x1, rising in ((0.12, 0.46, True), (0.54, 0.88, False)):  # clavicles
        t = (xx - x0) / (x1 - x0)
        centre = 0.2 - 0.07 * (t if rising else 1 - t)
        img[(t >= 0) & (t <= 1) & (np.abs(yy - centre) < 0.018)] += 0.15
    if breasts:
        for cx in (0.26, 0.74):
            img[ellipse(0.76 + j(0.02), cx + j(0.02), 0.15, 0.18) & (yy > 0.6)] += 0.13
    img[ellipse(0.86, 0.68 + j(0.02), 0.03, 0.05) & ~lungs] = 0.35  # gastric bubble
    img = cv2.GaussianBlur(img, (0, 0), 0.004 * size)
    if noise > 0:
        img = img + rng.normal(0.0, noise, img.shape).astype(np.float32)
    return np.clip(img, 0.0, 1.0).astype(np.float32), lungs


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two bool masks (1.0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * np.logical_and(a, b).sum() / total)
