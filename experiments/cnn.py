"""A from-scratch CNN trained in the benchmark's harness: same split, same threshold rule, same metrics.

The projects xrayfeat grew from were small Keras CNNs on this data (a few
convolution blocks, dropout, rotation / shift / zoom augmentation, training
curves) whose accuracies were never measured on a patient-grouped, held-back
split. This module trains that kind of model on the run's training split and
writes its test-set predictions in the CSV format :mod:`experiments.compare`
reads, so the report compares it with the classical pipelines by the same
paired tests (DeLong, McNemar, patient bootstrap).

Architecture (``filters`` and ``dense`` are configurable; defaults in
``experiments/configs/default.toml``, ``[cnn]``)::

    input  size x size x 1   grey, [0, 1]   (xrayfeat.io.read_image + resize_to, as the pipelines read)
    standardised             minus the training pixels' mean, over their std (on the host)
    for each f in filters (default 16, 32, 64, 128):
        Conv2D(f, 3x3, same) -> BatchNormalization(momentum 0.9) -> ReLU -> MaxPool 2x2
    GlobalAveragePooling -> Dropout(dropout) -> Dense(dense, ReLU) -> Dropout(dropout)
    Dense(n_classes, softmax)                 2 classes (binary) or 3 (NORMAL / BACTERIA / VIRUS)

About 106,000 parameters with the defaults. Augmentation, training images only,
drawn afresh every epoch (:func:`augment`): rotation within +-``rotation``
degrees, shift within +-``shift`` of the side, zoom within 1 +- ``zoom``; no
flips (the heart is on the left).

Training: Adam (``learning_rate``), sparse categorical cross-entropy with
class weights inversely proportional to class frequency (as the classical
classifiers weight classes), ``batch_size`` images per step (whole batches:
the few images left over change with each epoch's shuffle), at most
``epochs`` epochs. Validation: the first of ``val_folds`` patient-grouped,
class-stratified folds of the training split (:func:`xrayfeat.patient_folds`);
the other patients are trained on. Training stops after ``patience`` epochs
without a lower validation loss and keeps the best epoch's weights. The
binary decision threshold is chosen on the validation images' probabilities
by the pipelines' own rule (:func:`xrayfeat.calibrated.tune_threshold` with
the run's threshold objective); 3-class predictions take the most probable
class. The model is not refitted on the validation patients: their images
chose the epoch and the threshold. (The pipelines choose their threshold on
out-of-fold probabilities of all training patients; a CNN has one validation
fold, which costs it a fifth of its training data.)

Every random choice follows the run's seed: the weights and dropout through
``keras.utils.set_random_seed(seed)``, the validation fold, batch order and
augmentation through numpy generators seeded with it; on CPU two runs give
identical predictions. JAX's persistent compilation cache (``<out>/jax-cache``
unless ``run.cache = "off"``) spares reruns the seconds of XLA compilation. Keras 3 runs on the JAX backend, which uses a GPU when a CUDA
build of jaxlib is installed (``pip install -U "jax[cuda12]"``); the device
used is recorded. Keras and JAX are imported only when a CNN is trained
(optional extra ``xrayfeat[cnn]``).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from xrayfeat.dataset import Dataset
from xrayfeat.exceptions import ConfigError

__all__ = ["CNN_NAME", "check_available", "load_images", "augment", "train_cnn", "write_predictions", "hardware",
           "run_stage"]

#: Name of the CNN in the comparisons (``compare/<name>.json``) and its folder in the run.
CNN_NAME = "cnn"

_INSTALL_HINT = "pip install 'xrayfeat[cnn]' (Keras 3 and JAX; CPU wheels, about 440 MB)"


def check_available() -> None:
    """Raise ConfigError naming the install command when Keras or JAX is missing."""
    missing = [m for m in ("keras", "jax") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"cnn.enabled needs {' and '.join(missing)}: {_INSTALL_HINT}.")


def _keras():
    """Keras on the JAX backend (the backend is fixed when keras is first imported)."""
    check_available()
    os.environ["KERAS_BACKEND"] = "jax"
    import keras

    if keras.backend.backend() != "jax":
        raise ConfigError(
            f"keras was already imported with the {keras.backend.backend()!r} backend in this process; "
            "the CNN needs KERAS_BACKEND=jax (set it before keras is first imported)."
        )
    return keras


def _compile_cache(path: str | os.PathLike | None) -> None:
    """Keep XLA's compiled programs in ``path`` (JAX's persistent compilation cache).

    Compiling the training step takes seconds on CPU, as long as training a tiny
    network; a rerun, or a second network of the same shapes, loads it instead.
    JAX holds one cache directory per process: the first one set stays in use.
    """
    import jax

    if path is None or jax.config.jax_compilation_cache_dir:
        return
    Path(path).mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def hardware() -> dict[str, Any]:
    """The devices JAX computes on and the host's processor and cores."""
    import jax

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count()
    devices = jax.devices()
    return {"backend": jax.default_backend(), "devices": [str(d) for d in devices],
            "device_kind": devices[0].device_kind, "processor": platform.processor() or platform.machine(),
            "cpu_cores": cores}


