"""Studies: read from a file and checked before any fit, run, resumed, reported."""

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from html.parser import HTMLParser
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.tree import DecisionTreeClassifier

import ensemblekit.experiment
from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.experiment import (
    Experiment,
    StudyChangedError,
    StudyError,
    load_run,
)
from ensemblekit.experiment._analyses import ANALYSES, FITTED
from ensemblekit.experiment._cli import main
from ensemblekit.model_selection import bias_variance_curve, compare_models
from ensemblekit.nets import NeuralNetClassifier
from ensemblekit.utils import draw_seeds

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

pd = pytest.importorskip("pandas")

STUDY = """\
name = "trees on iris"
random_state = 3
scoring = ["accuracy", "neg_log_loss"]

[data]
dataset = "iris"

[cv]
splitter = "RepeatedStratifiedKFold"
n_splits = 3
n_repeats = 2

[models.tree]
class = "sklearn.tree.DecisionTreeClassifier"
max_depth = 2

[models.bag]
pipeline = ["sklearn.preprocessing.StandardScaler", "ensemblekit.ensemble.BaggingClassifier"]
baggingclassifier__n_estimators = 4
baggingclassifier__estimator = {class = "sklearn.tree.DecisionTreeClassifier", max_depth = 3}

[analyses.calibration]
n_bins = 5
"""


