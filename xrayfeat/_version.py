"""Version numbers.

``FEATURE_VERSION`` is part of every feature-cache key: bump it whenever a change
to reading, preprocessing, segmentation or feature code alters any feature value,
so that stale cache entries can never be served.
"""

__version__ = "0.1.0"
FEATURE_VERSION = 1
