"""Upload page and JSON API for a fitted model: ``xrayfeat serve`` (the ``web`` extra, Flask).

``create_app(model)`` is a WSGI application with three routes:

- ``GET /``: the page (inline HTML, CSS and JavaScript; no external resources).
  Drop films on it to see each with its lung outline, the explanation heatmap,
  the probability of each class and the decision at the model's threshold.
- ``GET /api/model``: classes, threshold, decision rule, upload limit.
- ``POST /api/predict``: multipart ``file`` fields (one or more); answers
  ``{"results": [...]}``, one entry per file (see :func:`analyse`), with status
  200 when every file was classified, else the first refusal's 4xx (413 too
  large, 415 not an image, 422 unusable image, 400 no file) and an ``error``.

Importing this module does not import Flask; :func:`create_app` does.
"""

from __future__ import annotations

from .analysis import CLASS_NAMES, UploadError, analyse, model_summary
from .app import DEFAULT_MAX_UPLOAD_MB, DEFAULT_PORT, create_app, demo_model, serve

__all__ = ["create_app", "serve", "demo_model", "analyse", "model_summary", "UploadError",
           "CLASS_NAMES", "DEFAULT_PORT", "DEFAULT_MAX_UPLOAD_MB"]
