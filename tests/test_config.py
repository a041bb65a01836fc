"""The benchmark configuration: layering, schema validation, pipeline grids, hashing."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

# experiments/ is a folder of the repository, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.config import (  # noqa: E402
    CONFIG_DIR,
    DEFAULT_CONFIG,
    apply_set,
    config_hash,
    expand_pipelines,
    load_toml,
    resolve_config,
)
from experiments.schema import PIPELINE_SCHEMA, SCHEMA  # noqa: E402
from xrayfeat.exceptions import ConfigError  # noqa: E402



def _full(*sets: str, file=None):
    """Resolve with a (fake) data root so the sample profile does not apply."""
    return resolve_config(file, cli={"data": {"root": "/nonexistent/chest_xray"}}, sets=sets)


def _write(tmp_path, text: str):
    path = tmp_path / "cfg.toml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ shipped files
def test_default_grid_is_the_documented_one():
    cfg = _full()
    names = [s.name for s in expand_pipelines(cfg)]
    assert cfg["profile"] == "none"
    assert names == [
        "hog+lbp+intensity-crop-logreg", "hog+lbp+intensity-crop-svm", "hog+lbp+intensity-crop-xgboost",
        "hog+lbp+intensity-logreg", "hog+lbp+intensity-svm", "hog+lbp+intensity-xgboost",
        "hog-crop-svm", "lbp-crop-svm",
    ]
    assert cfg["shortcuts"]["enabled"] is True


def test_pipeline_defaults_are_the_library_defaults():
    """One source per default: the benchmark's [pipeline_defaults] pipeline is xrayfeat.fit()'s."""
    from xrayfeat import FeatureExtractor, XrayClassifier

    cfg = _full('pipelines=[{name = "default"}]')
    (spec,) = expand_pipelines(cfg)
    lib = FeatureExtractor().get_params()
    ours = spec.extractor_params()
    families = ours.pop("families")
    from xrayfeat.features import DEFAULT_FAMILIES

    assert tuple(families) == DEFAULT_FAMILIES
    assert ours == {k: lib[k] for k in ours}
    clf = XrayClassifier().get_params()
    from xrayfeat.models import resolve_classifier

    # "auto" is resolved for the run's task, as XrayClassifier resolves it for its classes
    assert spec.classifier == resolve_classifier(clf["classifier"], ["NORMAL", "PNEUMONIA"]) == "logreg"
    (three,) = expand_pipelines(_full('pipelines=[{name = "default"}]', "labels=3class"))
    assert three.classifier == resolve_classifier(clf["classifier"], ["BACTERIA", "NORMAL", "VIRUS"])
    assert three.classifier == "hierarchical"
    assert (spec.classifier_params or None) == clf["classifier_params"]
    assert spec.calibration == clf["calibration"] and spec.threshold == clf["threshold"]


def test_a_binary_threshold_in_a_three_class_grid_is_refused_not_dropped():
    with pytest.raises(ConfigError, match=r"pipelines\[0\]\.threshold = 'youden' applies to binary runs only"):
        expand_pipelines(_full('pipelines=[{threshold = "youden"}]', "labels=3class"))
    assert expand_pipelines(_full('pipelines=[{threshold = "youden"}]'))  # binary: fine


def test_sample_profile_applies_without_data_only():
    cfg = resolve_config()
    assert cfg["profile"] == "sample"
    assert cfg["cv"]["folds"] == 3 and cfg["evaluation"]["n_boot"] == 200
    assert len(expand_pipelines(cfg)) == 4
    assert resolve_config(sets=["profile=none"])["cv"]["folds"] == 5


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    cfg = resolve_config(path)
    assert expand_pipelines(cfg)


def _schema_keys(schema, prefix=""):
    for key, rule in schema.items():
        if isinstance(rule, dict):
            yield from _schema_keys(rule, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_default_file_documents_every_key():
    text = DEFAULT_CONFIG.read_text()
    default = load_toml(DEFAULT_CONFIG)
    for key in _schema_keys({k: v for k, v in SCHEMA.items() if k not in ("pipeline_defaults",)}):
        section, _, name = key.rpartition(".")
        if section in ("feature_sets", "preprocessing") or key in ("pipelines", "feature_sets", "preprocessing"):
            continue
        node = default
        for part in key.split("."):
            assert part in node, f"{key} is missing from default.toml"
            node = node[part]
    for key in PIPELINE_SCHEMA:
        if key != "name":
            assert key in default["pipeline_defaults"], key
    # every key line is preceded by a comment somewhere in its section
    assert text.count("#") > 60


# ---------------------------------------------------------------------- layering
def test_layers_file_then_cli_then_set(tmp_path):
    path = _write(tmp_path, "seed = 7\n[cv]\nfolds = 4\n[evaluation]\nn_boot = 10\n")
    cfg = resolve_config(path, cli={"data": {"root": "/x"}, "cv": {"folds": 6}}, sets=["cv.folds=8"])
    assert cfg["seed"] == 7 and cfg["cv"]["folds"] == 8 and cfg["evaluation"]["n_boot"] == 10
    assert cfg["evaluation"]["alpha"] == 0.05  # tables merge: untouched keys keep the default


def test_pipelines_list_replaces_default(tmp_path):
    path = _write(tmp_path, '[[pipelines]]\nfeatures = "hog"\nclassifier = ["svm", "logreg"]\n'
                            'threshold = ["youden", "specificity@sensitivity>=0.95", 0.4]\n')
    names = [s.name for s in expand_pipelines(_full(file=path))]
    assert names == ["hog-crop-svm-youden", "hog-crop-svm-sens0.95", "hog-crop-svm-t0.4",
                     "hog-crop-logreg-youden", "hog-crop-logreg-sens0.95", "hog-crop-logreg-t0.4"]


def test_set_values_are_parsed_as_toml_or_bare_strings():
    cfg = _full("labels=3class", "evaluation.n_boot=25", "learning_curve.fractions=[0.5, 1.0]",
                'pipelines[0].features="glcm"', "figures.enabled=false")
    assert cfg["labels"] == "3class" and cfg["evaluation"]["n_boot"] == 25
    assert cfg["learning_curve"]["fractions"] == [0.5, 1.0] and cfg["figures"]["enabled"] is False
    assert expand_pipelines(cfg)[0].name == "glcm-crop-hierarchical"  # "auto" on 3 classes


def test_set_indexes_into_the_sample_profile_pipelines():
    cfg = resolve_config(sets=["pipelines[3].classifier_params.n_estimators=5"])
    assert expand_pipelines(cfg)[-1].classifier_params["n_estimators"] == 5


def test_named_feature_sets_and_preprocessing(tmp_path):
    path = _write(tmp_path, '[feature_sets.fine]\nfamilies = ["hog", "intensity"]\n'
                            'family_params = { hog = { cell_size = 8 } }\n'
                            '[[pipelines]]\nfeatures = "fine"\npreprocess = ["clahe", "none"]\n')
    named, raw = expand_pipelines(_full(file=path))
    # The default chain ("none") is left out of the name, any other one is named.
    assert (named.name, raw.name) == ("fine-clahe-crop-logreg", "fine-crop-logreg")
    params = named.extractor_params()
    assert params["families"] == ["hog", "intensity"] and params["family_params"] == {"hog": {"cell_size": 8}}
    assert params["preprocess"][0] == "percentile"
    assert raw.extractor_params()["preprocess"] is None


# -------------------------------------------------------------------------- errors
def test_unknown_key_names_the_entry(tmp_path):
    path = _write(tmp_path, '[[pipelines]]\nfeatures = "hog"\n[[pipelines]]\nfeatures = "lbp"\n'
                            '[[pipelines]]\nclasifier = "svm"\n')
    with pytest.raises(ConfigError, match=re.escape("unknown key 'pipelines[2].clasifier'; did you mean 'classifier'")):
        _full(file=path)


BAD = [
    (["cv.folds=1"], "'cv.folds' must be an integer >= 2"),
    (["cv.folds=2.5"], "'cv.folds' must be an integer"),
    (['evaluation.n_boot="many"'], "'evaluation.n_boot' must be an integer"),
    (["evaluation.n_bot=10"], "unknown key 'evaluation.n_bot'; did you mean 'n_boot'"),
    (["labels=4class"], r"'labels' must be one of \['binary', '3class'\]"),
    (["run.jobs=0"], "'run.jobs' must be an integer >= -1 and <= 256 and not 0"),
    (["evaluation.alpha=0.7"], r"'evaluation.alpha' must be a number in \(0.0, 0.5\)"),
    (['pipelines[0].crop_lungs="yes"'], "'pipelines\\[0\\].crop_lungs' must be true or false"),
    (["pipelines[0].threshold=1.5"], "'pipelines\\[0\\].threshold' must be an objective name"),
    (['pipelines[0].threshold="specificity@sens>=0.9"'], "pipelines\\[0\\].threshold: unknown threshold objective"),
    (['pipelines[0].classifier="forest"'], "pipelines\\[0\\].classifier: unknown classifier 'forest'"),
    (['pipelines[0].classifier="hierarchical"'], "pipelines\\[0\\].classifier: 'hierarchical' needs labels"),
    (['labels="3class"', 'pipelines[0].classifier="hierarchical"', "pipelines[0].classifier_params={gamma=1}"],
     r"pipelines\[0\].classifier_params: unknown parameter\(s\) \['gamma'\] for classifier 'hierarchical'"),
    (["pipelines[1].classifier_params={Cc=1}"], r"pipelines\[1\].classifier_params: unknown parameter\(s\) \['Cc'\]"),
    (['pipelines[0].features="hog+sift"'], r"pipelines\[0\].features: 'hog\+sift' is neither"),
    (['pipelines[0].preprocess="denoise"'], "pipelines\\[0\\].preprocess: unknown preprocessing chain 'denoise'"),
    (['preprocessing.bad=["clahee"]', 'pipelines[0].preprocess="bad"'], "preprocessing.bad: unknown preprocessing step 'clahee'"),
    (['feature_sets.f.families=["hog"]', "feature_sets.f.family_params={hog={cel=1}}",
      'pipelines[0].features="f"'], r"pipelines\[0\].features \(f\): HOG got unknown parameter"),
    (['pipelines[0].calibration="none"'], "pipelines\\[0\\].calibration: classifier 'svm' needs calibration"),
    (['pipelines[0].name="mine"'], "pipelines\\[0\\].name is set but the entry expands to 6 pipelines"),
    (['learning_curve.pipeline="nope"'], "'learning_curve.pipeline' is 'nope', which is not a pipeline"),
    (['compare.files=["/no/such/preds.csv"]'], r"'compare.files\[0\]' \(--compare\): no such file"),
    (['data.train="/x"'], "give either data.root"),
    (["cv.folds"], "--set expects key=value"),
    (["pipelines[x].a=1"], "cannot parse the key"),
    (["pipelines[9].classifier=svm"], "index 9 is out of range"),
]


@pytest.mark.parametrize("sets, match", BAD, ids=[b[1][:40] for b in BAD])
def test_bad_configs_raise_naming_the_key(sets, match):
    with pytest.raises(ConfigError, match=match):
        _full(*sets)


def test_duplicate_pipeline_names(tmp_path):
    path = _write(tmp_path, '[[pipelines]]\nfeatures = "hog"\n[[pipelines]]\nfeatures = "hog"\n')
    with pytest.raises(ConfigError, match="two pipelines are both named 'hog-crop-logreg'"):
        _full(file=path)


def test_unreadable_config_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        resolve_config(_write(tmp_path, "cv = [\n"))


def test_test_without_train_is_an_error():
    with pytest.raises(ConfigError, match=r"data.test \(--test\) needs data.train"):
        resolve_config(cli={"data": {"test": "/x"}})


# -------------------------------------------------------------------------- hashing
def test_hash_tracks_results_not_execution():
    base = config_hash(_full())
    assert config_hash(_full()) == base
    assert config_hash(_full("run.jobs=2", "run.out=elsewhere", "figures.enabled=false")) == base
    assert config_hash(_full("cv.folds=4")) != base
    assert config_hash(_full("seed=1")) != base
    assert config_hash(_full(), {"data": "a"}) != config_hash(_full(), {"data": "b"})


def test_apply_set_creates_missing_tables():
    cfg: dict = {}
    apply_set(cfg, "feature_sets.x.families=['hog']")
    assert cfg == {"feature_sets": {"x": {"families": ["hog"]}}}
