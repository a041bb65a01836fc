"""First-order intensity features: grey-level histogram and statistics inside the mask.

Cost note
---------
About 0.1 ms per 224 x 224 image with ``backend="fast"`` (one
``cv2.calcHist`` of 256 levels; every statistic is derived from it), about
9 ms with ``backend="reference"`` (``np.histogram``, ``np.unique``,
``np.percentile`` and moment sums over the pixels).

Definition
----------
Everything is computed on the image quantised to 256 grey levels
(``round(255 * x)``, levels reported back on the [0, 1] scale), which makes
the histogram-based fast path exact: both back ends agree to float rounding.
Percentiles use the ``"inverted_cdf"`` definition (the smallest level whose
cumulative fraction reaches q). Entropy is the Shannon entropy, in bits, of the
256-level histogram. Skewness and (excess) kurtosis are the biased moment
estimators (``scipy.stats.skew/kurtosis`` with ``bias=True``); both are 0 for a
constant region.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from .._validation import Interval, Options, tuple_of
from ._base import FamilyParams, FeatureFamily, spread, to_uint8

__all__ = ["Intensity", "IntensityParams"]

_LEVELS = np.arange(256, dtype=np.float64) / 255.0


@dataclasses.dataclass(frozen=True)
class IntensityParams(FamilyParams):
    """Parameters of :class:`Intensity`.

    Parameters
    ----------
    bins : int, default=32
        Number of equal-width histogram bins over [0, 1]; must divide 256 so
        that every bin holds the same number of 8-bit levels. 0 disables the
        histogram (statistics only).
    percentiles : sequence of float, default=(5, 25, 50, 75, 95)
        Percentiles (in [0, 100]) reported as features.
    backend : {"fast", "reference"}, default="fast"
        ``"fast"``: one ``cv2.calcHist``; ``"reference"``: numpy on the pixel values.
    """

    bins: int = 32
    percentiles: tuple[float, ...] = (5, 25, 50, 75, 95)
    backend: str = "fast"

    _constraints: ClassVar = {
        "bins": [Options(0, 1, 2, 4, 8, 16, 32, 64, 128, 256)],
        "percentiles": [tuple_of(Interval(float, 0, 100), "a list of distinct numbers in [0, 100]",
                                 min_len=0, distinct=True)],
        "backend": [Options("fast", "reference")],
    }


def _pct_name(q: float) -> str:
    return f"p{int(q):02d}" if float(q).is_integer() else "p" + repr(float(q)).replace(".", "p")


def _stats_from_hist(counts: np.ndarray, percentiles: tuple[float, ...]) -> list[float]:
    n = counts.sum()
    p = counts / n
    mean = float(p @ _LEVELS)
    d = _LEVELS - mean
    var = float(p @ d**2)
    std = var**0.5
    if var > 0:
        skew = float(p @ d**3) / var**1.5
        kurt = float(p @ d**4) / var**2 - 3.0
    else:
        skew = kurt = 0.0
    nz = p[p > 0]
    entropy = 0.0 - float((nz * np.log2(nz)).sum())  # 0.0 - x avoids -0.0
    cdf = np.cumsum(counts)
    pct = []
    for q in percentiles:
        # inverted_cdf: first level whose cumulative count reaches q% of n
        target = q / 100.0 * n
        k = int(np.searchsorted(cdf, target, side="left")) if q > 0 else int(np.argmax(counts > 0))
        pct.append(_LEVELS[min(k, 255)])
    return [mean, std, skew, kurt, entropy, *pct]


class Intensity(FeatureFamily):
    """Grey-level histogram and first-order statistics inside the mask.

    Features, in order: ``bins`` histogram fractions (``int_h{bins}_bin{k:02d}``),
    then ``int_mean``, ``int_std``, ``int_skew``, ``int_kurt``, ``int_entropy``
    and one ``int_p{q:02d}`` per percentile. Intensities are on the [0, 1]
    scale after 8-bit quantisation (see the module docstring for definitions).

    Parameters
    ----------
    params : IntensityParams, dict or None, default=None
        See :class:`IntensityParams`.
    **overrides
        Individual :class:`IntensityParams` fields.

    Raises
    ------
    ConfigError
        On invalid parameters, or (in :meth:`compute`) an empty mask.

    Notes
    -----
    Cost: about 0.1 ms per 224 x 224 image (fast back end).

    References
    ----------
    R. M. Haralick and L. G. Shapiro, *Computer and Robot Vision*, vol. 1,
    Addison-Wesley, 1992 (first-order statistics); C. E. Shannon, "A
    mathematical theory of communication", Bell Syst. Tech. J., 1948 (entropy).

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.features import Intensity
    >>> image = np.full((8, 8), 0.5, dtype=np.float32)
    >>> fam = Intensity(bins=4, percentiles=[50])
    >>> dict(zip(fam.feature_names(image.shape), fam.compute(image).round(3).tolist()))
    ... # doctest: +NORMALIZE_WHITESPACE
    {'int_h4_bin00': 0.0, 'int_h4_bin01': 0.0, 'int_h4_bin02': 1.0, 'int_h4_bin03': 0.0,
     'int_mean': 0.502, 'int_std': 0.0, 'int_skew': 0.0, 'int_kurt': 0.0,
     'int_entropy': 0.0, 'int_p50': 0.502}
    """

    name = "intensity"
    prefix = "int"
    Params = IntensityParams
    uses_mask = True

    @property
    def tag(self) -> str:
        return f"h{self.params.bins}"

    def feature_names(self, shape: tuple[int, int]) -> list[str]:
        b = self.params.bins
        names = [f"int_h{b}_bin{k:02d}" for k in range(b)]
        names += ["int_mean", "int_std", "int_skew", "int_kurt", "int_entropy"]
        return names + [f"int_{_pct_name(q)}" for q in self.params.percentiles]

    def _compute(self, image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        u8 = to_uint8(image)
        if self.params.backend == "reference":
            return self._reference(u8, mask)
        import cv2

        m = None if mask is None else mask.view(np.uint8)
        counts = cv2.calcHist([u8], [0], m, [256], [0, 256]).ravel().astype(np.float64)
        b = self.params.bins
        hist = counts.reshape(b, 256 // b).sum(axis=1) / counts.sum() if b else np.empty(0)
        return np.concatenate([hist, _stats_from_hist(counts, self.params.percentiles)])

    def _reference(self, u8: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        values = (u8 if mask is None else u8[mask]).ravel()
        b = self.params.bins
        if b:
            hist, _ = np.histogram(values, bins=b, range=(0, 256))
            hist = hist / values.size
        else:
            hist = np.empty(0)
        x = values / 255.0
        mean = x.mean()
        d = x - mean
        var = np.mean(d**2)
        skew = np.mean(d**3) / var**1.5 if var > 0 else 0.0
        kurt = np.mean(d**4) / var**2 - 3.0 if var > 0 else 0.0
        _, counts = np.unique(values, return_counts=True)
        p = counts / values.size
        entropy = 0.0 - (p * np.log2(p)).sum()
        pct = [np.percentile(values, q, method="inverted_cdf") / 255.0 for q in self.params.percentiles]
        return np.concatenate([hist, [mean, np.sqrt(var), skew, kurt, entropy], pct])

    def attribution_map(self, contributions: Any, image: Any, mask: Any = None) -> np.ndarray:
        """Per-pixel map of intensity contributions.

        A histogram bin is the fraction of mask pixels whose grey level falls in
        it, so its amount goes evenly onto exactly those pixels (onto the whole
        mask for an empty bin); the statistics describe the whole distribution
        and spread evenly over the mask. See :meth:`FeatureFamily.attribution_map`.
        """
        img, c, m = self._attribution_inputs(contributions, image, mask)
        b = self.params.bins
        out = spread(float(c[b:].sum()), img.shape, m)
        if b:
            level_bin = to_uint8(img) // (256 // b)
            inside = np.ones(img.shape, bool) if m is None else m
            counts = np.bincount(level_bin[inside], minlength=b)
            present = counts > 0
            out += spread(float(c[:b][~present].sum()), img.shape, m)
            density = np.where(present, c[:b] / np.maximum(counts, 1), 0.0)
            out += np.where(inside, density[level_bin], 0.0)
        return out
