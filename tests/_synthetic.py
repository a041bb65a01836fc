"""Synthetic chest-like radiographs with a known lung mask, for tests and examples.

The picture is deliberately crude but has the structures a lung segmenter has to
cope with: dark outside air, a bright elliptical body, two dark elliptical lung
fields (the ground truth), a bright mediastinum and heart between them, a smooth
intensity gradient, Gaussian noise, an optional black label box near a corner and
an optional black frame (film border / collimation edge).
"""

from __future__ import annotations

import numpy as np

__all__ = ["synthetic_cxr", "dice"]


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
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:rows, :cols].astype(np.float32)
    yy /= rows
    xx /= cols
    j = lambda s: float(rng.uniform(-s, s))  # noqa: E731  - small positional jitter

    def ellipse(cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
        return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1.0

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


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two bool masks (1.0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * np.logical_and(a, b).sum() / total)
