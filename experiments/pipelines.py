"""Running one pipeline of the grid: cross-validation, final fit, test evaluation, costs.

For each :class:`~experiments.config.PipelineSpec`:

1. features of the training (and test) images are extracted once through the
   shared feature cache (later pipelines with the same feature configuration
   read them from there);
2. :class:`xrayfeat.XrayClassifier` is fitted on all training images with
   patient-grouped cross-validation inside (calibration, threshold tuning and
   the out-of-fold probabilities summarised per fold by
   :func:`xrayfeat.metrics.summary.fold_summary`);
3. the fitted model predicts the test split, evaluated with patient-level
   bootstrap intervals (:func:`experiments.evaluation.evaluate`);
4. costs are measured: per-image extraction time (cache off, one process, so it
   does not depend on the cache being warm), fit time, per-image prediction time
   and the peak resident memory of the process.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from xrayfeat.dataset import Dataset
from xrayfeat.metrics.summary import fold_summary

from .config import PipelineSpec
from .evaluation import evaluate

__all__ = ["run_pipeline", "explain_test", "learning_curve", "peak_memory", "MEMORY_NOTE"]


def _rule_prior(model: Any, prior: np.ndarray) -> np.ndarray | None:
    """What the metrics' multiclass rule divides by to decide as ``model`` does: ``prior``
    (the class mix of the probabilities scored) for its balanced rule, None (arg-max) for
    a model with class costs; binary models are scored at their threshold instead."""
    return prior if model.threshold_ is None and model.class_costs_ is None else None


MEMORY_NOTE = (
    "peak resident set size (getrusage ru_maxrss) of the runner process since it "
    "started, read after the pipeline finished: a high-water mark, so it can only "
    "grow from one pipeline to the next and includes the data set and earlier "
    "pipelines; 'children' is the largest terminated child process (joblib workers "
    "that are still alive are not counted)."
)


def peak_memory() -> dict[str, float | None]:
    """Peak RSS of this process and of its largest finished child, in MiB (None off Unix)."""
    try:
        import resource
    except ImportError:  # Windows
        return {"self_mib": None, "children_mib": None}
    # ru_maxrss is in KiB on Linux and in bytes on macOS
    scale = 1.0 / (1024 * 1024) if sys.platform == "darwin" else 1.0 / 1024
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale
    return {"self_mib": round(own, 1), "children_mib": round(kids, 1)}


def _classifier(spec: PipelineSpec, cfg: dict[str, Any], cache: Any, n_jobs: int | None, folds: int):
    from xrayfeat.classifier import XrayClassifier

    return XrayClassifier(
        classifier=spec.classifier,
        classifier_params=dict(spec.classifier_params) or None,
        features=spec.extractor_params(),
        threshold=spec.threshold,
        calibration=spec.calibration,
        cv=folds,
        random_state=cfg["seed"],
        memory=cache,
        n_jobs=n_jobs,
        verbose=1,
    )


def _time_extraction(spec: PipelineSpec, paths: np.ndarray, n: int) -> dict[str, Any]:
    """Milliseconds per image of the full feature pipeline, cache off, one process."""
    from xrayfeat.extract import FeatureExtractor

    if n <= 0 or len(paths) == 0:
        return {"extract_ms_per_image": None, "extract_timed_images": 0}
    fx = FeatureExtractor(**spec.extractor_params(), memory=None, n_jobs=None, progress=False).fit()
    fx.transform(list(paths[:1]))  # warm-up: lazy imports, OpenCV initialisation
    chosen = list(paths[:n])
    t0 = time.perf_counter()
    fx.transform(chosen)
    dt = time.perf_counter() - t0
    return {"extract_ms_per_image": 1000.0 * dt / len(chosen), "extract_timed_images": len(chosen)}


def explain_test(model: Any, test: Dataset, proba: np.ndarray, pred: np.ndarray, *,
                 cfg: dict[str, Any], sheet: Any = None, dpi: int = 100) -> dict[str, Any]:
    """Where the fitted model looks on the test split: ``inside_lungs`` and a contact sheet.

    Every test image is explained with :func:`xrayfeat.explain` (exact linear or
    XGBoost contributions); an occlusion model explains ``explain.occlusion_images``
    of them (a seeded sample: each costs ~70 predictions). The contact sheet shows
    the ``explain.sheet_images`` most confident correct and wrong predictions.

    Parameters
    ----------
    model : XrayClassifier
        Fitted.
    test : Dataset
    proba : ndarray of shape (n_test, n_classes)
        The model's test probabilities (to pick the sheet's images).
    pred : ndarray of shape (n_test,)
        Its labels.
    cfg : dict
        Resolved configuration (``explain.*``, ``seed``).
    sheet : path or None, default=None
        Where to write the contact sheet (PNG); None draws none.
    dpi : int, default=100

    Returns
    -------
    dict
        ``method``, ``n`` (images explained for the mean), ``inside_lungs`` (mean
        share of positive attribution inside the lung mask, over the images where
        it is defined), ``n_no_mask`` (no plausible lung mask), ``n_undefined``
        (no mask or no positive attribution), ``inside_lungs_by_label`` (by
        predicted label), ``ms_per_image``, ``sheet`` (file name, or None) and
        ``sheet_images``.
    """
    import xrayfeat
    from xrayfeat.explanations import explanation_method

    ex = cfg["explain"]
    n = len(test)
    method = explanation_method(model)
    if method == "occlusion" and ex["occlusion_images"] < n:
        rng = np.random.default_rng(cfg["seed"])
        for_mean = np.sort(rng.choice(n, ex["occlusion_images"], replace=False))
    else:
        for_mean = np.arange(n)
    confidence = proba[np.arange(n), np.searchsorted(model.classes_, pred)]
    correct = pred == test.labels
    k = ex["sheet_images"] if sheet is not None else 0
    order = np.argsort(-confidence, kind="stable")
    for_sheet = [int(i) for i in order if correct[i]][:k] + [int(i) for i in order if not correct[i]][:k]
    chosen = sorted(set(for_mean.tolist()) | set(for_sheet))
    t0 = time.perf_counter()
    explained = dict(zip(chosen, xrayfeat.explain(model, list(test.paths[chosen])) if chosen else []))
    elapsed = time.perf_counter() - t0
    inside = np.array([explained[i].inside_lungs for i in for_mean.tolist()], dtype=float)
    ok = ~np.isnan(inside)  # no plausible lung mask, or no attribution towards the label at all
    labels = pred[for_mean]
    out: dict[str, Any] = {
        "method": method, "n": int(len(for_mean)),
        "n_no_mask": sum(explained[i].lung_mask is None for i in for_mean.tolist()),
        "n_undefined": int((~ok).sum()),
        "inside_lungs": float(inside[ok].mean()) if ok.any() else None,
        "inside_lungs_by_label": {str(c): float(inside[ok & (labels == c)].mean())
                                  for c in model.classes_ if (ok & (labels == c)).any()},
        "ms_per_image": 1000.0 * elapsed / max(len(chosen), 1),
        "sheet": None, "sheet_images": len(for_sheet),
    }
    if for_sheet:
        from xrayfeat.plots import explanation_title, plot_explanation_sheet

        titles = [f"{'right' if correct[i] else 'WRONG'} (true {test.labels[i]}): "
                  f"{Path(str(test.paths[i])).name[:28]}\n" + explanation_title(explained[i])
                  for i in for_sheet]
        try:
            plot_explanation_sheet([explained[i] for i in for_sheet], list(test.paths[for_sheet]), sheet,
                                   ncols=max(k, 1), titles=titles, dpi=dpi)
            out["sheet"] = Path(sheet).name
        except ImportError:  # matplotlib is optional; the numbers stand without the figure
            pass
    return out


def run_pipeline(spec: PipelineSpec, train: Dataset, test: Dataset | None, *,
                 cfg: dict[str, Any], cache: Any, n_jobs: int | None,
                 sheet: Any = None, keep: dict[str, Any] | None = None) -> tuple[dict, dict | None]:
    """Cross-validate, fit and evaluate one pipeline.

    Parameters
    ----------
    spec : PipelineSpec
    train : Dataset
        Training split (patient groups are used for every fold).
    test : Dataset or None
        Test split; None reports cross-validation only.
    cfg : dict
        Resolved configuration (seed, cv.folds, evaluation.*).
    cache : FeatureCache, path or None
        Shared feature cache.
    n_jobs : int or None
        Parallel jobs for extraction and cross-validation.
    sheet : path or None, default=None
        Where to write the contact sheet of explained test predictions
        (:func:`explain_test`); None draws none.
    keep : dict or None, default=None
        If given, the fitted model is stored in it under ``spec.name`` (the shortcut
        diagnostic then reuses its fold members instead of refitting them).

    Returns
    -------
    result : dict
        JSON-ready: spec, classes, threshold, ``cv``, ``test`` (or None),
        ``timing``, ``memory``, ``crop`` and sizes.
    predictions : dict of lists or None
        Test-set columns ``path``, ``patient``, ``label``, ``proba_<CLASS>``...,
        ``pred``.
    """
    from xrayfeat.extract import FeatureExtractor

    ev = cfg["evaluation"]
    seed = cfg["seed"]
    timing: dict[str, Any] = {}

    fx = FeatureExtractor(**spec.extractor_params(), memory=cache, n_jobs=n_jobs).fit()
    t0 = time.perf_counter()
    F_train, info_train = fx.transform_with_info(list(train.paths))
    F_test, info_test = (fx.transform_with_info(list(test.paths)) if test is not None else (None, None))
    timing["extract_run_s"] = time.perf_counter() - t0
    timing["extract_computed"] = info_train.n_computed + (info_test.n_computed if info_test else 0)
    timing["extract_from_cache"] = info_train.n_cached + (info_test.n_cached if info_test else 0)
    timing.update(_time_extraction(spec, test.paths if test is not None else train.paths,
                                   ev["timing_images"]))

    model = _classifier(spec, cfg, cache, n_jobs, cfg["cv"]["folds"])
    t0 = time.perf_counter()
    # The training features were extracted above (and timed); fit on them instead of
    # extracting again, which without a cache meant reading every image twice.
    model.fit_features(F_train, train.labels, groups=train.groups)
    timing["fit_s"] = time.perf_counter() - t0
    if keep is not None:
        keep[spec.name] = model
    classes = [str(c) for c in model.classes_]
    threshold = model.threshold_
    res = model.cv_results_
    # The function that made the model's cv_results_, again with the run's ECE bins.
    cv = fold_summary(train.labels, res["oof_proba"], res["fold"], classes, threshold, ece_bins=ev["ece_bins"],
                      prior=_rule_prior(model, model.train_prior_))
    cv["pooled"] = {k: v for k, v in res["oof"].items() if not isinstance(v, dict)}
    if "tuning_curve" in res:
        cv["tuning_curve"] = res["tuning_curve"]

    result: dict[str, Any] = {
        "name": spec.name,
        "spec": spec.as_dict(),
        "classes": classes,
        "threshold": threshold,
        "objective": model.objective_,
        "n_train": len(train),
        "n_train_patients": int(len(set(train.groups.tolist()))),
        "n_test": 0 if test is None else len(test),
        "seed": seed,
        "cv": cv,
        "test": None,
    }
    if spec.crop_lungs:
        result["crop"] = {
            "fallback_train": info_train.n_fallback,
            "fallback_test": 0 if info_test is None else info_test.n_fallback,
        }
    predictions = None
    if test is not None:
        t0 = time.perf_counter()
        # The test features were extracted above; classify them rather than re-reading images.
        proba = model.model_.predict_proba(F_test)
        timing["predict_total_s"] = time.perf_counter() - t0
        # The one pass that makes the test predictions is also the timing: repeating it
        # for a best-of-3 cost an RBF SVM pipeline ~30 s per pass on 1,400 images.
        timing["predict_ms_per_image"] = 1000.0 * timing["predict_total_s"] / len(F_test)
        pred = model.model_._labels(proba)
        result["test"] = evaluate(test.labels, proba, classes, threshold, test.groups,
                                  n_boot=ev["n_boot"], alpha=ev["alpha"], seed=seed,
                                  ece_bins=ev["ece_bins"], prior=_rule_prior(model, model.prevalence_))
        predictions = {"path": [str(p) for p in test.paths],
                       "patient": [str(g) for g in test.groups],
                       "label": [str(v) for v in test.labels]}
        for j, c in enumerate(classes):
            predictions[f"proba_{c}"] = [float(v) for v in proba[:, j]]
        predictions["pred"] = [str(v) for v in pred]
        if cfg["explain"]["enabled"]:
            result["explain"] = explain_test(model, test, proba, pred, cfg=cfg, sheet=sheet,
                                             dpi=cfg["figures"]["dpi"])
    result["timing"] = timing
    result["memory"] = peak_memory()
    return result, predictions


def _patient_orders(ds: Dataset, rng: np.random.Generator) -> dict[str, list[str]]:
    """One random order of each class's patients, for :func:`_patient_subset`."""
    return {cls: rng.permutation(sorted(set(ds.groups[ds.labels == cls].tolist()))).tolist()
            for cls in ds.class_names}


