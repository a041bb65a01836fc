"""Tables of a run: ``results.csv`` rows, the console summary and ``report.md``.

Pure formatting: every number comes from the result dicts written by
:mod:`experiments.pipelines` and :mod:`experiments.compare`.
"""

from __future__ import annotations

from typing import Any

from .cnn import CNN_NAME
from .evaluation import metric_keys
from .pipelines import MEMORY_NOTE
from .published import OFFICIAL_TEST_SIZE

__all__ = ["flat_row", "csv_columns", "console_table", "summary_line", "markdown_report"]

_LABEL = {
    "accuracy": "Acc", "balanced_accuracy": "BalAcc", "sensitivity": "Sens", "specificity": "Spec",
    "precision": "PPV", "f1": "F1", "roc_auc": "AUC", "pr_auc": "PR-AUC", "brier": "Brier",
    "ece": "ECE", "macro_f1": "macro-F1", "bv_accuracy": "Bact/Vir Acc", "bv_roc_auc": "Bact/Vir AUC",
}


def _label(key: str) -> str:
    if key.startswith("recall_"):
        return f"Recall {key[7:].title()}"  # whole class names: "Rec Viru" read as a typo
    return _LABEL.get(key, key)


def _f(v: Any, nd: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{nd}f}"


def _ci(res: dict, key: str) -> str:
    t = res.get("test") or {}
    m = (t.get("metrics") or {}).get(key)
    ci = (t.get("ci") or {}).get(key)
    if m is None:
        return "n/a"
    return f"{m:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]" if ci else f"{m:.3f}"


def flat_row(res: dict[str, Any]) -> dict[str, Any]:
    """One ``results.csv`` row: configuration, CV mean/std, test metrics with CI, costs."""
    spec = res["spec"]
    row: dict[str, Any] = {
        "pipeline": res["name"], "features": spec["features"], "preprocess": spec["preprocess"],
        "crop_lungs": spec["crop_lungs"], "classifier": spec["classifier"],
        "calibration": spec["calibration"] or "none", "objective": res["objective"],
        "threshold": res["threshold"], "n_train": res["n_train"], "n_test": res["n_test"],
    }
    keys = metric_keys(res["classes"])
    for k in keys:
        row[f"cv_{k}_mean"] = res["cv"]["mean"].get(k)
        row[f"cv_{k}_std"] = res["cv"]["std"].get(k)
    t = res.get("test")
    for k in keys:
        row[f"test_{k}"] = (t or {}).get("metrics", {}).get(k)
        ci = (t or {}).get("ci", {}).get(k)
        row[f"test_{k}_low"] = ci["low"] if ci else None
        row[f"test_{k}_high"] = ci["high"] if ci else None
    if t:
        cm = t["metrics"]["confusion_matrix"]
        if len(cm) == 2:
            (row["tn"], row["fp"]), (row["fn"], row["tp"]) = cm
        else:
            row["confusion_matrix"] = str(cm)
        bv = t.get("bacterial_vs_viral")
        if bv:
            row["test_bv_accuracy"], row["test_bv_roc_auc"] = bv["accuracy"], bv["roc_auc"]
    tm = res["timing"]
    row["extract_ms_per_image"] = tm.get("extract_ms_per_image")
    row["fit_s"] = tm.get("fit_s")
    row["predict_ms_per_image"] = tm.get("predict_ms_per_image")
    row["peak_rss_mib"] = res["memory"].get("self_mib")
    if "crop" in res:
        row["crop_fallback_test"] = res["crop"]["fallback_test"]
    if res.get("explain"):
        row["explain_method"] = res["explain"]["method"]
        row["inside_lungs"] = res["explain"]["inside_lungs"]
    return row


def csv_columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return cols