def load_images(paths: Any, size: int) -> np.ndarray:
    """Images as one float32 array of shape (n, size, size, 1), grey in [0, 1]."""
    from xrayfeat.io import read_image
    from xrayfeat.preprocess import resize_to

    out = np.empty((len(paths), size, size, 1), dtype=np.float32)
    for i, p in enumerate(paths):
        out[i, :, :, 0] = resize_to(read_image(p, target_size=size), size, size)
    return out


def augment(images: np.ndarray, rng: np.random.Generator, *, rotation: float, shift: float,
            zoom: float, fill: float = 0.0) -> np.ndarray:
    """Randomly rotated, shifted and zoomed copies of ``images`` (n, size, size, 1); no flips.

    One affine warp per image (OpenCV, bilinear, ``fill`` outside the film): rotation
    uniform in +-``rotation`` degrees, scale in 1 +- ``zoom``, shift in +-``shift``
    of the side along each axis. Done on the host rather than by Keras' random
    image layers, which multiply the XLA compilation time of the training step
    (16 s instead of 4 s on CPU).
    """
    import cv2

    n, size = len(images), images.shape[1]
    angle = rng.uniform(-rotation, rotation, n)
    scale = rng.uniform(1.0 - zoom, 1.0 + zoom, n)
    move = rng.uniform(-shift, shift, (n, 2)) * size
    out = np.empty_like(images)
    centre = ((size - 1) / 2.0, (size - 1) / 2.0)
    for i in range(n):
        M = cv2.getRotationMatrix2D(centre, float(angle[i]), float(scale[i]))
        M[:, 2] += move[i]
        out[i, :, :, 0] = cv2.warpAffine(images[i, :, :, 0], M, (size, size), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=float(fill))
    return out


def _build(keras, size: int, n_classes: int, params: dict[str, Any]):
    L = keras.layers
    x = inputs = keras.Input((size, size, 1))
    for f in params["filters"]:
        x = L.Conv2D(f, 3, padding="same", use_bias=False)(x)
        x = L.BatchNormalization(momentum=0.9)(x)
        x = L.Activation("relu")(x)
        x = L.MaxPooling2D()(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dropout(params["dropout"])(x)
    x = L.Dense(params["dense"], activation="relu")(x)
    x = L.Dropout(params["dropout"])(x)
    outputs = L.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="xrayfeat_cnn")


def _predict(model, X: np.ndarray, batch_size: int) -> np.ndarray:
    """``model.predict`` in whole batches (zero-padded): every call reuses one compiled step."""
    pad = (-len(X)) % batch_size
    if pad:
        X = np.concatenate([X, np.zeros((pad, *X.shape[1:]), dtype=X.dtype)])
    return np.asarray(model.predict(X, batch_size=batch_size, verbose=0), dtype=np.float64)[:len(X) - pad]


