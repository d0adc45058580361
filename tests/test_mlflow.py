"""A run folder exported to MLflow: a parent run, a child run per model, updated in place."""

import contextlib
import re
import shutil
import sys

import pytest

from ensemblekit.experiment import Experiment, load_run
from ensemblekit.experiment._cli import main
from ensemblekit.experiment._mlflow import flat_params

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

STUDY = """\
name = "iris in mlflow"
random_state = 0
scoring = ["accuracy", "neg_log_loss"]

[data]
dataset = "iris"

[cv]
splitter = "StratifiedKFold"
n_splits = 3
shuffle = true

[models.tree]
class = "sklearn.tree.DecisionTreeClassifier"
max_depth = 2

[models.scaled_logistic]
pipeline = ["sklearn.preprocessing.StandardScaler",
            {class = "sklearn.linear_model.LogisticRegression", C = 0.5}]
"""


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is ./mlruns
    study_file = tmp_path / "study.toml"
    study_file.write_text(STUDY)
    study = Experiment.from_toml(study_file)
    study.verbose = 0
    study.run(tmp_path / "run")
    return tmp_path / "run"


def _runs(client, experiment="iris in mlflow"):
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return client.search_runs([experiment_id])


def test_a_study_reads_back_through_search_runs(run_dir, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    before = mlflow.get_tracking_uri()
    parent = load_run(run_dir).to_mlflow(uri)
    assert mlflow.get_tracking_uri() == before  # the process's MLflow settings untouched
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    table = mlflow.search_runs(experiment_names=["iris in mlflow"])
    children = table[table["tags.mlflow.parentRunId"] == parent].set_index("tags.mlflow.runName")
    assert sorted(children.index) == ["scaled_logistic", "tree"]
    assert children.loc["tree", "params.class"] == "sklearn.tree._classes.DecisionTreeClassifier"
    assert children.loc["tree", "params.max_depth"] == "2"
    logistic = children.loc["scaled_logistic"]  # named as get_params(deep=True) names them
    assert logistic["params.steps"] == '["standardscaler", "logisticregression"]'
    assert logistic["params.logisticregression"].endswith("LogisticRegression")
    assert logistic["params.logisticregression__C"] == "0.5"
    assert logistic["params.standardscaler__with_mean"] == "true"
    run = load_run(run_dir)
    client = MlflowClient(tracking_uri=uri)
    tree = children.loc["tree", "run_id"]
    history = client.get_metric_history(tree, "accuracy.fold")
    assert [m.step for m in history] == [0, 1, 2]
    assert [m.value for m in history] == [
        run.fold_record("tree", f)["scores"]["accuracy"] for f in range(3)
    ]
    row = next(r for r in run.comparison["accuracy"] if r.name == "tree")
    assert children.loc["tree", "metrics.accuracy.mean"] == pytest.approx(row.mean)
    assert children.loc["tree", "metrics.accuracy.ci_low"] == pytest.approx(row.ci_low)
    study_run = client.get_run(parent)
    assert study_run.data.tags["ensemblekit.study"] == "iris in mlflow"
    assert study_run.data.tags["version.scikit-learn"] == run.study["versions"]["scikit-learn"]
    artifacts = {a.path for a in client.list_artifacts(parent)}
    assert {"study.toml", "study.json", "report.html"} <= artifacts


def test_exporting_again_updates_the_runs_it_made(run_dir, tmp_path):
    """A half-finished run, exported, then finished and exported twice: the same runs, the
    missing fold added once, nothing logged twice."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    record = run_dir / "records" / "folds" / "tree" / "0002.json"
    shutil.move(record, tmp_path / "aside.json")
    first = load_run(run_dir).to_mlflow(uri)
    tree = next(r for r in _runs(client) if r.data.tags.get("ensemblekit.model") == "tree")
    assert [m.step for m in client.get_metric_history(tree.info.run_id, "accuracy.fold")] == [0, 1]
    shutil.move(tmp_path / "aside.json", record)
    for _ in range(2):
        assert load_run(run_dir).to_mlflow(uri) == first
    runs = _runs(client)
    assert len(runs) == 3  # the study and its two models
    history = client.get_metric_history(tree.info.run_id, "accuracy.fold")
    assert [m.step for m in history] == [0, 1, 2]
    means = client.get_metric_history(tree.info.run_id, "accuracy.mean")
    assert len(means) == 2  # on two folds, then on three; the third export added nothing
    assert all(r.info.status == "FINISHED" for r in runs)


def test_the_cli_exports_and_names_the_extra(run_dir, tmp_path, monkeypatch, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["export", str(run_dir), "--mlflow", uri, "--experiment", "mine"]) == 0
    said = capsys.readouterr().out
    assert "parent run" in said and ". to MLflow" not in said
    assert re.search(r"^Exported '.+' \(\d+ of \d+ folds recorded.*\) to MLflow at ", said)
    assert len(_runs(MlflowClient(tracking_uri=uri), "mine")) == 3
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if MLflow were not installed
    assert main(["export", str(run_dir), "--mlflow", uri]) == 2
    assert "pip install 'ensemblekit[mlflow]'" in capsys.readouterr().err


def test_parameters_are_flattened_within_mlflows_limits():
    inner = {"class": "a.B", "params": {"n": None, "long": "x" * 7000}}
    spec = {
        "class": "x.Y",
        "params": {"estimator": inner, "steps": [["cut", "drop"], ["b", inner]]},
    }
    flat = flat_params(spec)
    assert flat["class"] == "x.Y" and flat["estimator"] == "a.B" and flat["estimator__n"] == "null"
    assert flat["steps"] == '["cut", "b"]' and flat["cut"] == "drop" and flat["b"] == "a.B"
    assert len(flat["b__long"]) == 6000 and flat["b__long"].endswith("…")


def test_two_exports_at_once_end_with_one_set_of_runs(run_dir, tmp_path):
    """Three exports of one run at once, as three terminals would start them."""
    import threading

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).create_experiment("iris in mlflow")
    start, ids, errors = threading.Barrier(3, timeout=60), [], []

    def export():
        start.wait()
        try:
            ids.append(load_run(run_dir).to_mlflow(uri))
        except Exception as error:  # pragma: no cover - shown by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=export) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(ids) == 3 and len(set(ids)) == 1
    runs = _runs(MlflowClient(tracking_uri=uri))
    assert sorted(r.data.tags["ensemblekit.role"] for r in runs) == ["model", "model", "study"]


def test_an_export_that_finds_an_older_twin_after_creating_keeps_the_twin(
    run_dir, tmp_path, monkeypatch
):
    """From another machine (no shared lock): the other export created the study's run
    between this one's search and its create; this one deletes its own and goes on."""
    from ensemblekit.experiment import _mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = load_run(run_dir).to_mlflow(uri)  # the twin, made first
    client = MlflowClient(tracking_uri=uri)
    for run in _runs(client):
        if run.info.run_id != first:
            client.delete_run(run.info.run_id)  # only the twin's parent is there yet
    search_runs, blind = MlflowClient.search_runs, [True]

    def late(self, *args, **kwargs):
        found = search_runs(self, *args, **kwargs)
        if blind.pop() if blind else False:  # the first look misses the twin
            return []
        return found

    monkeypatch.setattr(MlflowClient, "search_runs", late)
    monkeypatch.setattr(_mlflow, "_export_lock", lambda *args: contextlib.nullcontext())
    assert load_run(run_dir).to_mlflow(uri) == first
    monkeypatch.setattr(MlflowClient, "search_runs", search_runs)
    runs = _runs(client)
    assert sorted(r.data.tags["ensemblekit.role"] for r in runs) == ["model", "model", "study"]


def test_a_nan_score_is_exported_as_missing_with_a_warning(run_dir, tmp_path):
    import json

    record = run_dir / "records" / "folds" / "tree" / "0001.json"
    data = json.loads(record.read_text())
    data["scores"]["accuracy"] = float("nan")
    record.write_text(json.dumps(data))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.warns(UserWarning, match="'tree': accuracy.fold not finite"):
        load_run(run_dir).to_mlflow(uri)
    client = MlflowClient(tracking_uri=uri)
    tree = next(r for r in _runs(client) if r.data.tags.get("ensemblekit.model") == "tree")
    assert [m.step for m in client.get_metric_history(tree.info.run_id, "accuracy.fold")] == [0, 2]


def test_mlflows_own_errors_are_one_line_naming_the_uri_or_experiment(run_dir, tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    client.delete_experiment(client.create_experiment("gone"))
    assert main(["export", str(run_dir), "--mlflow", uri, "--experiment", "gone"]) == 2
    err = capsys.readouterr().err
    assert "'gone'" in err and "is deleted" in err and "Traceback" not in err
    assert main(["export", str(run_dir), "--mlflow", "nosuchscheme://x/y"]) == 2
    err = capsys.readouterr().err
    assert "'nosuchscheme://x/y'" in err and "Traceback" not in err
    said, error = err.strip().splitlines()  # the step it starts, then the error in one line
    assert said.startswith("Exporting to MLflow") and error.startswith("ensemblekit export: ")


def test_a_slash_in_the_study_name_does_not_make_mlflow_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study_file = tmp_path / "study.toml"
    study_file.write_text(STUDY.replace('name = "iris in mlflow"', 'name = "iris/trees"'))
    study = Experiment.from_toml(study_file)
    study.verbose = 0
    study.run(tmp_path / "run")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    load_run(tmp_path / "run").to_mlflow(uri)
    client = MlflowClient(tracking_uri=uri)
    assert client.get_experiment_by_name("iris/trees") is None
    assert len(_runs(client, "iris-trees")) == 3