def _patient_subset(ds: Dataset, fraction: float, orders: dict[str, list[str]]) -> np.ndarray:
    """Indices of the first ``fraction`` of each class's patients in ``orders``.

    Taking prefixes of one fixed random order per class makes the subsets nested:
    each larger training set contains the smaller ones, so the curve shows the
    effect of more data rather than of a different draw.
    """
    keep: list[str] = []
    for patients in orders.values():
        keep += patients[:max(2, math.ceil(fraction * len(patients)))]
    return np.flatnonzero(np.isin(ds.groups, keep))


def learning_curve(spec: PipelineSpec, train: Dataset, test: Dataset | None, full: dict[str, Any], *,
                   cfg: dict[str, Any], cache: Any, n_jobs: int | None, log=print) -> dict[str, Any]:
    """Refit ``spec`` on patient subsets of the training split; evaluate each on the test split.

    The subsets are nested (see :func:`_patient_subset`); fraction 1.0 reuses
    ``full`` (the pipeline's main result). Smaller subsets
    use ``min(cv.folds, patients of the rarest class)`` folds.

    Returns
    -------
    dict
        ``pipeline``, ``fractions``, ``seed`` and ``points``: one dict per
        fraction with ``fraction``, ``n_train``, ``n_patients``, ``cv_roc_auc``
        (mean over folds), ``test_roc_auc`` and ``test_balanced_accuracy`` (None
        without a test split), or ``error`` when that subset could not be fitted.
    """
    from xrayfeat.exceptions import XrayfeatError

    lc = cfg["learning_curve"]
    orders = _patient_orders(train, np.random.default_rng(cfg["seed"]))
    points = []
    F_test = None  # the same features for every subset's model: extract them once
    for frac in sorted(set(lc["fractions"])):
        if frac >= 1.0:
            t = full.get("test") or {}
            points.append({
                "fraction": 1.0, "n_train": full["n_train"], "n_patients": full["n_train_patients"],
                "cv_roc_auc": full["cv"]["mean"].get("roc_auc"),
                "test_roc_auc": (t.get("metrics") or {}).get("roc_auc"),
                "test_balanced_accuracy": (t.get("metrics") or {}).get("balanced_accuracy"),
            })
            continue
        idx = _patient_subset(train, frac, orders)
        sub = train.subset(idx)
        rarest = min(len(set(sub.groups[sub.labels == c].tolist())) for c in sub.class_names)
        folds = min(cfg["cv"]["folds"], rarest)
        point: dict[str, Any] = {"fraction": frac, "n_train": len(sub),
                                 "n_patients": int(len(set(sub.groups.tolist())))}
        try:
            if folds < 2:
                raise XrayfeatError(f"only {rarest} patient(s) in the rarest class")
            model = _classifier(spec, cfg, cache, n_jobs, folds).fit(
                list(sub.paths), sub.labels, groups=sub.groups)
            point["cv_roc_auc"] = model.cv_results_["roc_auc_mean"]
            point["cv_folds"] = folds
            if test is not None:
                from .evaluation import point_metrics

                if F_test is None:
                    F_test = model.features_.transform(list(test.paths))
                m = point_metrics(test.labels, model.model_.predict_proba(F_test),
                                  [str(c) for c in model.classes_], model.threshold_,
                                  ece_bins=cfg["evaluation"]["ece_bins"],
                                  prior=_rule_prior(model, model.prevalence_))
                point["test_roc_auc"] = m["roc_auc"]
                point["test_balanced_accuracy"] = m["balanced_accuracy"]
        except (XrayfeatError, ValueError) as exc:
            point["error"] = str(exc)
        log(f"  learning curve {spec.name}: {frac:.0%} of patients, {len(sub)} images"
            + (f" -> test AUC {point['test_roc_auc']:.3f}" if point.get("test_roc_auc") is not None else "")
            + (f" (skipped: {point['error']})" if "error" in point else ""))
        points.append(point)
    return {"pipeline": spec.name, "fractions": lc["fractions"], "seed": cfg["seed"], "points": points}


