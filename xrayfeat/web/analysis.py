"""One uploaded film in, one JSON-ready answer out: probabilities, decision, pictures.

Independent of the web framework, so that the page, the API and the tests share
one code path. Uploads are decoded from memory (:func:`xrayfeat.io.decode_image`);
nothing is written to disk and the client's file name is only echoed back.
"""

from __future__ import annotations

import base64
import warnings
from typing import Any

import numpy as np

from ..exceptions import ImageReadError, XrayfeatError
from ..io import CorruptImageWarning, decode_image, image_format

__all__ = ["UploadError", "analyse", "model_summary", "DISPLAY_SIDE", "CLASS_NAMES"]

#: Longest side of the pictures sent back, in pixels (enough for a screen, small JSON).
DISPLAY_SIDE = 512

#: Server-side pixel limit: 2**25 (~5,800 x 5,800) is above any radiograph and keeps
#: one decode under ~130 MB of float32, so concurrent uploads cannot exhaust memory.
MAX_PIXELS = 2**25

#: How the page names the classes xrayfeat's data sets use.
CLASS_NAMES = {"NORMAL": "normal", "PNEUMONIA": "pneumonia", "BACTERIA": "bacterial pneumonia",
               "VIRUS": "viral pneumonia"}

# Lung outline in yellow (BGR), as in plot_explanation; heatmap opacity as its default alpha.
_OUTLINE = (0, 230, 255)
_HEAT_ALPHA = 0.6


class UploadError(XrayfeatError):
    """An upload that cannot be classified, with the HTTP status that says why.

    Attributes
    ----------
    status : int
        415 not an image format xrayfeat reads (or DICOM without pydicom), 422
        an image that cannot be decoded or used (empty, truncated, corrupt, too
        small or too large). Requests over the size limit never get here: the
        app answers them 413 before reading them.
    """

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status

#: The warning of an answer for a film without plausible lung fields.
NO_LUNGS = ("No plausible lung fields were found: this may not be a frontal chest film, and the "
            "probabilities come from a central crop of it. Do not rely on them.")


def _png(bgr_or_grey: np.ndarray) -> str:
    import cv2

    ok, buf = cv2.imencode(".png", bgr_or_grey)
    if not ok:  # pragma: no cover - imencode fails only on invalid arrays
        raise XrayfeatError("could not encode a PNG")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _display_size(shape: tuple[int, int]) -> tuple[int, int]:
    rows, cols = shape
    scale = min(1.0, DISPLAY_SIDE / max(rows, cols))
    return max(1, round(rows * scale)), max(1, round(cols * scale))


