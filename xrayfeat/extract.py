"""From images to a feature matrix: :class:`FeatureExtractor` and :func:`extract_features`.

The estimator lives here; the per-image stages are in :mod:`xrayfeat._per_image` and
the batch runner with its cache reads and writes in :mod:`xrayfeat._runner`.

Per image, the pipeline is::

    read_image(path, target_size=image_size)     # JPEGs decoded at 1/2, 1/4 or 1/8 size
    -> resize to image_size x image_size        # area interpolation; aspect not kept
    -> flip white-lung (inverted) films (invert="auto")
    -> segment_lungs + crop_to_lungs (optional) -> resize crop to image_size x image_size
    -> preprocess (optional Preprocessor)       # filters act at one known scale
    -> every feature family, concatenated       # float32 vector

Segmentation sees the unprocessed image because CLAHE and denoising make its
masks ragged; preprocessing the crop then adapts to the lungs, not to labels
and background.

Resizing before preprocessing keeps denoising cheap on 2,000 px originals and
gives pixel-sized filter parameters the same meaning for every input
resolution. The square resize matches how the 224 px training copies were made.

Caching
-------
With ``memory`` set, every image's vector is stored in a :class:`~xrayfeat.cache.FeatureCache`
(one SQLite file) under a key made of the image *content* digest and the
digest of the whole configuration. A warm run only hashes file bytes and reads
the database; it decodes nothing. Only the main process writes to the cache,
one transaction per finished batch: workers (local processes or remote Dask
workers, which may not even see the cache's disk) just return vectors, there is
no lock contention, and a run killed at any moment keeps every finished batch.

Parallel and distributed runs
-----------------------------
Images are grouped into batches (``batch_size``) so per-task overhead is paid
once per batch, and the batches run through :class:`joblib.Parallel` with
``n_jobs``. Each task sets ``cv2.setNumThreads(1)`` so that n workers use n
cores, not n x cores. Any joblib backend works; to run on a Dask cluster::

    from dask.distributed import Client
    import joblib
    client = Client("tcp://scheduler-host:8786")     # a real scheduler's address
    with joblib.parallel_config(backend="dask"):
        X = FeatureExtractor(memory="cache/", n_jobs=-1).fit_transform(paths)

The workers must be able to import xrayfeat and read the image paths (shared
file system or object-store mount); pass arrays instead of paths otherwise.

Examples
--------
>>> import numpy as np
>>> from xrayfeat.extract import FeatureExtractor
>>> images = [np.random.default_rng(i).random((64, 64), dtype=np.float32) for i in range(3)]
>>> fx = FeatureExtractor(image_size=64, progress=False).fit(images)
>>> X = fx.transform(images)
>>> X.shape == (3, len(fx.get_feature_names_out()))
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ._fitted import check_is_fitted
from ._per_image import _Spec
from ._runner import ExtractionInfo, _as_sources, _extract
from ._validation import N_JOBS, Interval, Options, Predicate, check_params
from ._version import FEATURE_VERSION
from .cache import FeatureCache, config_digest
from .exceptions import ConfigError
from .features import DEFAULT_FAMILIES, FeatureFamily, get_family

__all__ = [
    "FeatureExtractor",
    "extract_features",
    "ExtractionInfo",
    "DEFAULT_IMAGE_SIZE",
]

#: Default working size (pixels a side) of the lung crop, one for the binary and the
#: 3-class task. Chosen with the other defaults by the chest-swap criterion
#: (:func:`xrayfeat.shortcut_report`, all 5,196 composites of the training split),
#: averaged over the two tasks: 128 px 0.800 (binary 0.905, 3-class 0.695), 160 px
#: 0.795 (0.906, 0.684), 224 px 0.788 (0.903, 0.673); 96 px scored 0.888 on the
#: binary task alone (``benchmarks/shortcut_validation.py``; FEATURE_VERSION 4's
#: unsmoothed LBP). 16 px HOG cells then
#: span ~1/8 of the chest: opacities rather than fine rib and marker edges.
DEFAULT_IMAGE_SIZE = 128


# ------------------------------------------------------------------------------ estimator
_FAMILIES = Predicate(
    lambda v: isinstance(v, str) or (isinstance(v, (list, tuple)) and len(v) > 0
                                     and all(isinstance(x, (str, FeatureFamily)) for x in v)),
    "a family name or a non-empty list of family names or FeatureFamily instances")
_MEMORY = Predicate(
    lambda v: isinstance(v, (str, os.PathLike, FeatureCache))
    or (hasattr(v, "cache") and getattr(v, "location", None) is not None),
    "a path, a FeatureCache or a joblib.Memory")
_PREPROCESS = Predicate(lambda v: isinstance(v, (list, tuple)) or (callable(v) and hasattr(v, "describe")),
                        "a Preprocessor or a list of preprocessing steps")

_CONSTRAINTS = {
    "families": [None, _FAMILIES],
    "family_params": [None, dict],
    "image_size": [Interval(int, 16, 4096)],
    "preprocess": [None, _PREPROCESS],
    "crop_lungs": [bool],
    "mask_outside": [bool],
    "invert": [Options("auto"), bool],
    "memory": [None, _MEMORY],
    "n_jobs": [None, N_JOBS],
    "progress": [bool, Options("auto")],
    "batch_size": [Options("auto"), Interval(int, 1, None)],
}


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """Turn chest X-ray images into a matrix of handcrafted features.

    Stateless: :meth:`fit` only validates the parameters and records the
    output's feature names; :meth:`transform` reads, preprocesses, optionally
    crops to the lungs and describes every image (see the module docstring).

    Parameters
    ----------
    families : str, list of str/FeatureFamily, or None, default=None
        Feature families, by registry name (see
        :func:`xrayfeat.features.list_families`) or as configured instances.
        None means the recommended set ``("hog", "lbp", "intensity")``; add
        ``"glcm"`` for Haralick texture (about 2x the extraction time).
    family_params : dict or None, default=None
        ``{family name: {parameter: value}}`` overriding that family's defaults,
        e.g. ``{"hog": {"cell_size": 8}, "lbp": {"grid": (1, 1)}}``.
    image_size : int, default=128
        Images are resized to ``image_size x image_size`` (aspect ratio not
        kept) before segmentation and again after lung cropping; features are
        computed at that size (see :data:`DEFAULT_IMAGE_SIZE` for why 128).
    preprocess : Preprocessor, list or None, default=None
        Applied after resizing. A list is passed to
        :meth:`xrayfeat.preprocess.Preprocessor.from_config`. None: no preprocessing.
    crop_lungs : bool, default=True
        Segment the lungs (:func:`xrayfeat.segment.segment_lungs`), crop to their
        bounding box (:func:`~xrayfeat.segment.crop_to_lungs`) and restrict
        mask-aware families (LBP, intensity, GLCM) to the lung mask. When the
        mask is rejected, the central crop is used without a mask; see
        :meth:`transform_with_info` to count those fallbacks. On by default:
        whole-image features score higher in cross-validation on one site but
        read cues outside the chest that do not travel (see
        :func:`xrayfeat.shortcut_report`); False gives the whole film.
    mask_outside : bool, default=False
        With ``crop_lungs``, also replace the pixels of the crop outside the lung
        mask by a smooth continuation of the lungs
        (:func:`xrayfeat.preprocess.fill_outside`), so that families that do not
        take a mask (HOG) see the lungs only, not the heart, mediastinum,
        diaphragm or ribs around them. Ignored where the mask fell back. Off by
        default: it lowered the chest-swap criterion (see the README), as the
        lung outline it leaves is itself a strong edge.
    invert : {"auto", True, False}, default="auto"
        Polarity. "auto" flips a film whose lungs are brighter than the soft
        tissue around them (:func:`xrayfeat.segment.looks_inverted`: a PNG or
        JPEG saved from a MONOCHROME1 DICOM without conversion, say) before it
        is segmented and described, so it gets the features of its dark-lung
        version; :attr:`ExtractionInfo.inverted` says which were flipped. True
        flips every film, False takes them as they are (segmentation included).
        On every training film "auto" flips none and on every negative of them
        it flips all.
    memory : None, str, path-like, FeatureCache or joblib.Memory, default=None
        Feature cache (see :mod:`xrayfeat.cache`); None disables caching.
    n_jobs : int or None, default=None
        Parallel workers (joblib semantics: None means 1 unless inside a
        :func:`joblib.parallel_config` context; -1 means all cores).
    progress : bool or "auto", default="auto"
        Show progress on standard error: tqdm's bar if tqdm (the ``progress``
        extra) is installed, else a one-line count with rate and time left;
        "auto" shows it when at least 500 images are to be computed and stderr
        is a terminal.
    batch_size : int or "auto", default="auto"
        Images per parallel task (and per cache transaction). "auto" gives
        every worker about four batches, at most 64 images each.

    Attributes
    ----------
    feature_names_out_ : ndarray of str, shape (n_features_out_,)
        Output column names, ``<family>_<param tag>_<index or stat>``.
    n_features_out_ : int
        Number of output columns.
    config_hash_ : str
        Digest of the full configuration (part of every cache key).

    Raises
    ------
    ImageReadError
        In :meth:`transform`, for an unreadable image (the message names the
        file); no row is ever silently dropped or filled with NaN. Filter
        inputs beforehand with :func:`xrayfeat.read_images` (``on_error="skip"``)
        or the data set loader.
    ConfigError
        In :meth:`fit`, for invalid parameters.

    See Also
    --------
    extract_features : function form returning the per-image information too.

    Notes
    -----
    Cost with the defaults (lung segmentation and crop, 128 px features; ``python
    benchmarks/bench_features.py --skip-families --repeat 1``, one pass, 2-core
    machine): 5.2 ms of CPU per 224 px training image end to end; the 5,216
    training images took 16.1 s cold with ``n_jobs=2`` (324 images/s) and 0.29 s
    warm from the cache. A 2,000 x 2,400 px JPEG costs 2.6x a 224 px one thanks
    to reduced-resolution decoding. Output dtype is float32 (39 MiB for 5,216
    images x 1,974 features).

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.extract import FeatureExtractor
    >>> rng = np.random.default_rng(0)
    >>> images = [rng.random((96, 96), dtype=np.float32) for _ in range(2)]
    >>> fx = FeatureExtractor(families=["lbp", "intensity"], image_size=96, progress=False)
    >>> X = fx.fit_transform(images)
    >>> X.shape, X.dtype.name
    ((2, 210), 'float32')
    >>> fx.get_feature_names_out()[:2].tolist()
    ['lbp_p8r1u_y0x0_bin00', 'lbp_p8r1u_y0x0_bin01']
    """

    def __init__(
        self,
        families: str | Sequence[str | FeatureFamily] | None = None,
        family_params: Mapping[str, Mapping[str, Any]] | None = None,
        image_size: int = DEFAULT_IMAGE_SIZE,
        preprocess: Any = None,
        crop_lungs: bool = True,
        mask_outside: bool = False,
        invert: str | bool = "auto",
        memory: Any = None,
        n_jobs: int | None = None,
        progress: bool | str = "auto",
        batch_size: int | str = "auto",
    ):
        self.families = families
        self.family_params = family_params
        self.image_size = image_size
        self.preprocess = preprocess
        self.crop_lungs = crop_lungs
        self.mask_outside = mask_outside
        self.invert = invert
        self.memory = memory
        self.n_jobs = n_jobs
        self.progress = progress
        self.batch_size = batch_size

    # -- configuration ----------------------------------------------------------------------
    def _build_spec(self) -> _Spec:
        check_params(self.get_params(deep=False), _CONSTRAINTS, owner=type(self).__name__)
        names = DEFAULT_FAMILIES if self.families is None else self.families
        if isinstance(names, str):
            names = [names]
        params = dict(self.family_params or {})
        families: list[FeatureFamily] = []
        for item in names:
            if isinstance(item, FeatureFamily):
                if item.name in params:
                    raise ConfigError(
                        f"family_params[{item.name!r}] given for a family passed as an instance; "
                        "configure the instance instead."
                    )
                families.append(item)
            else:
                families.append(get_family(item)(params.get(item)))
        used = [f.name for f in families]
        if len(set(used)) != len(used):
            raise ConfigError(f"each feature family may appear once; got {used}.")
        unknown = sorted(set(params) - set(used))
        if unknown:
            raise ConfigError(
                f"family_params has entries for {unknown}, which are not in families={used}."
            )
        pre = self.preprocess
        if isinstance(pre, (list, tuple)):
            from .preprocess import Preprocessor

            pre = Preprocessor.from_config(pre)
        spec = _Spec(int(self.image_size), pre, bool(self.crop_lungs), tuple(families),
                     mask_outside=bool(self.mask_outside), invert=self.invert)
        for fam in families:
            fam.check_shape(spec.shape)
        return spec

    def fit(self, X: Any = None, y: Any = None) -> FeatureExtractor:
        """Validate the parameters and record the output feature names.

        Parameters
        ----------
        X : sequence of paths or arrays, default=None
            Ignored (the transformer is stateless); accepted for API compatibility.
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        ConfigError
            For an invalid parameter, an unknown family, or an ``image_size`` too
            small for a family (e.g. smaller than one HOG block).
        """
        spec = self._build_spec()
        names = spec.feature_names()
        self.feature_names_out_ = np.asarray(names, dtype=object)
        self.n_features_out_ = len(names)
        self.config_hash_ = config_digest(spec.config())
        self.feature_version_ = FEATURE_VERSION
        self._spec = spec
        return self

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names.

        Parameters
        ----------
        input_features : ignored
            Present for scikit-learn API compatibility.

        Returns
        -------
        ndarray of str objects, shape (n_features_out_,)
        """
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def transform(self, X: Any) -> np.ndarray:
        """Feature matrix of the images in ``X``.

        Parameters
        ----------
        X : sequence of str/path-like or ndarray, or ndarray of shape (n, rows, cols)
            Image files and/or in-memory grey or RGB arrays.

        Returns
        -------
        ndarray of shape (n_images, n_features_out_), dtype float32

        Raises
        ------
        NotFittedError
            If called before :meth:`fit`.
        ImageReadError
            If an image cannot be read.
        """
        return self.transform_with_info(X)[0]

    def transform_with_info(self, X: Any, *, on_error: str = "raise") -> tuple[np.ndarray, ExtractionInfo]:
        """Like :meth:`transform`, also returning per-image crop and cache information.

        Parameters
        ----------
        X : sequence of paths or arrays
            As :meth:`transform`.
        on_error : {"raise", "skip"}, default="raise"
            "skip": an image that cannot be read or described gets a row of NaN
            and its reason in ``info.errors`` instead of aborting the whole call.

        Returns
        -------
        X_features : ndarray of shape (n_images, n_features_out_), dtype float32
        info : ExtractionInfo
            Crop boxes and fallback flags (meaningful when ``crop_lungs=True``),
            decoded shapes and which rows came from the cache. Read from the
            cache too, so a warm run reports them without decoding anything.
        """
        check_is_fitted(self, "feature_names_out_")
        check_params({"on_error": on_error}, {"on_error": [Options("raise", "skip")]},
                     owner="transform_with_info")
        spec = self._fitted_spec()
        return _extract(
            _as_sources(X), spec, self.n_features_out_, self.config_hash_,
            memory=self.memory, n_jobs=self.n_jobs, progress=self.progress,
            batch_size=self.batch_size, on_error=on_error,
        )

    def _fitted_spec(self) -> _Spec:
        """The specification fitted, rebuilt after unpickling (and checked against the key)."""
        check_is_fitted(self, "feature_names_out_")
        spec = getattr(self, "_spec", None)
        if spec is None:  # unpickled: rebuild, and never let new parameters use the fitted key
            fitted = getattr(self, "feature_version_", None)
            if fitted != FEATURE_VERSION:
                # Checked first: an older extractor may lack parameters added since.
                made = f"feature code version {fitted}" if fitted else "an older feature code version"
                raise ConfigError(
                    f"this extractor was fitted with {made} and this xrayfeat computes version "
                    f"{FEATURE_VERSION}, whose features differ; fit the model again."
                )
            spec = self._build_spec()
            if config_digest(spec.config()) != self.config_hash_:
                raise ConfigError(
                    "FeatureExtractor parameters changed since fit; call fit again before transform."
                )
            self._spec = spec
        return spec

    def set_params(self, **params: Any) -> FeatureExtractor:
        """Set parameters; on a fitted extractor, the feature names and spec follow them.

        The extractor is stateless, so "refitting" only re-validates the parameters
        and records the new feature names: ``set_params(image_size=64)`` after
        ``fit`` used to be ignored by ``transform``, which kept the fitted spec.

        Returns
        -------
        self
        """
        super().set_params(**params)
        if "feature_names_out_" in self.__dict__:
            self.fit()
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []
        return tags

    def __copy__(self) -> FeatureExtractor:
        # A shallow copy keeps the fitted spec (immutable): copy.copy would otherwise go
        # through __getstate__ and rebuild and re-check it on every prediction call.
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_spec", None)  # rebuilt on demand; keeps pickles independent of internals
        return state


def extract_features(X: Any, **params: Any) -> tuple[np.ndarray, ExtractionInfo]:
    """Extract features and per-image information in one call.

    Parameters
    ----------
    X : sequence of paths or arrays
        See :meth:`FeatureExtractor.transform`.
    **params
        :class:`FeatureExtractor` parameters.

    Returns
    -------
    X_features : ndarray of shape (n_images, n_features), dtype float32
    info : ExtractionInfo
        Per-image crop boxes, fallback flags, decoded shapes, cache hits.

    Raises
    ------
    ConfigError, ImageReadError
        As :class:`FeatureExtractor`.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayfeat.extract import extract_features
    >>> X, info = extract_features([np.zeros((64, 64), np.float32)], image_size=64,
    ...                            families=["intensity"], progress=False)
    >>> X.shape, info.n_computed
    ((1, 42), 1)
    """
    return FeatureExtractor(**params).fit(X).transform_with_info(X)
