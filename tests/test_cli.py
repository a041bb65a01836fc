"""The ``xrayfeat`` console script: help, exit codes, one-line errors, the prediction CSV."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xrayfeat
from xrayfeat.cli import main
from xrayfeat import explain
from xrayfeat.sample_data import sample_path

# A class folder (NORMAL/, PNEUMONIA/) without train/ and test/ splits.
SAMPLE_CLASSES = sample_path() / "train"
from xrayfeat.sample_data import sample_path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TEST = sample_path() / "test"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "demo.xrf"
    assert main(["fit", "--sample", "-o", str(path), "--cv", "3"]) == 0
    return path


def _films(n: int) -> list[Path]:
    normal = sorted((SAMPLE_TEST / "NORMAL").glob("*.jpeg"))
    sick = sorted((SAMPLE_TEST / "PNEUMONIA").glob("*.jpeg"))
    return (normal[: n // 2] + sick[: n - n // 2])


@pytest.mark.parametrize("command", ["fit", "predict", "explain", "bench", "serve"])
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: xrayfeat {command}")
    assert "xrayfeat" in out and ("examples:" in out or command == "bench")


def test_predict_writes_the_csv_and_lists_skipped_files(model_file, tmp_path, capsys):
    folder = tmp_path / "films"
    folder.mkdir()
    films = _films(4)
    for f in films:
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "notes.png").write_text("not an image")
    out = tmp_path / "preds.csv"
    assert main(["predict", str(model_file), str(folder), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "4 film(s) classified" in err and "skipped:" in err and "notes.png" in err

    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["image", "label", "p_NORMAL", "p_PNEUMONIA", "threshold", "error"]
    model = xrayfeat.load(model_file)
    good = [r for r in rows if not r["error"]]
    (bad,) = [r for r in rows if r["error"]]
    assert bad["image"].endswith("notes.png") and bad["label"] == "" and "not a supported image" in bad["error"]
    expected = xrayfeat.predict_proba(model, [r["image"] for r in good])
    got = np.array([[float(r["p_NORMAL"]), float(r["p_PNEUMONIA"])] for r in good])
    np.testing.assert_allclose(got, expected)
    assert [r["label"] for r in good] == xrayfeat.predict(model, [r["image"] for r in good]).tolist()
    assert [float(r["threshold"]) for r in good] == pytest.approx([model.threshold_] * len(good))


def test_predict_without_one_readable_film_exits_2(model_file, tmp_path, capsys):
    bad = tmp_path / "empty.jpeg"
    bad.write_bytes(b"")
    assert main(["predict", str(model_file), str(bad)]) == 2
    captured = capsys.readouterr()
    assert "the file is empty" in captured.err and "none of the 1 file(s)" in captured.err
    assert captured.out.startswith("image,label,")  # the CSV still lists the file


@pytest.mark.parametrize("argv, message", [
    (["fit", "-o", "m.xrf"], "give either DATA or --sample"),
    (["fit", "no/such/folder", "-o", "m.xrf"], "no/such/folder"),
    (["predict", "missing.xrf", "a.png"], "no such model file"),
    (["bench", "--config", "no-such.toml"], "no-such.toml"),
    (["fit", "--sample", "-o", "m.xrf", "--cv", "1"], "cv"),
    (["bench", "--data", "no/such/folder"], "no/such/folder"),
    (["bench", "--data", str(SAMPLE_CLASSES)], "has no train/ and test/ splits (class folders only)"),
    (["fit", "--sample", "-o", "."], "it is a folder"),
    (["predict", ".", "a.png"], "is a folder, not a model file"),
    (["explain", "m.xrf", ".", "-o", "h.png"], "explain draws one film"),
    (["serve", "--port", "99999"], "port must be an integer in 0-65535"),
    (["serve", "--port", "-1"], "port must be an integer in 0-65535"),
])
def test_bad_input_is_one_line_and_exit_code_2(argv, message, tmp_path, monkeypatch, capsys):
    if argv[0] == "serve":
        pytest.importorskip("flask")
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("xrayfeat: error:")
    assert not any("Traceback" in line for line in err)


def test_the_console_entry_point_runs_in_a_fresh_interpreter(model_file, tmp_path):
    # The module behind the console script, as a subprocess: real exit codes and stderr.
    film = _films(1)[0]
    ok = subprocess.run([sys.executable, "-m", "xrayfeat.cli", "predict", str(model_file), str(film)],
                        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[1].startswith(str(film))


def test_a_usage_error_exits_2_with_argparse_s_message(model_file, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["predict", str(model_file)])
    assert exit_.value.code == 2
    assert "the following arguments are required: IMAGE" in capsys.readouterr().err


def test_explain_writes_a_png_and_names_the_decision(model_file, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    film = _films(2)[1]
    out = tmp_path / "heat.png"
    assert main(["explain", str(model_file), str(film), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    e = explain(xrayfeat.load(model_file), str(film))
    err = capsys.readouterr().err
    assert f"{film}: {e.label} (p={e.probability:.3f}; linear;" in err and str(out) in err
    assert main(["explain", str(model_file), str(tmp_path / "nothing.png"), "-o", str(out)]) == 2
    assert "no such image file" in capsys.readouterr().err


def test_serve_without_the_web_extra_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "flask", None)  # as if Flask were not installed
    assert main(["serve"]) == 2
    assert capsys.readouterr().err.strip() == (
        "xrayfeat: error: xrayfeat serve needs the optional Flask package: pip install 'xrayfeat[web]'")


def test_fit_skip_unreadable_lists_the_files_it_left_out(tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(SAMPLE_CLASSES, data)
    (data / "NORMAL" / "IM-9999-0001.jpeg").write_bytes(b"")
    assert main(["fit", str(data), "-o", str(tmp_path / "m.xrf"), "--cv", "3"]) == 2
    assert "IM-9999-0001.jpeg" in capsys.readouterr().err
    assert main(["fit", str(data), "-o", str(tmp_path / "m.xrf"), "--cv", "3", "--skip-unreadable"]) == 0
    err = capsys.readouterr().err
    assert "xrayfeat: skipped: " in err and "IM-9999-0001.jpeg" in err and "model written to" in err
    assert err.count("IM-9999-0001.jpeg") == 1  # listed once, not also in a warning


def test_fit_duplicates_option_is_the_remedy_the_error_names(tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(SAMPLE_CLASSES, data)
    first = sorted((data / "NORMAL").iterdir())[0]
    shutil.copy(first, data / "PNEUMONIA" / "person9999_bacteria_1.jpeg")  # the same film, both labels
    assert main(["fit", str(data), "-o", str(tmp_path / "m.xrf"), "--cv", "3"]) == 2
    assert "--duplicates warn on the command line" in capsys.readouterr().err
    assert main(["fit", str(data), "-o", str(tmp_path / "m.xrf"), "--cv", "3", "--duplicates", "warn"]) == 0
    assert "xrayfeat: warning: 1 group(s) of byte-identical images" in capsys.readouterr().err
