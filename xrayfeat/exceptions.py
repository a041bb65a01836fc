"""Exception hierarchy: every error xrayfeat raises on purpose is an ``XrayfeatError``.

The concrete classes also derive from the built-in exception a scikit-learn user
would expect (``ValueError``, ``FileNotFoundError``), so existing ``except`` clauses
keep working.
"""

from __future__ import annotations

__all__ = [
    "XrayfeatError",
    "ImageReadError",
    "DatasetError",
    "DuplicateImageError",
    "ConfigError",
    "SegmentationError",
    "ModelFileError",
    "CacheError",
]


class XrayfeatError(Exception):
    """Base class of all errors raised by xrayfeat."""


class ImageReadError(XrayfeatError, ValueError):
    """An image could not be read or decoded.

    Attributes
    ----------
    path : str or None
        The offending file, or None for an in-memory array.
    reason : str
        What is wrong with it, in words.
    """

    def __init__(self, path: object, reason: str):
        self.path = None if path is None else str(path)
        self.reason = reason
        where = "array input" if path is None else repr(self.path)
        super().__init__(f"cannot read image {where}: {reason}")

    def __reduce__(self):
        # Rebuild from (path, reason) so the error survives process boundaries (joblib).
        return (type(self), (self.path, self.reason))


class DatasetError(XrayfeatError, ValueError):
    """A data set folder or manifest does not have the expected layout."""


class DuplicateImageError(DatasetError):
    """Byte-identical images that would leak between patients, labels or splits."""


class ConfigError(XrayfeatError, ValueError):
    """A parameter or configuration value is invalid."""


class SegmentationError(XrayfeatError, ValueError):
    """Lung segmentation could not produce a usable mask."""


class ModelFileError(XrayfeatError, ValueError):
    """A saved model file is missing, foreign, tampered with or unsafe to load."""


class CacheError(ConfigError):
    """The feature cache file cannot be opened, read or written (damaged, read-only, ...).

    A :class:`ConfigError` so that existing ``except ConfigError`` clauses keep
    working; the message names the file and what to do about it.

    Attributes
    ----------
    kind : {"damaged", "permission", "full", "busy", "other"}
        "permission" when the file or its folder cannot be written, "full" when
        the disk is, "busy" when another program holds the file locked past the
        timeout (callers that only want speed may carry on without the cache).
    """

    def __init__(self, message: str, kind: str = "other"):
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):
        return (type(self), (str(self), self.kind))
