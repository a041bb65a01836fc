"""Version numbers.

``FEATURE_VERSION`` is part of every feature-cache key: bump it whenever a change
to reading, preprocessing, segmentation or feature code alters any feature value,
so that stale cache entries can never be served.
"""

__version__ = "0.1.0"
# 2: integer grey levels are scaled by a correctly rounded division (files and arrays
# alike); 126 of the 256 uint8 levels read from files moved by one float32 ulp.
# 3: integer images are scaled by their bit depth, not their dtype's range (10-16-bit
# levels in 16-bit files and arrays; 8-bit images and 16-bit ones using their range
# are unchanged).
# 4: white-lung (inverted) films are flipped before segmentation and features
# (FeatureExtractor(invert="auto")), and the polarity rule also reads the abdomen
# (SEGMENT_VERSION 5); features of films judged as before are unchanged.
# 5: LBP blurs its input (Gaussian, sigma 1 px) before coding it (LBPParams.smoothing);
# with smoothing=0 LBP features are unchanged, and other families are unchanged.
FEATURE_VERSION = 5