def _val_scores(proba: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy (as Keras clips it) and accuracy of class-index labels ``y``."""
    p = np.clip(proba[np.arange(len(y)), y], 1e-7, 1.0)
    return float(-np.mean(np.log(p))), float(np.mean(np.argmax(proba, axis=1) == y))


def _threshold(proba_pos: np.ndarray, y: np.ndarray, classes: list[str], objective: str | float) -> float:
    """The pipelines' threshold rule on the validation probabilities."""
    if not isinstance(objective, str):
        return float(objective)
    from xrayfeat.calibrated import tune_threshold
    from xrayfeat.thresholds import parse_objective

    oof = np.column_stack([1.0 - proba_pos, proba_pos])
    return float(tune_threshold(oof, y, np.asarray(classes), parse_objective(objective),
                                pos_label=classes[1]).best_threshold_)


def train_cnn(train: Dataset, test: Dataset | None, params: dict[str, Any], *, seed: int,
              threshold: str | float = "balanced_accuracy", compile_cache: str | os.PathLike | None = None,
              log: Callable[[str], None] = print) -> tuple[dict[str, Any], np.ndarray | None]:
    """Train the CNN on ``train`` (patient-grouped validation) and predict ``test``.

    Parameters
    ----------
    train : Dataset
        Training split; its ``groups`` (patients) define the validation fold.
    test : Dataset or None
        Images to predict; None trains and validates only.
    params : dict
        The ``[cnn]`` configuration section: ``image_size``, ``epochs``,
        ``batch_size``, ``learning_rate``, ``patience``, ``val_folds``,
        ``filters``, ``dense``, ``dropout``, ``rotation``, ``shift``, ``zoom``.
    seed : int
        Seed of the validation fold and of ``keras.utils.set_random_seed``.
    threshold : str or float, default="balanced_accuracy"
        Binary threshold objective (see :mod:`xrayfeat.thresholds`) or a fixed
        threshold; ignored for 3 classes.
    compile_cache : str, path or None, default=None
        Folder of JAX's persistent compilation cache (see :func:`_compile_cache`);
        None compiles in memory only.
    log : callable, default=print
        Receives one line per epoch.

    Returns
    -------
    result : dict
        JSON-ready: ``classes``, ``threshold`` (None for 3 classes),
        ``history`` (per epoch: ``epoch``, ``loss``, ``accuracy``,
        ``val_loss``, ``val_accuracy``, ``seconds``), ``best_epoch``,
        ``epochs_run``, ``n_params``, ``architecture`` (layer summary),
        ``n_train``, ``n_val`` (images and patients), ``timing``
        (``load_s``, ``train_s``, ``s_per_epoch``, ``predict_ms_per_image``),
        ``hardware`` (:func:`hardware`), ``versions`` and ``validation``
        (metrics of the validation images at the chosen threshold).
    test_proba : ndarray of shape (n_test, n_classes) or None
        Columns in ``classes`` order.

    Raises
    ------
    ConfigError
        If Keras/JAX are missing or a class has fewer patients than ``val_folds``.
    """
    keras = _keras()
    import jax

    _compile_cache(compile_cache)
    with warnings.catch_warnings():
        # Keras 3.15 converts its variables with np.array(copy=False) semantics that numpy 2 deprecates.
        warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword",
                                category=DeprecationWarning)
        return _train(keras, jax, train, test, params, seed=seed, threshold=threshold, log=log)