def summary_line(res: dict[str, Any]) -> str:
    """The one line printed when a pipeline finishes."""
    cv = res["cv"]
    parts = [f"CV AUC {_f(cv['mean'].get('roc_auc'))}±{_f(cv['std'].get('roc_auc'))}"]
    t = res.get("test")
    if t:
        m = t["metrics"]
        ci = t["ci"].get("roc_auc")
        auc = f"test AUC {m['roc_auc']:.3f}" + (f" [{ci['low']:.3f}, {ci['high']:.3f}]" if ci else "")
        if len(res["classes"]) == 2:
            parts.append(f"{auc}, acc {m['accuracy']:.3f}, sens {m['sensitivity']:.3f}, "
                         f"spec {m['specificity']:.3f} @ {res['threshold']:.3f}")
        else:
            parts.append(f"{auc}, acc {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}")
    tm = res["timing"]
    parts.append(f"fit {tm['fit_s']:.1f} s")
    return " | ".join(parts)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]


def _main_keys(classes: list[str]) -> list[str]:
    if len(classes) == 2:
        return ["roc_auc", "accuracy", "balanced_accuracy", "sensitivity", "specificity", "f1"]
    return ["roc_auc", "accuracy", "macro_f1", *[f"recall_{c}" for c in classes]]


def _official_split_hint(data_given: bool) -> str:
    """What to do about a test set that is not the official one (not "--data" if it was given)."""
    if data_given:
        return (f"the folder's test/ split is not the official {OFFICIAL_TEST_SIZE}-image one, so the "
                "published numbers do not apply")
    return "run with --data on the Kaggle folder"


def console_table(results: list[dict[str, Any]], published: list[dict[str, Any]],
                  comparisons: list[dict[str, Any]], comparable: bool, data_given: bool = False) -> str:
    """Test metrics of every pipeline, compared CNNs and published CNNs, as plain text."""
    if not results:
        return "(no finished pipeline)"
    classes = results[0]["classes"]
    keys = _main_keys(classes)
    has_test = any(r.get("test") for r in results)
    head = ["pipeline"] + ([_label(k) for k in keys] if has_test else ["CV AUC", "CV BalAcc"])
    rows = []
    for r in results:
        if has_test:
            m = (r.get("test") or {}).get("metrics", {})
            rows.append([r["name"]] + [_f(m.get(k)) for k in keys])
        else:
            rows.append([r["name"], f"{_f(r['cv']['mean'].get('roc_auc'))}±{_f(r['cv']['std'].get('roc_auc'))}",
                         _f(r["cv"]["mean"].get("balanced_accuracy"))])
    for c in comparisons:
        m = c["test"]["metrics"]
        rows.append([f"{c['name']} ({'CNN trained here' if c['name'] == CNN_NAME else 'your CNN'})"] + [_f(m.get(k)) for k in keys])
    lines = _table(head, rows)
    if published and has_test:
        lines.append("")
        lines.append("Published CNNs -- REPORTED, NOT RERUN (numbers from the papers; see report.md):")
        pkeys = ["roc_auc", "accuracy", "sensitivity", "specificity"] if len(classes) == 2 else ["bv_roc_auc", "bv_accuracy"]
        prow = [[f"{p['model']} [{p['source']}]"] + [_f(p["metrics"].get(k)) for k in pkeys] for p in published]
        lines += _table(["model (REPORTED, NOT RERUN)"] + [_label(k) for k in pkeys], prow)
        if not comparable:
            lines.append(f"Not comparable: this run's test set has {results[0]['n_test']} images, the papers "
                         f"use the official {OFFICIAL_TEST_SIZE}-image test split "
                         f"({_official_split_hint(data_given)}).")
    return "\n".join(lines)