def shortcut_diagnostic(specs: list[PipelineSpec], train: Dataset, *, cfg: dict[str, Any], cache: Any,
                        n_jobs: int | None, log: Any = print,
                        fitted: dict[str, Any] | None = None) -> dict[str, Any]:
    """The chest-swap shortcut diagnostic of every pipeline, on the training split only.

    All pipelines share the same folds and the same composites
    (:func:`xrayfeat.shortcut_report` with a dict of estimators). A pipeline fitted
    in this run (``fitted``, from :func:`run_pipeline`'s ``keep``) was fitted on the
    same folds, so its members score the composites and nothing is refitted.

    Returns
    -------
    dict
        ``pipelines``: ``{name: ShortcutReport.as_dict()}``; ``seed``, ``folds``, ``wall_s``.
    """
    from xrayfeat.shortcuts import shortcut_report

    folds = cfg["cv"]["folds"]
    log(f"shortcut diagnostic: {len(specs)} pipelines, chest-swapped composites of the training split ...")
    t0 = time.perf_counter()
    fitted = fitted or {}
    estimators = {s.name: fitted.get(s.name) or _classifier(s, cfg, cache, n_jobs, folds) for s in specs}
    reports = shortcut_report(train, estimators, cv=folds, random_state=cfg["seed"], memory=cache, n_jobs=n_jobs)
    out = {"pipelines": {name: rep.as_dict() for name, rep in reports.items()},
           "seed": cfg["seed"], "folds": folds, "wall_s": time.perf_counter() - t0}
    log(f"shortcut diagnostic: done in {out['wall_s']:.1f} s")
    return out
