"""Version numbers.

``FEATURE_VERSION`` is part of every feature-cache key: bump it whenever a change
to reading, preprocessing, segmentation or feature code alters any feature value,
so that stale cache entries can never be served.
"""

__version__ = "0.1.0"
# 2: integer grey levels are scaled by a correctly rounded division (files and arrays
# alike); 126 of the 256 uint8 levels read from files moved by one float32 ulp.
FEATURE_VERSION = 2