def _pairs_md(comp: dict[str, Any], classes: list[str]) -> list[str]:
    binary = len(classes) == 2
    boot_keys = ["roc_auc", "accuracy", "sensitivity", "specificity"] if binary else ["roc_auc", "accuracy", "macro_f1"]
    head = ["pipeline"]
    if binary:
        head += ["ΔAUC DeLong [95% CI], p"]
    head += ["McNemar b/c, p"] + [f"Δ{_label(k)} bootstrap [CI]" for k in boot_keys]
    rows = []
    for e in comp["paired"]:
        row = [e["pipeline"]]
        if binary:
            d = e["delong"]
            row.append(f"{d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}], p={d['p_value']:.3g}")
        mc = e["mcnemar"]
        row.append(f"{mc['b']}/{mc['c']}, p={mc['p_value']:.3g}")
        for k in boot_keys:
            b = e["bootstrap"].get(k)
            row.append(f"{b['diff']:+.3f} [{b['low']:+.3f}, {b['high']:+.3f}]" if b else "n/a")
        rows.append(row)
    return _table(head, rows)


def _shortcuts_md(shortcuts: dict[str, Any]) -> list[str]:
    """The shortcut-diagnostic section: does each pipeline read the lungs?"""
    reps = shortcuts["pipelines"]
    any_rep = next(iter(reps.values()))
    out = ["## Does the model read the chest? (chest-swap shortcut diagnostic, training split only)", "",
           "Patient-grouped CV on one site rewards every cue that separates the classes there, including cues "
           "outside the lungs (body size and shape, arms, neck, abdomen, markers, collimation) that change at "
           "the next site, so a high CV AUC cannot tell a model that reads the chest from one that reads the rest "
           "of the film, and it ranks configurations backwards on this data. Here each held-out film received "
           "the chest region (lung box plus margin) of another patient's film, of a class drawn at random, and "
           "the fold's model scored the composite: *swap BalAcc* and *swap AUC (chest)* are measured against the "
           "donor's label (higher: the model follows the chest), *swap AUC (rest)* against the recipient's "
           "(higher: it follows what lies around the chest). xrayfeat's defaults were chosen by swap BalAcc, "
           "which ranks 14 configurations in the order of their accuracy on a shifted site (Spearman 0.78; "
           "`benchmarks/shortcut_validation.py`).", ""]
    rows = [[name, _f(r["cv_roc_auc"]), _f(r["swap_balanced_accuracy"]), _f(r["swap_auc_donor"]),
             _f(r["swap_auc_recipient"]), _f(r["follows_donor"])] for name, r in reps.items()]
    out += _table(["pipeline", "CV AUC (pooled out-of-fold)", "swap BalAcc", "swap AUC (chest)",
                   "swap AUC (rest)", "follows chest"], rows)
    out += ["", f"{any_rep['n_composites']} composites per pipeline ({any_rep['n_skipped']} training films had no "
            f"plausible lung mask and were not swapped); seed {shortcuts['seed']}, {shortcuts['folds']} folds, "
            f"{shortcuts['wall_s']:.0f} s.", ""]
    return out