def _film_with_outline(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    import cv2

    rows, cols = _display_size(image.shape)
    grey = cv2.resize(image, (cols, rows), interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor((grey * 255).round().astype(np.uint8), cv2.COLOR_GRAY2BGR)
    if mask is not None and mask.any():
        small = cv2.resize(mask.view(np.uint8), (cols, rows), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(bgr, contours, -1, _OUTLINE, max(1, round(max(rows, cols) / 256)), cv2.LINE_AA)
    return bgr


def _heatmap_overlay(image: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """The film in grey with the signed heatmap blended over it, BGR uint8.

    The conventions of :func:`xrayfeat.plot_explanation`, drawn with OpenCV (fast,
    no matplotlib): red towards the predicted label, blue away from it, the same
    colour limit, and opacity growing with the square root of the attribution.
    """
    import cv2

    from ..plots import _heat_scale

    rows, cols = _display_size(image.shape)
    grey = cv2.resize(image, (cols, rows), interpolation=cv2.INTER_AREA)
    heat = cv2.resize(np.nan_to_num(heatmap).astype(np.float32), (cols, rows), interpolation=cv2.INTER_LINEAR)
    t = np.clip(heat / _heat_scale(heatmap), -1, 1)[..., None]
    towards, away = np.array([0.17, 0.1, 0.75]), np.array([0.68, 0.4, 0.13])  # BGR of RdBu's ends
    colour = np.where(t >= 0, towards, away)
    alpha = _HEAT_ALPHA * np.sqrt(np.abs(t))
    out = grey[..., None] * (1 - alpha) + colour * alpha
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


def model_summary(model: Any, *, note: str = "") -> dict[str, Any]:
    """What the page and ``GET /api/model`` say about the model.

    Parameters
    ----------
    model : XrayClassifier
        Fitted.
    note : str, default=""
        Where the model comes from (e.g. the demo model's warning).

    Returns
    -------
    dict
        ``classes``, ``names`` (readable class names), ``threshold`` (None for a
        multiclass model), ``positive_class``, ``decision`` (the rule in words),
        ``objective`` and ``note``.
    """
    classes = [str(c) for c in model.classes_]
    threshold = None if model.threshold_ is None else float(model.threshold_)
    positive = None if threshold is None else str(model.pos_label_)
    if positive is not None:
        negative = next(c for c in classes if c != positive)
        rule = f"{positive} when p({positive}) >= {threshold:.3f} ({model.objective_}), else {negative}"
    elif getattr(model, "class_costs_", None) is not None:
        rule = "the class of lowest expected cost"
    else:
        # The shares make the rule checkable on the page: a film at 50 % normal and
        # 49 % viral is called viral when normals are half as common as viral films.
        shares = ", ".join(f"{CLASS_NAMES.get(c.upper(), c)} {100 * p:.0f} %"
                           for c, p in zip(classes, model.prevalence_))
        rule = (f"the class with the largest p(class) / prior(class) (balanced accuracy); "
                f"priors: {shares}")
    return {"classes": classes, "names": {c: CLASS_NAMES.get(c.upper(), c) for c in classes},
            "threshold": threshold, "positive_class": positive,
            "decision": rule, "objective": str(model.objective_), "note": note}


def _decode(data: bytes, name: str, *, target_size: int) -> tuple[np.ndarray, str]:
    """Decode an upload; a damaged-but-decodable JPEG is used with a warning in the answer."""
    if len(data) and image_format(data[:132]) is None:
        raise UploadError(f"{name}: not an image xrayfeat reads (JPEG, PNG, BMP, TIFF or DICOM)", 415)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CorruptImageWarning)
        try:
            image = decode_image(data, name=name, target_size=target_size, max_pixels=MAX_PIXELS)
        except ImageReadError as exc:
            status = 415 if "pydicom" in exc.reason else 422  # DICOM without the dicom extra
            raise UploadError(f"{name}: {exc.reason}", status) from None
    damage = "; ".join(str(w.message) for w in caught if issubclass(w.category, CorruptImageWarning))
    return image, damage


def analyse(model: Any, data: bytes, *, name: str = "upload", images: bool = True) -> dict[str, Any]:
    """Classify one uploaded film, explain it and draw what the page shows.

    Parameters
    ----------
    model : XrayClassifier
        Fitted.
    data : bytes
        The file as uploaded (JPEG, PNG, BMP, TIFF; DICOM with the ``dicom`` extra).
    name : str, default="upload"
        The client's file name, used only in the answer and in messages.
    images : bool, default=True
        Also return the film with its lung outline and the heatmap as PNG data URLs.

    Returns
    -------
    dict
        ``file``, ``label``, ``name`` (readable label), ``probabilities``
        (class -> float, ``model.classes_`` order), ``threshold``, ``shape``
        (rows, cols as read for the model), ``lungs_found`` (False: the lung
        mask was implausible and the model read a central crop),
        ``inside_lungs`` (share of the positive attribution inside the lungs,
        None without a mask), ``inverted`` (the film looked inverted, white
        lungs, and its negative was read), ``method`` (of :func:`xrayfeat.explain`),
        ``warning`` (:data:`NO_LUNGS` when no lungs were found, decoder damage, or
        ""), and with ``images``: ``film_png``
        and ``heatmap_png`` (PNG data URLs, at most :data:`DISPLAY_SIDE` px).

    Raises
    ------
    UploadError
        With the HTTP status for the problem (415 not an image, 422 unusable).
    """
    from ..explanations import explain

    image, damage = _decode(data, name, target_size=model.features_.image_size)
    # The explanation classifies the film too: one segmentation and one feature vector.
    e = explain(model, image)
    proba, label = e.proba, str(e.label)
    classes = [str(c) for c in model.classes_]
    inside = float(e.inside_lungs)
    lungs_found = e.lung_mask is not None and not e.crop_fallback
    # A flat image or noise still gets probabilities; the one sign it is not a chest film
    # is that no plausible lungs were found, said where it cannot be missed.
    warning = " ".join(w for w in (NO_LUNGS if not lungs_found else "", damage) if w)
    out: dict[str, Any] = {
        "file": name, "label": label, "name": CLASS_NAMES.get(label.upper(), label),
        "probabilities": {c: float(p) for c, p in zip(classes, proba)},
        "threshold": None if model.threshold_ is None else float(model.threshold_),
        "shape": [int(s) for s in image.shape],
        "lungs_found": lungs_found,
        "inside_lungs": None if np.isnan(inside) else inside,
        "inverted": e.inverted,
        "method": e.method,
        "warning": warning,
    }
    if images:
        out["film_png"] = _png(_film_with_outline(image, e.lung_mask))
        out["heatmap_png"] = _png(_heatmap_overlay(image, e.heatmap))
    return out