def _write(tmp_path, text=STUDY, name="study.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _records(run_dir) -> dict:
    """The fold records as files on disk, read without ensemblekit."""
    out = {}
    for file in Path(run_dir, "records", "folds").glob("*/*.json"):
        record = json.loads(file.read_text())
        out[record["model"], record["fold"]] = record
    return out


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("iris") / "run"
    study = Experiment.from_toml(_write(tmp_path_factory.mktemp("study")))
    study.verbose = 0
    return study.run(run_dir), run_dir


def test_a_study_file_builds_its_models_data_and_splits(iris_run):
    study, _ = iris_run
    tree, bag = study.models["tree"], study.models["bag"]
    assert isinstance(tree, DecisionTreeClassifier) and tree.max_depth == 2
    assert isinstance(bag, Pipeline) and isinstance(bag[-1], BaggingClassifier)
    assert bag[-1].n_estimators == 4 and bag[-1].estimator.max_depth == 3
    assert study.X.shape == (150, 4)
    assert isinstance(study.cv, RepeatedStratifiedKFold)
    assert study.cv.random_state == 3  # seeded by the study
    assert list(study.results.columns) == ["model", "fold", "scorer", "score"]
    assert len(study.results) == 2 * 6 * 2


def test_a_run_gives_compare_models_numbers():
    X, y = load_iris(return_X_y=True)
    models = {
        "logistic": LogisticRegression(max_iter=300),
        "tree": DecisionTreeClassifier(max_depth=2),  # unseeded: a seed per fold
        "dummy": DummyClassifier(),
    }
    cv = StratifiedKFold(4, shuffle=True, random_state=1)
    scoring = ["accuracy", "neg_log_loss"]
    expected = compare_models(models, X, y, cv=cv, scoring=scoring, random_state=5)
    study = Experiment(
        models, X, y, cv=cv, scoring=scoring, random_state=5, engine="joblib", verbose=0
    )
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"ek-compare-{os.getpid()}"
    try:
        tables = study.run(run_dir).comparison
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    for scorer in scoring:
        assert [r.name for r in tables[scorer]] == [r.name for r in expected[scorer]]
        for got, want in zip(tables[scorer], expected[scorer], strict=True):
            assert got == want  # every field, the per-fold scores included, exactly


def test_nets_get_the_same_fold_scores_from_compare_models_and_a_study(tmp_path):
    # Both train a net's folds stacked by default, seeded by one rule: exactly equal.
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    net = {"module__hidden_units": (8,), "max_epochs": 3, "batch_size": 16}
    models = {
        "plain": NeuralNetClassifier(**net),
        "dropout": NeuralNetClassifier(module__dropout=0.2, **net),
    }
    cv = StratifiedKFold(3, shuffle=True, random_state=1)
    expected = compare_models(models, X, y, cv=cv, random_state=5)
    tables = Experiment(models, X, y, cv=cv, random_state=5, verbose=0).run(tmp_path).comparison
    (table,) = tables.values()
    assert [r.name for r in table] == [r.name for r in expected]
    for got, want in zip(table, expected, strict=True):
        np.testing.assert_array_equal(got.scores, want.scores)


def test_results_are_the_records(iris_run):
    study, run_dir = iris_run
    records = _records(run_dir)
    assert len(records) == 12
    for row in study.results.itertuples():
        assert row.score == records[row.model, row.fold]["scores"][row.scorer]


@pytest.mark.parametrize(
    ("change", "key", "line_starts", "words"),
    [
        (("max_depth = 2", "max_dept = 2"), "models.tree.max_dept", "max_dept",
         "did you mean 'max_depth'"),
        (("max_depth = 2", "max_depth = -1"), "models.tree.max_depth", "max_depth",
         "range [1, inf)"),
        (("baggingclassifier__n_estimators = 4", "baggingclassifier__n_estimators = 0"),
         "models.bag.baggingclassifier__n_estimators", "baggingclassifier__n_estimators",
         "n_estimators"),
        (("random_state = 3", "random_state = 3\nseed = 1"), "seed", "seed",
         "not a key of a study"),
        (('"neg_log_loss"]', '"neg_logloss"]'), "scoring[1]", "scoring",
         "did you mean 'neg_log_loss'"),
        (('dataset = "iris"', 'dataset = "irs"'), "data.dataset", "dataset",
         "did you mean 'iris'"),
        (("sklearn.tree.Decision", "sklearn.trees.Decision"), "models.tree.class", "class",
         "import"),
        (('DecisionTreeClassifier"\nmax', 'DecisionTreeClasifier"\nmax'), "models.tree.class",
         "class", "did you mean sklearn.tree.DecisionTreeClassifier"),
        (("n_repeats = 2", "n_repeat = 2"), "cv.n_repeat", "n_repeat", "did you mean 'n_repeats'"),
        (('"RepeatedStratifiedKFold"', '"GroupKFold"'), "cv.splitter", "splitter", "needs groups"),
        (("n_bins = 5", "n_bins = 0"), "analyses.calibration.n_bins", "n_bins", "in [1, inf)"),
        (("[analyses.calibration]\nn_bins = 5", '[analyses.size_curve]\nmodel = "tree"'),
         "analyses.size_curve.model", "model", "not an ensemble"),
        (("[analyses.calibration]\nn_bins = 5", '[analyses.bias_variance]\nmodel = "trees"'),
         "analyses.bias_variance.model", "model", "did you mean 'tree'"),
    ],
    ids=lambda v: v if isinstance(v, str) and "." in v else None,
)  # fmt: skip
def test_a_bad_study_fails_before_any_fit_at_its_key_and_line(
    tmp_path, change, key, line_starts, words, monkeypatch
):
    old, new = change
    assert old in STUDY
    text = STUDY.replace(old, new, 1)
    path = _write(tmp_path, text)
    lines = text.splitlines()
    line = 1 + next(i for i, t in enumerate(lines) if t.startswith(line_starts))
    monkeypatch.setattr(DecisionTreeClassifier, "fit", _no_fit)
    with pytest.raises(StudyError) as error:
        Experiment.from_toml(path)
    assert error.value.key == key
    assert error.value.line == line, str(error.value)
    assert words in str(error.value)
    assert str(error.value).startswith(f"{path}, line {line}: {key}: ")


@pytest.mark.parametrize(
    ("data", "meant"),
    [("iris", "RandomForestClassifier"), ("diabetes", "RandomForestRegressor"),
     ("make_regression", "RandomForestRegressor")],
)  # fmt: skip
def test_a_misspelt_class_is_matched_among_estimators_of_the_study_task(tmp_path, data, meant):
    # Both are equally close to "RandomForest": the study's data decides.
    text = f"""\
[data]
dataset = "{data}"

[models.forest]
class = "sklearn.ensemble.RandomForest"
"""
    with pytest.raises(StudyError, match=f"did you mean sklearn.ensemble.{meant}\\?"):
        Experiment.from_toml(_write(tmp_path, text))
    # Where the data does not say, a model named before does.
    text = text.replace(f'dataset = "{data}"', 'loader = "mylab.load"').replace(
        "[models.forest]", f'[models.first]\nclass = "sklearn.ensemble.{meant}"\n\n[models.forest]'
    )
    with pytest.raises(StudyError, match=f"did you mean sklearn.ensemble.{meant}\\?"):
        Experiment.from_toml(_write(tmp_path, text))


def _no_fit(self, *args, **kwargs):
    raise AssertionError("a study was fitted before its checks ended")


def test_a_net_module_argument_is_checked_and_toml_errors_say_where(tmp_path):
    text = STUDY.replace(
        "[models.bag]",
        '[models.net]\nclass = "ensemblekit.nets.NeuralNetClassifier"\n'
        "module__hiden_units = [8]\n\n[models.bag]",
    )
    with pytest.raises(StudyError, match="did you mean 'module__hidden_units'") as error:
        Experiment.from_toml(_write(tmp_path, text))
    assert error.value.line == 1 + text.splitlines().index("module__hiden_units = [8]")
    with pytest.raises(StudyError, match=r"not valid TOML.*line 2"):
        Experiment.from_toml(_write(tmp_path, 'name = "x"\nscoring = [1,,]\n'))
    with pytest.raises(FileNotFoundError, match="No study file"):
        Experiment.from_toml(tmp_path / "missing.toml")


def test_a_study_in_python_is_checked_the_same_way():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(StudyError, match=r"scoring\[0\]: 'acuracy' is not a scorer"):
        Experiment({"tree": DecisionTreeClassifier()}, X, y, scoring="acuracy")
    with pytest.raises(StudyError, match=r"models\.tree\.max_depth: .*range"):
        Experiment({"tree": DecisionTreeClassifier(max_depth=-2)}, X, y)
    with pytest.raises(StudyError, match="mixes classifiers and regressors"):
        from sklearn.linear_model import Ridge

        Experiment({"tree": DecisionTreeClassifier(), "ridge": Ridge()}, X, y)
    with pytest.raises(AttributeError, match=r"call run\(run_dir\) first"):
        Experiment({"tree": DecisionTreeClassifier()}, X, y).results  # noqa: B018


SLOW = '''\
import time

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.tree import DecisionTreeClassifier


class SlowTree(ClassifierMixin, BaseEstimator):
    """A tree that takes its time: a run is slow enough to be killed in the middle."""

    def __init__(self, delay=0.25, random_state=None):
        self.delay, self.random_state = delay, random_state

    def fit(self, X, y):
        time.sleep(self.delay)
        self.tree_ = DecisionTreeClassifier(max_depth=3, random_state=self.random_state)
        self.tree_.fit(X, y)
        self.classes_ = self.tree_.classes_
        return self

    def predict(self, X):
        return self.tree_.predict(X)

    def predict_proba(self, X):
        return self.tree_.predict_proba(X)
'''

SLOW_STUDY = """\
name = "a slow study"
scoring = ["accuracy", "neg_log_loss"]
n_jobs = 1

[data]
dataset = "breast_cancer"

[models.slow]
class = "slowtree.SlowTree"

[models.slower]
class = "slowtree.SlowTree"
delay = 0.3
"""


def test_a_killed_run_resumes_to_the_table_of_an_uninterrupted_one(tmp_path, monkeypatch):
    (tmp_path / "slowtree.py").write_text(SLOW)
    study = _write(tmp_path, SLOW_STUDY)
    monkeypatch.syspath_prepend(str(tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    killed = tmp_path / "killed"
    with (tmp_path / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ensemblekit",
                "run",
                str(study),
                "--out",
                str(killed),
                "--trust",
                "slowtree",
                "-q",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 120
            while len(_records(killed)) < 3 and time.monotonic() < deadline:
                assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
                time.sleep(0.01)
            os.kill(process.pid, signal.SIGKILL)  # no clean-up: as a killed job, a power cut
        finally:
            process.wait()
    done_at_kill = len(_records(killed))
    # Killed in the middle (2 models x 10 folds), and before the first model ended: each
    # fold was written as it finished, not with its model.
    assert 3 <= done_at_kill < 10
    # The run that was killed goes on; one that nothing stopped runs alongside.
    resumed = Experiment.from_toml(study, trust="slowtree")
    resumed.verbose = 0
    fits = []
    monkeypatch.setattr("slowtree.SlowTree.delay", 0.0, raising=False)
    original_fit = sys.modules["slowtree"].SlowTree.fit

    def counted(self, X, y):
        fits.append(1)
        return original_fit(self, X, y)

    monkeypatch.setattr(sys.modules["slowtree"].SlowTree, "fit", counted)
    resumed.run(killed)
    assert len(fits) == 20 - done_at_kill  # only what was missing
    whole = Experiment.from_toml(study, trust=["slowtree"])
    whole.verbose = 0
    whole.run(tmp_path / "whole")
    pd.testing.assert_frame_equal(resumed.results, whole.results, check_exact=True)
    assert not list(killed.rglob("*.tmp"))
    assert load_run(killed).complete


def test_a_half_written_record_is_never_read(tmp_path, iris_run):
    _, run_dir = iris_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    # What a kill during a write leaves: the temporary file, never the record's name.
    (copy / "records" / "folds" / "tree" / ".0000.json.123.tmp").write_text('{"model": "tr')
    run = load_run(copy)
    assert run.done == run.total
    study = Experiment.from_toml(_write(tmp_path))
    study.verbose = 0
    study.run(copy)
    assert not list(copy.rglob("*.tmp"))


def test_a_changed_study_is_refused_and_restart_starts_over(tmp_path, iris_run):
    _, run_dir = iris_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    changed = Experiment.from_toml(
        _write(tmp_path, STUDY.replace("max_depth = 2", "max_depth = 4"))
    )
    changed.verbose = 0
    with pytest.raises(StudyChangedError, match=r"models\.tree: max_depth 2 -> 4\. Run into"):
        changed.run(copy)
    assert _records(copy) == _records(run_dir)  # untouched
    other_data = Experiment.from_toml(
        _write(tmp_path, STUDY.replace('dataset = "iris"', 'dataset = "iris"\nsubsample = 120'))
    )
    with pytest.raises(StudyChangedError, match=r"data: iris -> .*120") as error:
        other_data.run(copy)
    assert "cv:" not in str(error.value)  # the splits of other rows differ: no news
    changed.run(copy, restart=True)
    scores = changed.results.query("model == 'tree'")["score"].to_numpy()
    assert not np.array_equal(scores, load_run(run_dir).results.query("model == 'tree'")["score"])


def test_a_new_model_runs_alone_and_old_records_stay(tmp_path, iris_run, monkeypatch):
    _, run_dir = iris_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    text = STUDY + '\n[models.dummy]\nclass = "sklearn.dummy.DummyClassifier"\n'
    study = Experiment.from_toml(_write(tmp_path, text))
    study.verbose = 0
    monkeypatch.setattr(DecisionTreeClassifier, "fit", _no_fit)
    study.run(copy)
    assert set(study.results["model"]) == {"tree", "bag", "dummy"}
    assert _records(copy)["tree", 0] == _records(run_dir)["tree", 0]


@pytest.mark.parametrize("config", [{"n_jobs": 2}, {"backend": "threading", "n_jobs": 2}])
def test_same_table_for_any_n_jobs_and_backend(tmp_path, tiny_net_params, config):
    X, y = load_iris(return_X_y=True)
    models = {
        "net": NeuralNetClassifier(**tiny_net_params),
        "tree": DecisionTreeClassifier(max_depth=2),
    }
    kwargs = {"cv": 3, "scoring": ["accuracy", "neg_log_loss"], "verbose": 0}
    reference = Experiment(models, X, y, n_jobs=1, **kwargs).run(tmp_path / "one").results
    n_jobs = config.pop("n_jobs")
    with joblib.parallel_config(**config):
        got = Experiment(models, X, y, n_jobs=n_jobs, **kwargs).run(tmp_path / "two").results
    pd.testing.assert_frame_equal(got, reference, check_exact=True)


@pytest.mark.slow
def test_a_study_runs_on_a_dask_cluster(tmp_path, iris_run, dask_backend):
    study, _ = iris_run
    again = Experiment.from_toml(_write(tmp_path))
    again.verbose = 0
    again.run(tmp_path / "dask")
    pd.testing.assert_frame_equal(again.results, study.results, check_exact=True)


class _Cells(HTMLParser):
    """The ``data-value`` of every cell, by table class and row."""

    def __init__(self):
        super().__init__()
        self.tables, self.table, self.row = [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.table = {"class": attrs.get("class"), "scorer": attrs.get("data-scorer"),
                          "rows": []}  # fmt: skip
            self.tables.append(self.table)
        elif tag == "tr" and self.table is not None:
            self.row = {"attrs": attrs, "values": []}
            self.table["rows"].append(self.row)
        elif tag == "td" and "data-value" in attrs:
            self.row["values"].append(float(attrs["data-value"]))


def test_the_report_shows_the_numbers_of_the_records(tmp_path, iris_run):
    _, run_dir = iris_run
    path = load_run(run_dir).report(tmp_path / "report.html")
    parser = _Cells()
    text = path.read_text()
    parser.feed(text)
    records = _records(run_dir)
    scorers = ["accuracy", "neg_log_loss"]
    folds = next(t for t in parser.tables if t["class"] == "folds")["rows"][1:]
    assert len(folds) == len(records)
    for row in folds:
        record = records[row["attrs"]["data-model"], int(row["attrs"]["data-fold"])]
        assert row["values"] == [record["scores"][s] for s in scorers]
    for table in (t for t in parser.tables if t["class"] == "comparison"):
        for row in table["rows"][1:]:
            model = row["attrs"]["data-model"]
            scores = [records[model, f]["scores"][table["scorer"]] for f in range(6)]
            assert row["values"][0] == pytest.approx(np.mean(scores), rel=1e-12)
    assert text.count("data:image/png;base64,") == 3  # one per scorer, and calibration
    assert "<pre>" in text and 'dataset = "iris"' in html.unescape(text)  # the study file
    assert "scikit-learn" in text and "torch" in text  # the versions


def test_the_report_renders_in_a_browser(tmp_path, iris_run):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    _, run_dir = iris_run
    path = load_run(run_dir).report(tmp_path / "report.html")
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [*command, "--window-size=1200,2400", f"--screenshot={shot}", path.as_uri()],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert shot.stat().st_size > 50_000  # a page with tables and figures, not a blank one
    dom = subprocess.run(
        [*command, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert "trees on iris" in dom and "significantly ahead" in dom and "<img" in dom


def test_the_command_line_runs_shows_and_reports(tmp_path, capsys, iris_run):
    study = _write(tmp_path)
    assert main(["run", str(study), "--out", str(tmp_path / "run"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "12 of 12 folds recorded" in out and "ensemblekit report" in out
    assert main(["show", str(tmp_path / "run")]) == 0
    assert str(load_run(tmp_path / "run")) in capsys.readouterr().out
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").is_file()
    assert "Writing the report" in capsys.readouterr().err  # a long step says so first
    # A folder that is not a run, and a bad study: one line that says why, exit status 2.
    assert main(["show", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert main(["run", str(_write(tmp_path, STUDY.replace("max_depth", "max_dpth")))]) == 2
    assert "did you mean 'max_depth'" in capsys.readouterr().err


def test_a_changed_pipeline_is_named_in_one_short_line(tmp_path):
    X, y = load_iris(return_X_y=True)

    def study(C, max_depth=3):
        models = {
            "pipe": make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500)),
            "tree": DecisionTreeClassifier(max_depth=max_depth, random_state=0),
        }
        return Experiment(models, X, y, cv=3, verbose=0)

    study(1.0).run(tmp_path)
    with pytest.raises(StudyChangedError) as error:
        study(2.0).run(tmp_path)
    assert error.value.changes == ["models.pipe: logisticregression__C 1.0 -> 2.0"]
    text = str(error.value)
    assert text.endswith("Run into a new folder, or pass restart=True to discard the old records.")
    assert len(text) < 400 and "\n" not in text
    # Many parameters of one model: three are named, and how many more.
    with pytest.raises(StudyChangedError) as error:
        Experiment(
            {"pipe": make_pipeline(MinMaxScaler(), LogisticRegression(C=3.0, max_iter=9))},
            X, y, cv=3, verbose=0,
        ).run(tmp_path)  # fmt: skip
    (change,) = error.value.changes
    assert change.startswith("models.pipe: ") and change.endswith("more")
    assert len(str(error.value)) < 400


def test_a_quick_run_has_its_own_folder_and_the_cli_names_its_flag(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    study = _write(tmp_path, name="trees.toml")
    assert main(["run", str(study), "--quick", "-q"]) == 0
    assert main(["run", str(study), "-q"]) == 0  # the full run does not meet the quick one
    assert load_run(tmp_path / "runs" / "trees-quick").complete
    assert load_run(tmp_path / "runs" / "trees").complete
    capsys.readouterr()
    _write(tmp_path, STUDY.replace("max_depth = 2", "max_depth = 4"), name="trees.toml")
    assert main(["run", str(study), "-q"]) == 2
    err = capsys.readouterr().err
    assert "models.tree: max_depth 2 -> 4" in err and "run again with --restart" in err
    assert "restart=True" not in err and len(err) < 400


@pytest.mark.parametrize("command", [[], ["run"], ["report"], ["show"]])
def test_help_says_what_to_type(command, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*command, "--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    assert "usage: ensemblekit" in text
    if not command:
        assert "ensemblekit run study.toml --out runs/first" in text
    if command == ["run"]:
        assert "[models.net]" in text and "--restart" in text


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "ensemblekit"
    assert script.is_file(), "pip install -e . installs the ensemblekit command"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "usage: ensemblekit" in result.stdout


def test_a_partial_run_shows_what_it_has(tmp_path, iris_run):
    _, run_dir = iris_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    for fold in (3, 4, 5):
        (copy / "records" / "folds" / "bag" / f"{fold:04d}.json").unlink()
    run = load_run(copy)
    assert not run.complete and run.done == 9
    text = str(run)
    assert "9 of 12 folds recorded" in text and "run the study again" in text
    assert "On the 3 folds every model has finished so far" in text
    assert len(run.comparison["accuracy"][0].scores) == 3
    html = run.report(tmp_path / "partial.html").read_text()
    assert "incomplete" in html


@pytest.mark.parametrize("analysis", ANALYSES.values(), ids=ANALYSES.keys())
def test_each_analysis_declares_every_setting_it_takes(analysis):
    """The registry is what a study file, a run folder and a report read: each analysis
    names the type of every setting, choices only among them, and its report template
    (the fold analyses' too: comparison, calibration)."""
    assert analysis.types.keys() == analysis.defaults.keys()
    assert set(analysis.choices) <= set(analysis.defaults)
    templates = Path(ensemblekit.experiment.__file__).parent / "templates" / "analyses"
    assert (templates / f"{analysis.kind}.html").is_file()


def test_analyses_are_recorded_and_read_back(tmp_path, monkeypatch):
    text = STUDY.replace(
        "[analyses.calibration]\nn_bins = 5",
        textwrap.dedent("""\
            [analyses.calibration]
            n_bins = 5

            [analyses.bias_variance]
            model = "tree"
            n_rounds = 4
            param_name = "max_depth"
            param_range = [1, 3]

            [analyses.size_curve]
            model = "bag"
            n_orderings = 3

            [analyses.uncertainty]
            model = "bag"

            [analyses.conformal]
            score = "aps"
            mondrian = true
        """),
    )
    study = Experiment.from_toml(_write(tmp_path, text))
    study.verbose = 0
    run = study.run(tmp_path / "run").run_
    analyses = run.analyses
    # Every fitted analysis of the registry is here: a new one needs its case in this study.
    assert set(analyses) == set(FITTED)
    assert [r.params for r in analyses["bias_variance"]] == [{"max_depth": 1}, {"max_depth": 3}]
    assert analyses["size_curve"].scores.shape == (3, 4)
    assert analyses["uncertainty"].total.shape == (38,)  # a quarter of 150 rows, held out
    conformal = analyses["conformal"]  # half of 150 rows held out: 37 calibrate, 38 measure
    assert conformal.n_calibration == 37 and conformal.n_test == 38
    np.testing.assert_array_equal(conformal.levels, [0.5, 0.8, 0.9])
    assert conformal.names == ["tree", "bag"] and conformal.coverage.shape == (2, 3)
    assert np.all((0 <= conformal.coverage) & (conformal.coverage <= 1))
    assert set(run.calibration) == {"tree", "bag"}
    assert 0 <= run.calibration["tree"]["ece"] <= 1
    # Read back, the results are the ones computed: same numbers, same types.
    seed = int(draw_seeds(3, 6 + 1)[-1])  # after the 6 folds' seeds
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y
    )
    expected = bias_variance_curve(
        study.models["tree"], X_train, y_train, X_test, y_test, param_name="max_depth",
        param_range=[1, 3], loss="0-1", n_rounds=4, random_state=seed,
    )  # fmt: skip
    assert analyses["bias_variance"] == expected
    from matplotlib.figure import Figure

    figures, save = [], Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda fig, *a, **k: figures.append(fig.axes) or save(fig, *a, **k)
    )
    html = run.report(tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 7  # 2 scorers, and 5 analyses
    assert "Bias and variance of tree" in html and "Uncertainty of bag" in html
    assert "Conformal sets of tree, bag" in html and "each class calibrated on its own rows" in html
    # The 0-1 table says what adds up, and names its variance column for what it is.
    assert "Expected loss = bias + net variance" in html and "variance (disagreement)" in html
    # The uncertainty figure: densities (each group's bars have area 1), in nats.
    (axes,) = [a for a in figures if a[0].get_title() == "total"]
    assert [ax.get_xlabel() for ax in axes] == [
        f"{name} uncertainty (nats)" for name in ("total", "aleatoric", "epistemic")
    ]
    for ax in axes:
        groups = {}
        for bar in ax.patches:
            groups.setdefault(bar.get_facecolor(), []).append(bar)  # a colour per group
        for bars in groups.values():
            assert sum(b.get_height() * b.get_width() for b in bars) == pytest.approx(1)
    # Side by side, the comparison's two x labels are two lines each, so they never meet.
    scores, difference = next(a for a in figures if len(a) == 2)
    assert scores.get_xlabel().count("\n") == difference.get_xlabel().count("\n") == 1
    # A changed analysis runs again; the folds stay.
    again = Experiment.from_toml(
        _write(tmp_path, text.replace("n_orderings = 3", "n_orderings = 2"))
    )
    again.verbose = 0
    assert again.run(tmp_path / "run").run_.analyses["size_curve"].scores.shape == (2, 4)


_SEEN = []


class _Watcher(DecisionTreeClassifier):
    """Notes, as each fold's fit starts, how many fold records the run folder holds."""

    def fit(self, X, y, **kwargs):
        _SEEN.append(len(list(Path(os.environ["EK_RUN_DIR"]).glob("records/folds/*/*.json"))))
        return super().fit(X, y, **kwargs)


def test_each_fold_is_written_as_it_finishes(tmp_path, monkeypatch):
    X, y = load_iris(return_X_y=True)
    monkeypatch.setenv("EK_RUN_DIR", str(tmp_path / "run"))
    _SEEN.clear()
    Experiment({"tree": _Watcher()}, X, y, cv=4, n_jobs=1, verbose=0).run(tmp_path / "run")
    assert _SEEN == [0, 1, 2, 3]


DOCS = Path(__file__).parent.parent / "docs"


def _toml_blocks():
    blocks = []
    for guide in sorted(DOCS.glob("*.md")):
        blocks += re.findall(r"```toml\n(.*?)```", guide.read_text(), flags=re.S)
    return blocks


@pytest.mark.parametrize("block", _toml_blocks(), ids=lambda b: b.splitlines()[0][:40])
def test_the_study_files_in_the_guide_are_valid(block, tmp_path):
    study = Experiment.from_toml(_write(tmp_path, block), quick=True)
    assert study.models and study.X.shape[0] > 0


def test_the_demo_study_runs_in_quick_mode_and_writes_its_report(tmp_path):
    env = {**os.environ, "ENSEMBLEKIT_QUICK": "1", "MPLBACKEND": "Agg"}
    demo = Path(__file__).parent.parent / "examples" / "demo.toml"
    start = time.monotonic()
    # Warnings are errors, but for ConvergenceWarning: quick mode trains few epochs.
    main = (
        "import runpy, sys, warnings\n"
        "from sklearn.exceptions import ConvergenceWarning\n"
        "warnings.simplefilter('error')\n"
        "warnings.simplefilter('ignore', ConvergenceWarning)\n"
        "sys.argv[0] = 'ensemblekit'\n"
        "runpy.run_module('ensemblekit', run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", main, "run", str(demo),
         "--out", str(tmp_path / "demo"), "--report", "-q"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - start < 120
    assert f"Report: {tmp_path / 'demo' / 'report.html'}" in result.stdout
    assert "significantly ahead" in result.stdout or "No model is" in result.stdout
    assert load_run(tmp_path / "demo").complete


def test_progress_counts_every_analysis_the_study_declares(iris_run):
    _, run_dir = iris_run
    run = load_run(run_dir)
    # Calibration is read from the folds: done once they are.
    assert run.progress == "12 of 12 folds recorded (2 models x 6 folds), 1 of 1 analyses."


def test_the_command_line_names_the_model_a_warning_is_about(tmp_path, capsys):
    study = _write(
        tmp_path,
        'name = "nets"\nrandom_state = 0\n[data]\ndataset = "iris"\n[cv]\nn_splits = 3\n'
        '[models.short_net]\nclass = "ensemblekit.nets.NeuralNetClassifier"\nmax_epochs = 2\n',
    )
    with warnings.catch_warnings():
        warnings.simplefilter("always", ConvergenceWarning)  # this module ignores it
        assert main(["run", str(study), "--out", str(tmp_path / "run"), "-q"]) == 0
    err = capsys.readouterr().err
    assert err.count("ConvergenceWarning") == 1, err  # one per model and call
    assert err.startswith(
        "ConvergenceWarning: 'short_net' (NeuralNetClassifier): 6 of 6 folds gave this warning"
    )
    assert "sys.exit" not in err and ".py:" not in err  # no line of the program
