"""``xrayfeat serve``'s API through Flask's test client: answers, refusals, limits."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
import pytest

import xrayfeat
from xrayfeat.sample_data import sample_path
from xrayfeat import explain

pytest.importorskip("flask")  # the optional 'web' extra (in the 'test' extra, so CI has it)

from xrayfeat.web import DEFAULT_MAX_UPLOAD_MB, create_app, demo_model  # noqa: E402

FILM = sorted((sample_path() / "test" / "PNEUMONIA").glob("*.jpeg"))[0]


@pytest.fixture(scope="module")
def model():
    return demo_model()


@pytest.fixture(scope="module")
def client(model):
    return create_app(model, note="test model").test_client()


def _post(client, *files, query=""):
    data = {"file": [(io.BytesIO(content), name) for name, content in files]}
    return client.post("/api/predict" + query, data=data, content_type="multipart/form-data")


def _png(arr: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    return buf.tobytes()


def _decode_data_url(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    raw = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)


def test_a_film_gets_the_same_answer_as_the_library(client, model):
    resp = _post(client, (FILM.name, FILM.read_bytes()))
    assert resp.status_code == 200
    (r,) = resp.get_json()["results"]
    expected = xrayfeat.predict_proba(model, [str(FILM)])[0]
    assert r["file"] == FILM.name and list(r["probabilities"]) == ["NORMAL", "PNEUMONIA"]
    np.testing.assert_allclose(list(r["probabilities"].values()), expected, rtol=0, atol=1e-12)
    assert r["label"] == xrayfeat.predict(model, [str(FILM)])[0]
    assert r["threshold"] == pytest.approx(model.threshold_)
    e = explain(model, str(FILM))
    assert r["lungs_found"] is True and r["inside_lungs"] == pytest.approx(e.inside_lungs)
    assert r["warning"] == ""
    assert r["method"] == e.method == "linear"
    film = _decode_data_url(r["film_png"])
    assert film.shape == (224, 224, 3)
    # the lung outline is drawn in yellow on the grey film, along the explanation's mask
    yellow = (film[..., 2].astype(int) - film[..., 0].astype(int) > 120)
    assert yellow.sum() > 100
    m, k = e.lung_mask.view(np.uint8), np.ones((5, 5), np.uint8)
    band = cv2.dilate(m, k).astype(bool) & ~cv2.erode(m, k).astype(bool)
    assert yellow[band].sum() > 0.95 * yellow.sum()
    # the heatmap is red where the explanation pushed towards the label, blue where away
    heat = _decode_data_url(r["heatmap_png"]).astype(int)
    redness = heat[..., 2] - heat[..., 0]
    strong = np.abs(e.heatmap) > 0.5 * np.abs(e.heatmap).max()
    assert (redness[strong & (e.heatmap > 0)] > 0).all() and (redness[strong & (e.heatmap < 0)] < 0).all()


def test_an_image_without_lungs_is_answered_with_a_warning_not_silently(client):
    from xrayfeat.web.analysis import NO_LUNGS

    flat = np.full((300, 300), 128, np.uint8)
    ok, buf = cv2.imencode(".png", flat)
    (r,) = _post(client, ("flat.png", buf.tobytes())).get_json()["results"]
    assert r["lungs_found"] is False and r["warning"] == NO_LUNGS


def test_odd_modes_and_dicom_are_read(client, model):
    grey = cv2.imread(str(FILM), cv2.IMREAD_GRAYSCALE)
    rgba = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGRA)
    rgba[..., 3] = 80  # a translucent alpha channel is dropped, not blended
    deep = grey.astype(np.uint16) * 257  # 16-bit PNG with the same grey levels
    expected = xrayfeat.predict_proba(model, [grey])[0]
    resp = _post(client, ("rgba.png", _png(rgba)), ("deep.png", _png(deep)), ("grey.png", _png(grey)),
                 ("film.dcm", _dicom(deep)))
    assert resp.status_code == 200, resp.get_json()
    results = resp.get_json()["results"]
    for r in results[:3]:
        np.testing.assert_allclose(list(r["probabilities"].values()), expected, atol=1e-6)
    assert sum(results[3]["probabilities"].values()) == pytest.approx(1.0)


def test_an_inverted_film_is_read_as_its_negative_and_says_so(client, model):
    grey = cv2.imread(str(FILM), cv2.IMREAD_GRAYSCALE)
    resp = _post(client, ("film.png", _png(grey)), ("white-lungs.png", _png(255 - grey)))
    assert resp.status_code == 200, resp.get_json()
    stored, inverted = resp.get_json()["results"]
    assert stored["inverted"] is False and inverted["inverted"] is True
    np.testing.assert_allclose(list(inverted["probabilities"].values()),
                               list(stored["probabilities"].values()), atol=1e-6)


def _dicom(pixels: np.ndarray) -> bytes:
    pytest.importorskip("pydicom")
    from pydicom import dcmwrite
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("film.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, 16, 15
    ds.PixelRepresentation = 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    buf = io.BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


@pytest.mark.parametrize("name, content, status, message", [
    ("notes.txt", b"these are not pixels", 415, "not an image xrayfeat reads"),
    ("empty.jpeg", b"", 422, "the file is empty (0 bytes)"),
    ("cut.jpeg", FILM.read_bytes()[:2000], 422, "truncated JPEG"),
    ("dot.png", _png(np.zeros((8, 8), np.uint8)), 422, "only 8 x 8 pixels"),
    ("cut.dcm", None, 422, "invalid DICOM"),
])
def test_bad_uploads_get_a_clear_4xx_and_the_server_keeps_serving(client, name, content, status, message):
    if content is None:  # a DICOM cut short after its header
        grey = cv2.imread(str(FILM), cv2.IMREAD_GRAYSCALE).astype(np.uint16)
        content = _dicom(grey)[:600]
    resp = _post(client, (name, content))
    assert resp.status_code == status
    body = resp.get_json()
    assert body["error"].startswith(name + ": ") and message in body["error"]
    assert body["results"] == [{"file": name, "error": body["error"], "status": status}]
    assert _post(client, (FILM.name, FILM.read_bytes())).status_code == 200


def test_a_mixed_request_answers_every_file_with_the_refusals_status(client):
    resp = _post(client, ("a.jpeg", FILM.read_bytes()), ("b.txt", b"text"), ("c.jpeg", FILM.read_bytes()),
                 query="?images=0")
    assert resp.status_code == 415
    a, b, c = resp.get_json()["results"]
    assert a["probabilities"] == c["probabilities"] and "film_png" not in a
    assert b["status"] == 415 and "b.txt" in b["error"]


def test_no_file_and_unknown_routes_are_json_errors(client):
    resp = client.post("/api/predict", data={}, content_type="multipart/form-data")
    assert resp.status_code == 400 and "'file' fields" in resp.get_json()["error"]
    assert client.get("/api/predict").status_code == 405
    assert client.get("/nothing").get_json()["error"].startswith("no such page")


class _Body:
    """A request body of zeros that counts how much of it the server reads."""

    def __init__(self, size: int):
        self.size, self.pos, self.read_bytes = size, 0, 0

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = 0) -> int:  # the test client measures the length
        self.pos = self.size if whence == 2 else pos
        return self.pos

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.pos if n is None or n < 0 else min(n, self.size - self.pos)
        self.pos += n
        self.read_bytes += n
        return b"\0" * n


def test_a_huge_upload_is_refused_before_its_body_is_read(model):
    app = create_app(model, max_upload_mb=1)
    body = _Body(50 * 10**6)
    resp = app.test_client().post(
        "/api/predict", input_stream=body, content_length=body.size,
        content_type="multipart/form-data; boundary=xyz")
    assert resp.status_code == 413
    assert "larger than the server's limit of 1 MB" in resp.get_json()["error"]
    assert body.read_bytes == 0


def test_the_page_is_self_contained_and_describes_the_model(client, model):
    html = client.get("/").get_data(as_text=True)
    assert "src=\"http" not in html and "href=\"http" not in html and "@import" not in html
    assert "<script src" not in html and "<link rel=\"stylesheet" not in html
    assert '"note": "test model"' in html and f'"max_upload_bytes": {int(DEFAULT_MAX_UPLOAD_MB * 1e6)}' in html
    info = client.get("/api/model").get_json()
    assert info["classes"] == ["NORMAL", "PNEUMONIA"] and info["threshold"] == pytest.approx(model.threshold_)
    assert info["names"]["PNEUMONIA"] == "pneumonia"


def test_uploads_stay_in_memory(client, monkeypatch):
    import werkzeug.formparser

    def no_temporary_file(*args, **kwargs):
        raise AssertionError("the upload was spooled to a temporary file")

    # Werkzeug's default puts every upload in a SpooledTemporaryFile (on disk past 500 kB).
    monkeypatch.setattr(werkzeug.formparser, "SpooledTemporaryFile", no_temporary_file)
    assert _post(client, (FILM.name, FILM.read_bytes())).status_code == 200


def test_a_three_class_model_answers_normal_bacterial_viral():
    model = demo_model("3class")
    client = create_app(model).test_client()
    info = client.get("/api/model").get_json()
    assert info["threshold"] is None and info["decision"].startswith("the class with the largest p(class) / prior")
    assert info["names"] == {"BACTERIA": "bacterial pneumonia", "NORMAL": "normal", "VIRUS": "viral pneumonia"}
    # the priors the rule divides by, stated on the page
    for c, share in zip(model.classes_, model.prevalence_):
        assert f"{info['names'][c]} {100 * share:.0f} %" in info["decision"]
    (r,) = _post(client, (FILM.name, FILM.read_bytes()), query="?images=0").get_json()["results"]
    p = r["probabilities"]
    assert set(p) == {"BACTERIA", "NORMAL", "VIRUS"} and sum(p.values()) == pytest.approx(1.0)
    prior = dict(zip(model.classes_, model.prevalence_))  # the balanced-accuracy rule
    assert r["label"] == max(p, key=lambda c: p[c] / prior[c]) and r["threshold"] is None