def _train(keras, jax, train: Dataset, test: Dataset | None, params: dict[str, Any], *, seed: int,
           threshold: str | float, log: Callable[[str], None]) -> tuple[dict[str, Any], np.ndarray | None]:
    from xrayfeat.dataset import patient_folds
    from xrayfeat.exceptions import DatasetError

    from .evaluation import point_metrics

    size = int(params["image_size"])
    classes = sorted(str(c) for c in np.unique(train.labels))
    try:
        tr, va = patient_folds(train.labels, train.groups, n_splits=params["val_folds"], random_state=seed)[0]
    except DatasetError as exc:
        raise ConfigError(f"cnn.val_folds: {exc}") from None
    t0 = time.perf_counter()
    X = load_images(train.paths, size)
    X_test = load_images(test.paths, size) if test is not None else None
    load_s = time.perf_counter() - t0
    y = np.searchsorted(classes, train.labels).astype(np.int32)
    counts = np.bincount(y[tr], minlength=len(classes))
    class_weight = {k: float(len(tr) / (len(classes) * max(n, 1))) for k, n in enumerate(counts)}

    keras.utils.set_random_seed(seed)
    # Standardised pixels (the training images' mean and std, applied on the host so the
    # compiled program does not depend on the data) and a short BatchNorm memory: the
    # moving variances start at 1, and with raw [0, 1] pixels and Keras' default momentum
    # (0.99) they were still several times the true ones after hundreds of steps, so
    # inference saw a shrunken signal and predicted one class for every image.
    mean, std = float(X[tr].mean()), float(X[tr].std()) or 1.0
    for arr in (X, X_test):
        if arr is not None:
            arr -= mean
            arr /= std
    black = -mean / std
    model = _build(keras, size, len(classes), params)
    model.compile(optimizer=keras.optimizers.Adam(params["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history: list[dict[str, float]] = []
    rng = np.random.default_rng(seed)
    bs = int(params["batch_size"])
    # Whole batches only: a last, smaller batch would compile the training step a second time.
    # The images left out change from epoch to epoch with the shuffle.
    per_epoch = max(bs, (len(tr) // bs) * bs)
    best_loss, best_weights, waited = np.inf, None, 0
    t_train = time.perf_counter()
    for epoch in range(1, params["epochs"] + 1):
        t0 = time.perf_counter()
        order = rng.permutation(tr)
        order = np.resize(order, per_epoch)  # fewer images than one batch: repeat them
        Xa = augment(X[order], rng, rotation=params["rotation"], shift=params["shift"], zoom=params["zoom"],
                     fill=black)
        h = model.fit(Xa, y[order], epochs=1, batch_size=bs, class_weight=class_weight, shuffle=False,
                      verbose=0).history
        # Validation through the same padded predict step as the test set (Keras' own
        # validation would compile an evaluation step per batch shape).
        val_loss, val_acc = _val_scores(_predict(model, X[va], bs), y[va])
        row = {"epoch": epoch, "loss": float(h["loss"][-1]), "accuracy": float(h["accuracy"][-1]),
               "val_loss": val_loss, "val_accuracy": val_acc, "seconds": time.perf_counter() - t0}
        history.append(row)
        log(f"  cnn epoch {epoch}/{params['epochs']}: loss {row['loss']:.3f}, acc {row['accuracy']:.3f} | "
            f"val loss {row['val_loss']:.3f}, val acc {row['val_accuracy']:.3f} ({row['seconds']:.1f} s)")
        if row["val_loss"] < best_loss:
            best_loss, best_weights, waited = row["val_loss"], model.get_weights(), 0
        else:
            waited += 1
            if waited >= params["patience"]:
                break
    train_s = time.perf_counter() - t_train
    model.set_weights(best_weights)
    best = int(np.argmin([r["val_loss"] for r in history])) + 1

    val_proba = _predict(model, X[va], bs)
    binary = len(classes) == 2
    thr = _threshold(val_proba[:, 1], train.labels[va], classes, threshold) if binary else None
    test_proba = None
    predict_ms = None
    if X_test is not None:
        t0 = time.perf_counter()
        test_proba = _predict(model, X_test, bs)
        predict_ms = 1000.0 * (time.perf_counter() - t0) / max(len(X_test), 1)
    # softmax in float32: renormalise so 3-class rows sum to 1 within the CSV reader's tolerance
    for p in (val_proba, test_proba):
        if p is not None:
            p /= p.sum(axis=1, keepdims=True)

    summary: list[str] = []
    model.summary(print_fn=lambda line, *a, **k: summary.append(line))
    result = {
        "name": CNN_NAME, "classes": classes, "threshold": thr,
        "threshold_objective": threshold if binary else "argmax",
        "params": dict(params), "seed": seed, "image_size": size,
        "history": history, "epochs_run": len(history), "best_epoch": best,
        "stopped_early": len(history) < params["epochs"],
        "n_params": int(model.count_params()), "architecture": summary,
        "n_train": {"images": int(len(tr)), "patients": int(len(set(train.groups[tr].tolist())))},
        "n_val": {"images": int(len(va)), "patients": int(len(set(train.groups[va].tolist())))},
        "validation": {k: v for k, v in point_metrics(train.labels[va], val_proba, classes, thr).items()
                       if not isinstance(v, dict)},
        "timing": {"load_s": load_s, "train_s": train_s, "s_per_epoch": train_s / max(len(history), 1),
                   "predict_ms_per_image": predict_ms},
        "hardware": hardware(),
        "versions": {"keras": keras.__version__, "jax": jax.__version__},
    }
    return result, test_proba


def write_predictions(path: str | os.PathLike, test: Dataset, proba: np.ndarray, classes: list[str],
                      threshold: float | None) -> Path:
    """The predictions CSV that ``--compare`` reads: ``path``, one column per class, ``threshold``."""
    from .store import atomic_write, csv_text

    rows = []
    for i, p in enumerate(test.paths):
        row = {"path": str(p), **{c: f"{proba[i, j]:.8f}" for j, c in enumerate(classes)}}
        if threshold is not None:
            row["threshold"] = repr(float(threshold))
        rows.append(row)
    cols = ["path", *classes] + (["threshold"] if threshold is not None else [])
    return atomic_write(path, csv_text(rows, cols))


def _objective(cfg: dict[str, Any]) -> str | float:
    """The CNN's threshold objective: its own, or the pipelines' default one."""
    own = cfg["cnn"]["threshold"]
    if own != "":
        return own
    default = cfg.get("pipeline_defaults", {}).get("threshold", "balanced_accuracy")
    return default[0] if isinstance(default, list) else default


def run_stage(rd: Any, cfg: dict[str, Any], train: Dataset, test: Dataset, *,
              log: Callable[[str], None] = print) -> tuple[dict[str, Any], Path]:
    """Train the CNN of a run (or reuse a finished one) and write its files into the run folder.

    Writes ``cnn/predictions.csv`` (the format ``--compare`` reads), ``cnn/history.csv``
    (loss and accuracy, training and validation, per epoch) and ``cnn.json`` with
    ``cnn.done`` (:meth:`experiments.store.RunDir.save_stage`); a rerun with the same
    ``[cnn]`` settings and threshold reuses them.

    Returns
    -------
    result : dict
        :func:`train_cnn`'s result plus ``wall_s`` and ``memory``.
    predictions : Path
        The predictions CSV.
    """
    from .pipelines import peak_memory
    from .store import atomic_write, csv_text

    params = {k: v for k, v in cfg["cnn"].items() if k not in ("enabled", "threshold")}
    objective = _objective(cfg)
    settings = {"params": params, "threshold": objective, "seed": cfg["seed"], "labels": cfg["labels"]}
    folder = rd.path / CNN_NAME
    csv_path = folder / "predictions.csv"
    done = rd.load_stage(CNN_NAME, settings)
    if done is not None and csv_path.is_file():
        log(f"cnn: already finished, skipped ({done['epochs_run']} epochs, {done['timing']['train_s']:.0f} s)")
        return done, csv_path
    check_available()
    log(f"cnn: training at {params['image_size']} px, up to {params['epochs']} epochs ...")
    t0 = time.perf_counter()
    cache = None if cfg["run"]["cache"] == "off" else Path(cfg["run"]["out"]).expanduser() / "jax-cache"
    result, proba = train_cnn(train, test, params, seed=cfg["seed"], threshold=objective, compile_cache=cache,
                              log=log)
    result["wall_s"] = time.perf_counter() - t0
    result["memory"] = peak_memory()
    folder.mkdir(parents=True, exist_ok=True)
    write_predictions(csv_path, test, proba, result["classes"], result["threshold"])
    cols = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    atomic_write(folder / "history.csv", csv_text(result["history"], cols))
    rd.save_stage(CNN_NAME, result, settings)
    hw = result["hardware"]
    log(f"cnn: done in {result['wall_s']:.0f} s on {hw['backend']} ({', '.join(hw['devices'])}); "
        f"{result['epochs_run']} epochs, best {result['best_epoch']}, "
        f"{result['timing']['s_per_epoch']:.1f} s per epoch")
    return result, csv_path