def _cnn_md(cnn: dict[str, Any], figures: dict[str, str]) -> list[str]:
    """The trained CNN: network, split, time, hardware and per-epoch training curves."""
    p, tm, hw = cnn["params"], cnn["timing"], cnn["hardware"]
    thr = (f"decision threshold ({cnn['threshold']:.3f}, by the pipelines' rule: {cnn['threshold_objective']})"
           if cnn["threshold"] is not None else "nothing else (3 classes: the most probable class is predicted)")
    out = ["## CNN trained here (`experiments/cnn.py`)", "",
           f"A from-scratch Keras CNN ({cnn['versions']['keras']}, JAX {cnn['versions']['jax']}) in the spirit of "
           f"the Keras projects on this data: standardised input, {len(p['filters'])} blocks of "
           "Conv3x3-BatchNorm-ReLU-MaxPool "
           f"(filters {p['filters']}), global average pooling, dropout {p['dropout']}, Dense({p['dense']}), "
           f"softmax; {cnn['n_params']:,} parameters; {cnn['image_size']} px grey input; augmentation "
           f"rotation ±{p['rotation']:g}°, shift ±{p['shift']:g}, zoom ±{p['zoom']:g}, no flips; Adam "
           f"{p['learning_rate']:g}, batch {p['batch_size']}, class-weighted loss; seed {cnn['seed']}.",
           "",
           f"- Trained on {cnn['n_train']['images']} images ({cnn['n_train']['patients']} patients) of the "
           f"training split; validation on the other {cnn['n_val']['images']} images "
           f"({cnn['n_val']['patients']} patients, one of {p['val_folds']} patient-grouped folds), which chose "
           f"the epoch (lowest validation loss, patience {p['patience']}) and the {thr}.",
           f"- {cnn['epochs_run']} of at most {p['epochs']} epochs"
           + (" (stopped early)" if cnn["stopped_early"] else "") + f"; kept epoch {cnn['best_epoch']}.",
           f"- Time: training {tm['train_s']:.1f} s ({tm['s_per_epoch']:.1f} s per epoch, including the first "
           f"epoch's compilation), reading the images {tm['load_s']:.1f} s, prediction "
           f"{_f(tm['predict_ms_per_image'], 2)} ms per test image; stage wall time {cnn.get('wall_s', 0):.1f} s; "
           f"peak RSS {_f((cnn.get('memory') or {}).get('self_mib'), 0)} MiB.",
           f"- Hardware: JAX backend {hw['backend']} on {', '.join(hw['devices'])} ({hw['device_kind']}); "
           f"host {hw['processor']}, {hw['cpu_cores']} CPU cores available.",
           "", "Training curves (training loss and accuracy are on augmented images with class weights; "
           "validation on the held-out patients' original images):", ""]
    out += _table(["epoch", "loss", "accuracy", "val loss", "val accuracy", "seconds"],
                  [[str(h["epoch"]), _f(h["loss"]), _f(h["accuracy"]), _f(h["val_loss"]), _f(h["val_accuracy"]),
                    _f(h["seconds"], 1)] for h in cnn["history"]])
    if "cnn_training" in figures:
        out += ["", f"![CNN training curves]({figures['cnn_training']})"]
    out += ["", "Numbers per epoch: `cnn/history.csv`; test predictions: `cnn/predictions.csv`; its test metrics "
            "and paired tests are in the next section.", ""]
    return out


def _explain_md(results: list[dict[str, Any]], shortcuts: dict[str, Any] | None) -> list[str]:
    """Where each pipeline looks on the test split: ``inside_lungs`` and the contact sheets."""
    rows = []
    swap = (shortcuts or {}).get("pipelines", {})
    for r in results:
        e = r.get("explain")
        if not e:
            continue
        by = e.get("inside_lungs_by_label", {})
        rows.append([r["name"], e["method"], _f(e["inside_lungs"]),
                     ", ".join(f"{c} {_f(v)}" for c, v in by.items()), f"{e['n']}",
                     f"{e['n_no_mask']}/{e.get('n_undefined', e['n_no_mask'])}",
                     _f(swap.get(r["name"], {}).get("swap_balanced_accuracy")),
                     _f(e["ms_per_image"], 1)])
    if not rows:
        return []
    out = ["## Where does the model look? (explanations of the test predictions)", "",
           "`xrayfeat.explain` maps each prediction back onto the film: exact per-feature contributions of the "
           "linear models (weight x standardised feature, summing to the mean calibrated log-odds) and of XGBoost "
           "(`pred_contribs`), or for the RBF SVM occlusion (each HOG cell, LBP region or feature family reset in "
           "turn to the training mean), each put on the pixels its feature describes. *In lungs* is the mean share of the positive attribution (towards the "
           "predicted class) that falls inside the segmented lung mask: a quantitative shortcut score beside the "
           "chest-swap *swap BalAcc* of the training split (when the diagnostic ran). Whole-film pipelines spread "
           "attribution over the whole image, so a low share there is the shortcut made visible; lung-crop "
           "pipelines only see the crop, lungs and mediastinum, so their share is bounded by the lungs' part of "
           "the crop; LBP and intensity features are computed on the lung mask, so their attribution (exact or "
           "occluded) lies in the lungs by construction, and HOG, which sees the whole crop, is what moves the "
           "share. *Undefined*: no plausible lung "
           "mask, or no attribution towards the label at all (left out of the mean).", ""]
    out += _table(["pipeline", "method", "in lungs", "by predicted label", "images", "no mask/undefined",
                   "swap BalAcc", "ms/img"], rows)
    out.append("")
    for r in results:
        sheet = (r.get("explain") or {}).get("sheet")
        if sheet:
            out += [f"### {r['name']}: most confident right and wrong test predictions", "",
                    "Red pushed towards the predicted label, blue away from it; yellow: lung mask; dashed: the "
                    "lung crop the features saw.", "", f"![explanations {r['name']}](figures/{sheet})", ""]
    return out


