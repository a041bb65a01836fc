"""The Flask application behind ``xrayfeat serve``: the upload page and ``/api/*``."""

from __future__ import annotations

import errno
import io
import json
import signal
import socket
import threading
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

from ..exceptions import ConfigError
from .analysis import UploadError, analyse, model_summary

__all__ = ["create_app", "serve", "demo_model", "DEFAULT_PORT", "DEFAULT_MAX_UPLOAD_MB"]

DEFAULT_PORT = 8000
#: Requests above this are refused with 413 from their Content-Length (or, when
#: streamed without one, as soon as the cap is passed), before the body is read.
#: 32 MB holds an uncompressed 4k x 4k 16-bit DICOM; radiograph JPEGs are 1-3 MB.
DEFAULT_MAX_UPLOAD_MB = 32.0
#: Files per request; the page sends one per request.
MAX_FILES = 32

DEMO_NOTE = ("Demonstration model fitted at start-up on the 100 training films of the embedded "
             "sample: far too few to be accurate. Not for diagnosis; start the server with your own "
             "model: xrayfeat serve model.xrf")


def _flask():
    try:
        import flask
    except ImportError:
        raise ConfigError("xrayfeat serve needs the optional Flask package: pip install 'xrayfeat[web]'") from None
    return flask


def demo_model(labels: str = "binary") -> Any:
    """Fit the demonstration model on the embedded sample's training split (seconds).

    Parameters
    ----------
    labels : {"binary", "3class"}, default="binary"

    Returns
    -------
    XrayClassifier
    """
    from ..api import fit
    from ..sample_data import load_sample

    return fit(load_sample("train", labels=labels), labels=labels)


def _in_memory_request(flask: Any) -> type:
    class InMemoryRequest(flask.Request):
        """Uploads are kept in memory (their size is capped), never in a temporary file."""

        def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
            return io.BytesIO()

    return InMemoryRequest


def create_app(model: Any, *, note: str = "", max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB) -> Any:
    """The WSGI application: ``GET /``, ``GET /api/model``, ``POST /api/predict``.

    Parameters
    ----------
    model : XrayClassifier
        Fitted (``xrayfeat.fit`` or ``xrayfeat.load``). Prediction runs in the
        request's thread (``n_jobs`` is set to None on the app's copy).
    note : str, default=""
        Shown on the page and in ``/api/model`` (where the model comes from).
    max_upload_mb : float, default=32
        Largest request body, in MB (10**6 bytes).

    Returns
    -------
    flask.Flask
        Serve it with any WSGI server; :func:`serve` uses Werkzeug's threaded one.

    Raises
    ------
    ConfigError
        If Flask is not installed or ``max_upload_mb`` is not positive.
    """
    flask = _flask()
    import copy

    from ..classifier import XrayClassifier

    if not isinstance(model, XrayClassifier):
        raise ConfigError(f"expected a fitted XrayClassifier; got {type(model).__name__}.")
    if not max_upload_mb > 0:
        raise ConfigError(f"max_upload_mb must be positive; got {max_upload_mb}.")
    model = copy.copy(model).set_params(n_jobs=None)
    limit = int(max_upload_mb * 1e6)
    summary = {**model_summary(model, note=note), "max_upload_bytes": limit, "max_files": MAX_FILES}
    page = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

    app = flask.Flask("xrayfeat.web")
    app.request_class = _in_memory_request(flask)
    app.config["MAX_CONTENT_LENGTH"] = limit
    app.config["MAX_FORM_PARTS"] = MAX_FILES + 8

    def error(message: str, status: int) -> Any:
        return flask.jsonify({"error": message, "results": []}), status

    @app.get("/")
    def index() -> Any:
        # The model summary is inlined so the page needs no second request to render.
        blob = json.dumps(summary).replace("<", "\\u003c")
        return flask.Response(page.replace("/*MODEL*/null", blob), mimetype="text/html")

    @app.get("/api/model")
    def api_model() -> Any:
        return flask.jsonify(summary)

    @app.post("/api/predict")
    def api_predict() -> Any:
        files = flask.request.files.getlist("file")
        if not files:
            return error("no file in the request: send multipart/form-data with one or more 'file' fields.", 400)
        if len(files) > MAX_FILES:
            return error(f"{len(files)} files in one request; at most {MAX_FILES}.", 413)
        images = flask.request.args.get("images", "1") not in ("0", "false", "no")
        results, status = [], 200
        for i, upload in enumerate(files):
            # The client's name is echoed, never used as a path; cut so it cannot bloat the answer.
            name = (upload.filename or f"file {i + 1}")[:200]
            t0 = time.perf_counter()
            try:
                result = analyse(model, upload.stream.read(), name=name, images=images)
            except UploadError as exc:
                results.append({"file": name, "error": str(exc), "status": exc.status})
                status = exc.status if status == 200 else status
                continue
            result["seconds"] = round(time.perf_counter() - t0, 4)
            results.append(result)
        body: dict[str, Any] = {"results": results}
        if status != 200:
            body["error"] = next(r["error"] for r in results if "error" in r)
        return flask.jsonify(body), status

    @app.errorhandler(413)
    def too_large(exc: Any) -> Any:
        return error(f"the upload is larger than the server's limit of {limit / 1e6:g} MB "
                     "(xrayfeat serve --max-upload-mb).", 413)

    @app.errorhandler(400)
    def bad_request(exc: Any) -> Any:
        return error(f"bad request: {getattr(exc, 'description', exc)}", 400)

    @app.errorhandler(404)
    def not_found(exc: Any) -> Any:
        return error("no such page; the API is POST /api/predict and GET /api/model.", 404)

    @app.errorhandler(405)
    def wrong_method(exc: Any) -> Any:
        return error("method not allowed here; POST /api/predict takes multipart 'file' fields.", 405)

    return app


