"""Feature families and their registry.

``FEATURE_FAMILIES`` is a plain dict from family name to family class; nothing
is discovered by scanning modules. Every family has a ``name``, a frozen
``Params`` dataclass, ``feature_names(shape)`` and ``compute(image, mask=None)``.

=============  =========================================  =====================  ==========
name           what                                       reference              default set
=============  =========================================  =====================  ==========
``hog``        histogram of oriented gradients            Dalal & Triggs 2005    yes
``lbp``        multi-scale rotation-invariant LBP         Ojala et al. 2002      yes
``intensity``  grey histogram + first-order statistics                           yes
``glcm``       Haralick co-occurrence texture             Haralick et al. 1973   opt-in
``zones``      lung-zone statistics, left-right asymmetry                        opt-in
=============  =========================================  =====================  ==========

Add your own family with :func:`register_family`.

Examples
--------
>>> from xrayfeat.features import list_families, get_family
>>> list_families()
['glcm', 'hog', 'intensity', 'lbp', 'zones']
>>> get_family("lbp")(scales=[(8, 1)]).tag
'p8r1u'
"""

from __future__ import annotations

from ..exceptions import ConfigError
from ._base import FamilyParams, FeatureFamily
from .glcm import GLCM, GLCMParams
from .hog import HOG, HOGParams
from .intensity import Intensity, IntensityParams
from .lbp import LBP, LBPParams
from .zones import Zones, ZonesParams

__all__ = [
    "FEATURE_FAMILIES",
    "DEFAULT_FAMILIES",
    "FeatureFamily",
    "FamilyParams",
    "list_families",
    "get_family",
    "register_family",
    "make_family",
    "HOG",
    "HOGParams",
    "LBP",
    "LBPParams",
    "Intensity",
    "IntensityParams",
    "GLCM",
    "GLCMParams",
    "Zones",
    "ZonesParams",
]

#: Registry: family name -> family class.
FEATURE_FAMILIES: dict[str, type[FeatureFamily]] = {
    HOG.name: HOG,
    LBP.name: LBP,
    Intensity.name: Intensity,
    GLCM.name: GLCM,
    Zones.name: Zones,
}

#: The recommended set used by :class:`~xrayfeat.extract.FeatureExtractor` by default.
#: GLCM is left out: it roughly doubles extraction time for a modest gain.
DEFAULT_FAMILIES = ("hog", "lbp", "intensity")


def list_families() -> list[str]:
    """Names of the registered feature families, sorted.

    Returns
    -------
    list of str
    """
    return sorted(FEATURE_FAMILIES)


def get_family(name: str) -> type[FeatureFamily]:
    """The family class registered under ``name``.

    Parameters
    ----------
    name : str
        A name from :func:`list_families`.

    Returns
    -------
    type
        Subclass of :class:`FeatureFamily`.

    Raises
    ------
    ConfigError
        If no family has that name; the message lists the valid names.
    """
    try:
        return FEATURE_FAMILIES[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown feature family {name!r}; valid families are {list_families()}."
        ) from None


def make_family(name: str, params: object = None) -> FeatureFamily:
    """Instantiate the family ``name`` with ``params`` (dict, Params or None).

    Raises
    ------
    ConfigError
        On an unknown family or invalid parameters.
    """
    return get_family(name)(params)  # type: ignore[arg-type]


def register_family(cls: type[FeatureFamily], *, replace: bool = False) -> type[FeatureFamily]:
    """Add a feature family to the registry (usable as a class decorator).

    Parameters
    ----------
    cls : type
        Subclass of :class:`FeatureFamily` with a non-empty ``name``, a
        ``prefix`` and a ``Params`` dataclass.
    replace : bool, default=False
        Allow replacing a family already registered under the same name.

    Returns
    -------
    type
        ``cls`` unchanged.

    Raises
    ------
    ConfigError
        If ``cls`` is not a FeatureFamily subclass, has no name, or the name is
        taken and ``replace`` is False.

    Examples
    --------
    >>> import dataclasses, numpy as np
    >>> from xrayfeat.features import FeatureFamily, FamilyParams, register_family
    >>> @dataclasses.dataclass(frozen=True)
    ... class MaxParams(FamilyParams):
    ...     pass
    >>> @register_family
    ... class Max(FeatureFamily):
    ...     name, prefix, Params = "max", "max", MaxParams
    ...     def feature_names(self, shape):
    ...         return ["max_value"]
    ...     def _compute(self, image, mask):
    ...         return np.array([image.max()])
    >>> Max().compute(np.eye(4, dtype=np.float32))
    array([1.], dtype=float32)
    >>> _ = FEATURE_FAMILIES.pop("max")
    """
    if not (isinstance(cls, type) and issubclass(cls, FeatureFamily)):
        raise ConfigError(f"register_family needs a FeatureFamily subclass; got {cls!r}.")
    if not cls.name or not isinstance(cls.name, str):
        raise ConfigError(f"{cls.__name__} must set a non-empty class attribute 'name'.")
    if cls.name in FEATURE_FAMILIES and FEATURE_FAMILIES[cls.name] is not cls and not replace:
        raise ConfigError(
            f"a feature family named {cls.name!r} is already registered; pass replace=True "
            "to override it."
        )
    FEATURE_FAMILIES[cls.name] = cls
    return cls