def markdown_report(*, run: dict[str, Any], results: list[dict[str, Any]], missing: list[str],
                    published: list[dict[str, Any]], comparisons: list[dict[str, Any]],
                    curve: dict[str, Any] | None, figures: dict[str, str], notes: list[str],
                    shortcuts: dict[str, Any] | None = None, cnn: dict[str, Any] | None = None) -> str:
    """The full ``report.md`` text."""
    cfg = run["config"]
    out: list[str] = [f"# xrayfeat benchmark: {run['run_id']}", ""]
    data = run["data"]
    out += [f"- Data: {data['description']}",
            f"- Training split: {data['train']['images']} images, {data['train']['patients']} patients "
            f"({data['train']['counts']})"]
    if data.get("test"):
        out.append(f"- Test split: {data['test']['images']} images, {data['test']['patients']} patients "
                   f"({data['test']['counts']})")
    out += [f"- Task: {cfg['labels']}; profile: {cfg['profile']}; seed: {cfg['seed']}; "
            f"{cfg['cv']['folds']}-fold patient-grouped CV; {cfg['evaluation']['n_boot']} bootstrap "
            f"resamples by patient ({100 * (1 - cfg['evaluation']['alpha']):.0f}% intervals)",
            f"- xrayfeat {run['versions'].get('xrayfeat')}, Python {run['versions'].get('python')}; "
            "versions in `environment.json`, resolved configuration in `config.toml`", ""]
    if cfg["profile"] == "sample":
        out += ["> **Sample run.** The embedded sample has 100 training and 50 test images: the numbers below "
                "demonstrate the outputs and are far too noisy to rank methods. Run with `--data` on the full "
                "Kaggle folder for the real benchmark.", ""]
    for n in notes:
        out += [f"> {n}", ""]
    if missing:
        out += [f"> Unfinished pipelines (rerun the same command to complete them): {', '.join(missing)}", ""]
    if not results:
        return "\n".join(out + ["No pipeline has finished yet."]) + "\n"
    classes = results[0]["classes"]
    keys = metric_keys(classes)
    has_test = any(r.get("test") for r in results)

    if has_test:
        rule = ("the threshold was chosen by cross-validation on the training split only"
                if len(classes) == 2 else "each image gets the class with the largest p(class) / prior(class), "
                "the balanced-accuracy rule (a CNN: its most probable class)")
        level = f"{100 * (1 - cfg['evaluation']['alpha']):.0f}%"
        out += ["## Test split", "",
                f"Each pipeline was fitted on the whole training split; {rule}. Brackets: {level} "
                "bootstrap intervals resampling patients.", ""]
        main = _main_keys(classes)
        rows = [[r["name"]] + [_ci(r, k) for k in main]
                + ([_f(r["threshold"])] if len(classes) == 2 else []) for r in results]
        out += _table(["pipeline"] + [_label(k) for k in main] + (["threshold"] if len(classes) == 2 else []), rows)
        out += ["", "Calibration and ranking:", ""]
        extra = [k for k in keys if k not in main]
        out += _table(["pipeline"] + [_label(k) for k in extra],
                      [[r["name"]] + [_ci(r, k) for k in extra] for r in results])
        out += ["", "Confusion matrices (rows: true " + ", ".join(classes) + "; columns: predicted):", ""]
        for r in results:
            out.append(f"- {r['name']}: `{r['test']['metrics']['confusion_matrix']}`")
        bv = [(r["name"], r["test"].get("bacterial_vs_viral")) for r in results if r["test"].get("bacterial_vs_viral")]
        if bv:
            out += ["", "Bacterial vs viral (pneumonia images only, as in Kermany et al. 2018):", ""]
            out += _table(["pipeline", "accuracy", "AUC", "n"],
                          [[n, _f(b["accuracy"]), _f(b["roc_auc"]), str(b["n"])] for n, b in bv])
        out.append("")

    if published:
        comparable = bool(has_test and results[0]["n_test"] == OFFICIAL_TEST_SIZE)
        out += ["## Published CNNs on the official test split -- REPORTED, NOT RERUN", "",
                "These numbers are copied from the papers cited below; xrayfeat did not train or run these "
                "models. They are shown beside our pipelines for orientation.", ""]
        if not comparable:
            hint = _official_split_hint(bool(cfg["data"].get("root"))).replace("--data", "`--data`")
            out += [f"> Not comparable with this run: our test set has {results[0]['n_test']} images, the papers "
                    f"use the official {OFFICIAL_TEST_SIZE}-image test split; {hint}.", ""]
        else:
            # Only the size is checked: any other 624 films would pass.
            out += [f"> This run's test set has {OFFICIAL_TEST_SIZE} images, the size of the official test split; "
                    "xrayfeat cannot verify that it is that split, so the comparison holds only if it is.", ""]
        pkeys = (["roc_auc", "accuracy", "sensitivity", "specificity"] if len(classes) == 2
                 else ["bv_roc_auc", "bv_accuracy"])
        rows = []
        if has_test and len(classes) == 2:
            rows += [[f"**{r['name']}** (this run)", *[_f(r["test"]["metrics"].get(k)) for k in pkeys], "xrayfeat"]
                     for r in results]
        elif has_test:
            rows += [[f"**{n}** (this run)", _f(b["roc_auc"]), _f(b["accuracy"]), "xrayfeat"] for n, b in bv]
        rows += [[f"{p['model']} -- REPORTED, NOT RERUN", *[_f(p["metrics"].get(k)) for k in pkeys],
                  f"{p['source']} ({p['input']})"] for p in published]
        out += _table(["model", *[_label(k) for k in pkeys], "source"], rows)
        cites = sorted({p["citation"] for p in published})
        out += ["", *[f"- {c}" for c in cites]]
        if any(p["source"].startswith("MedMNIST") for p in published):
            out.append("- MedMNIST v2 keeps the official 624-image test split but re-splits the training images "
                       "9:1 and downsamples all images to 28 x 28; its accuracies use a 0.5 threshold.")
        out.append("")

    if cnn:
        out += _cnn_md(cnn, figures)
    if comparisons:
        ours = any(c["name"] == CNN_NAME for c in comparisons)
        out += [f"## {'CNNs' if ours else 'Your CNN'} vs the pipelines (same test images)", ""]
        for c in comparisons:
            thr = f"threshold {c['threshold']:.3f}" if c["threshold"] is not None else "arg-max"
            what = "trained here, see above" if c["name"] == CNN_NAME else f"`{c['file']}`"
            out += [f"### {c['name']} ({what}, {thr})", ""]
            main = _main_keys(classes)
            out += _table([_label(k) for k in main], [[_ci(c, k) for k in main]])
            out += ["", "Paired tests, differences are CNN minus pipeline (positive: the CNN is better). "
                    "McNemar b = CNN right & pipeline wrong, c = the reverse.", ""]
            out += _pairs_md(c, classes)
            out.append("")

    out += ["## Patient-grouped cross-validation on the training split", "",
            "Mean ± std across folds of the out-of-fold calibrated probabilities. Threshold metrics use the "
            "threshold tuned on these same folds, so they are slightly optimistic; AUC, Brier and ECE are not "
            "affected.", ""]
    cv_keys = _main_keys(classes) + ["brier", "ece"]
    out += _table(["pipeline"] + [_label(k) for k in cv_keys],
                  [[r["name"]] + [f"{_f(r['cv']['mean'].get(k))} ± {_f(r['cv']['std'].get(k))}" for k in cv_keys]
                   for r in results])
    out.append("")

    if shortcuts:
        out += _shortcuts_md(shortcuts)
    out += _explain_md(results, shortcuts)

    out += ["## Cost", "",
            "Extraction: full per-image feature pipeline (read, resize, preprocess, crop, features) with the cache "
            "off in one process, on the first test images. Fit: the whole `XrayClassifier.fit` (calibration, "
            "threshold tuning and the CV summary), features read from the cache. Predict: the fitted model on "
            "precomputed features (the one pass that made the test predictions). Peak RSS: " + MEMORY_NOTE, ""]
    rows = []
    for r in results:
        tm = r["timing"]
        crop = r.get("crop")
        rows.append([r["name"], _f(tm.get("extract_ms_per_image"), 1), _f(tm.get("fit_s"), 1),
                     _f(tm.get("predict_ms_per_image"), 3), _f(r["memory"].get("self_mib"), 0),
                     f"{crop['fallback_train']}/{crop['fallback_test']}" if crop else "-"])
    out += _table(["pipeline", "extract ms/img", "fit s", "predict ms/img", "peak RSS MiB",
                   "crop fallbacks train/test"], rows)
    out.append("")

    if curve:
        out += [f"## Learning curve ({curve['pipeline']})", "",
                "Refits on class-stratified random subsets of the training patients; each fit is evaluated on "
                "the full test split.", ""]
        rows = [[f"{p['fraction']:.0%}", str(p["n_train"]), str(p["n_patients"]),
                 _f(p.get("cv_roc_auc")), _f(p.get("test_roc_auc")), _f(p.get("test_balanced_accuracy")),
                 p.get("error", "")] for p in curve["points"]]
        out += _table(["patients", "images", "patients (n)", "CV AUC", "test AUC", "test BalAcc", "note"], rows)
        out.append("")

    if figures:
        out += ["## Figures", ""]
        titles = {"roc": "ROC curves", "pr": "Precision-recall curves", "calibration": "Reliability diagram",
                  "confusion": "Confusion matrices", "threshold_sweep": "Threshold sweep",
                  "learning_curve": "Learning curve", "lung_crops": "Lung segmentation and crop (sample)",
                  "lung_worst": "Least plausible lung masks (lowest lung_mask_score first)"}
        for key, rel in figures.items():
            if key == "cnn_training":  # shown in the CNN's section
                continue
            out += [f"### {titles.get(key, key)}", "", f"![{titles.get(key, key)}]({rel})", ""]

    out += ["## How to read this report", "",
            "- The test split is used once, for the numbers above; nothing was tuned on it.",
            "- Sensitivity = recall of PNEUMONIA; specificity = recall of NORMAL; PPV = precision; "
            "Brier and ECE: lower is better.",
            "- Intervals resample patients, not images, because one patient's images are correlated "
            "(percentile intervals; none for ECE, which resampling inflates so that its replicates can all "
            "lie above the estimate). The DeLong "
            "and McNemar p-values treat images as independent, so with several images per patient they "
            "are somewhat optimistic; the paired bootstrap intervals resample patients.",
            "- `results.csv` has every number of this report in one row per pipeline; `results.json` also holds "
            "per-fold metrics, threshold-tuning curves and the comparisons.", ""]
    return "\n".join(out)
