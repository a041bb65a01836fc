"""Lung-zone statistics and left-right asymmetry.

Radiologists read a chest film zone by zone (upper, middle, lower on each
side) and compare the two sides: a lobar consolidation, the typical bacterial
pneumonia, is a focal and one-sided opacity, while normal lungs are nearly
symmetric. This family puts that reading into numbers. Each lung (the mask's
part left and right of the centre of its bounding box) is cut into ``zones``
horizontal bands of equal height over its own extent; in every band it reports
the grey-level mean, standard deviation, 10th / 50th / 90th percentiles and
the mean gradient magnitude (texture energy), for the image-left lung, the
image-right lung, their signed difference and its absolute value (a linear
model cannot take an absolute value itself, and asymmetry matters on either
side).

Without a mask (no lung crop, or a rejected mask) the image's own left and
right halves are used.

Cost: about 0.1 ms per 128 x 128 image.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from .._validation import Interval
from ._base import FamilyParams, FeatureFamily, spread

__all__ = ["Zones", "ZonesParams"]

_STATS = ("mean", "std", "p10", "p50", "p90", "grad")
_PARTS = ("imgleft", "imgright", "diff", "absdiff")


@dataclasses.dataclass(frozen=True)
class ZonesParams(FamilyParams):
    """Parameters of :class:`Zones`.

    Parameters
    ----------
    zones : int, default=3
        Horizontal bands per lung (3: upper, middle and lower zones), in [1, 8].
    """

    zones: int = 3

    _constraints: ClassVar = {"zones": [Interval(int, 1, 8)]}


def _band_stats(values: np.ndarray, grads: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return np.zeros(len(_STATS))
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return np.array([values.mean(), values.std(), p10, p50, p90, grads.mean()])


class Zones(FeatureFamily):
    """Per-zone grey-level statistics of each lung and their left-right asymmetry.

    Features, in order, for each zone ``z`` from the top and each part in
    ``imgleft, imgright, diff, absdiff``: ``zone_z{zones}_{z}_{part}_{stat}`` with
    stat in ``mean, std, p10, p50, p90, grad``. "imgleft" is the lung on the
    image's left (the patient's right on a PA or AP film).

    Parameters
    ----------
    params : ZonesParams, dict or None, default=None
        See :class:`ZonesParams`.
    **overrides
        Individual :class:`ZonesParams` fields.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.features import Zones
    >>> img = np.zeros((60, 60), np.float32); img[:, 30:] = 0.5   # the right side is brighter
    >>> f = dict(zip(Zones(zones=1).feature_names(img.shape), Zones(zones=1).compute(img)))
    >>> round(float(f["zone_z1_0_diff_mean"]), 2), round(float(f["zone_z1_0_absdiff_mean"]), 2)
    (-0.5, 0.5)
    """

    name = "zones"
    prefix = "zone"
    Params = ZonesParams
    uses_mask = True

    @property
    def tag(self) -> str:
        return f"z{self.params.zones}"

    def feature_names(self, shape: tuple[int, int]) -> list[str]:
        n = self.params.zones
        return [f"zone_z{n}_{z}_{part}_{stat}" for z in range(n) for part in _PARTS for stat in _STATS]

    def _bands(self, shape: tuple[int, int], mask: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """(image-left band, image-right band) masks of every zone, from the top.

        The one definition of the zones, shared by the features and their
        attribution map. A side without mask pixels gets empty bands.
        """
        rows, cols = shape
        m = np.ones(shape, bool) if mask is None else mask
        c_idx = np.flatnonzero(m.any(axis=0))
        mid = (c_idx[0] + c_idx[-1] + 1) // 2
        n = self.params.zones
        per_side = []
        for lo, hi in ((0, mid), (mid, cols)):
            side = np.zeros_like(m)
            side[:, lo:hi] = m[:, lo:hi]
            r_idx = np.flatnonzero(side.any(axis=1))
            bands = []
            for z in range(n):
                band = np.zeros_like(m)
                if r_idx.size:
                    top, bottom = r_idx[0], r_idx[-1] + 1
                    r0 = top + (bottom - top) * z // n
                    r1 = top + (bottom - top) * (z + 1) // n
                    band[r0:r1] = side[r0:r1]
                bands.append(band)
            per_side.append(bands)
        return list(zip(*per_side))

    def _compute(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        import cv2

        gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
        grad = np.sqrt(gx * gx + gy * gy)
        out = []
        for left_band, right_band in self._bands(image.shape, mask):
            left = _band_stats(image[left_band], grad[left_band])
            right = _band_stats(image[right_band], grad[right_band])
            out += [left, right, left - right, np.abs(left - right)]
        return np.concatenate(out)

    def attribution_map(self, contributions: Any, image: Any, mask: Any = None) -> np.ndarray:
        """Per-pixel map of zone contributions: each lung band's features over that band.

        Statistics of one side's band go onto its pixels; the left-right
        differences are shared half and half between the two bands (an empty
        band's share goes over the whole mask). See
        :meth:`FeatureFamily.attribution_map`.
        """
        img, c, m = self._attribution_inputs(contributions, image, mask)
        per_part = c.reshape(self.params.zones, len(_PARTS), len(_STATS)).sum(axis=2)
        out = np.zeros(img.shape)
        for (left_band, right_band), (left, right, diff, absdiff) in zip(self._bands(img.shape, m), per_part):
            shared = (diff + absdiff) / 2
            for band, amount in ((left_band, left + shared), (right_band, right + shared)):
                out += spread(float(amount), img.shape, band if band.any() else m)
        return out

    def feature_parts(self, shape: tuple[int, int]) -> np.ndarray:
        """Zone of every feature, from the top (both lungs' bands of a zone together;
        see :meth:`FeatureFamily.feature_parts`)."""
        n = self.params.zones
        return np.repeat(np.arange(n), len(_PARTS) * len(_STATS)).astype(np.intp)