def serve(model: Any = None, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, labels: str = "binary",
          max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB, log: Callable[[str], None] = print,
          ready: Callable[[Any], None] | None = None) -> None:
    """Serve the page and the API until interrupted (Ctrl-C).

    Parameters
    ----------
    model : XrayClassifier or None, default=None
        None fits :func:`demo_model` first and says so on the page.
    host : str, default="127.0.0.1"
        Address to bind; the default is reachable from this machine only.
    port : int, default=8000
        0 picks a free port (the address is logged).
    labels : {"binary", "3class"}, default="binary"
        Label set of the demo model.
    max_upload_mb : float, default=32
        See :func:`create_app`.
    log : callable, default=print
        Receives status lines.
    ready : callable or None, default=None
        Called with the server once it listens (tests use it to stop it).
    """
    _flask()  # before fitting anything: say at once that the extra is missing
    _check_address(host, port)
    note = ""
    if model is None:
        t0 = time.perf_counter()
        log(f"no model given: fitting a {labels} demonstration model on the embedded sample ...")
        model = demo_model(labels)
        log(f"demonstration model ready in {time.perf_counter() - t0:.1f} s")
        note = DEMO_NOTE
    app = create_app(model, note=note, max_upload_mb=max_upload_mb)
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)
    log(f"serving on http://{host}:{server.server_port}/ (Ctrl-C to stop)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        log(f"warning: bound to {host}: other machines can reach the page, and it has no authentication")
    if ready is not None:
        ready(server)
    previous = None
    if threading.current_thread() is threading.main_thread():
        # A service manager's SIGTERM stops the server as cleanly as Ctrl-C.
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()  # Werkzeug's returns on Ctrl-C (it catches KeyboardInterrupt)
    finally:
        server.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    log("stopped")


def _check_address(host: str, port: int) -> None:
    """Refuse, in one line, an address the server could not listen on.

    Werkzeug prints its own lines and exits when binding fails, and silently wraps
    a port above 65535; checked here first (with the same SO_REUSEADDR, so a port
    in TIME_WAIT is not mistaken for a busy one).
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port must be an integer in 0-65535 (0: any free port); got {port!r}.")
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"cannot serve on host {host!r}: {exc.strerror or exc}.") from None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} on {host} is in use by another program; choose another "
                                  "with --port (0: any free port).") from None
            raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror or exc}.") from None


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
