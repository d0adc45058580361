"""What a study file passes is checked by kind, not only what it names.

Each test plants the hostile case: a pickle where a dataset cache or a pipeline's memory
would be, a folder outside the run for a checkpoint, a package in the working directory,
a hard link where the lock goes. Nothing runs, is written or is loaded: a marker file
never appears and a victim file keeps its text.
"""

import os
import pathlib
import subprocess
import sys
import textwrap

import joblib
import pytest

from ensemblekit.experiment import Experiment, RunFolderError, StudyError
from ensemblekit.experiment._cli import main

HEAD = """\
name = "a study"
[cv]
splitter = "StratifiedKFold"
n_splits = 3
"""
IRIS = '[data]\ndataset = "iris"\n'
TREE = """
[models.tree]
class = "sklearn.tree.DecisionTreeClassifier"
max_depth = 2
"""


class _Touch:
    """A pickle that, when loaded, creates the file at ``path``."""

    def __init__(self, path):
        self.path = pathlib.Path(path)

    def __reduce__(self):
        return pathlib.Path.touch, (self.path,)


def _study(tmp_path, body: str) -> pathlib.Path:
    path = tmp_path / "study.toml"
    path.write_text(HEAD + textwrap.dedent(body))
    return path


def _refused(study, *, key: str, match: str | None, **kwargs) -> StudyError:
    with pytest.raises(StudyError, match=match) as error:
        Experiment.from_toml(study, **kwargs)
    assert error.value.key == key and error.value.line is not None
    assert "--trust" in error.value.message  # the way out, for whoever runs it
    return error.value


def test_a_dataset_cache_the_study_ships_is_never_unpickled(tmp_path):
    from sklearn.datasets._base import _pkl_filepath

    marker, cache = tmp_path / "marker", tmp_path / "cache"
    cache.mkdir()
    joblib.dump(_Touch(marker), _pkl_filepath(str(cache), "cal_housing.pkz"))
    body = f"""
        [data]
        loader = "sklearn.datasets.fetch_california_housing"
        params = {{data_home = "{cache}", download_if_missing = false}}
        """
    study = _study(tmp_path, body + TREE.replace("Classifier", "Regressor"))
    _refused(study, key="data.loader", match="downloads data and unpickles its cache")
    assert not marker.exists()
    # The planted pickle is real: trusted, the loader loads it.
    with pytest.raises(Exception):  # noqa: B017 - what it loads is no dataset
        Experiment.from_toml(study, trust=["sklearn.datasets"])
    assert marker.exists()


def test_a_loader_that_downloads_is_refused(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    body = """
        [data]
        loader = "sklearn.datasets.fetch_file"
        params = {url = "http://127.0.0.1:9/evil.py", folder = "victim"}
        """
    _refused(_study(tmp_path, body + TREE), key="data.loader", match="downloads data")
    assert not list(victim.iterdir())


def test_a_pipelines_memory_never_loads_planted_pickles(tmp_path):
    body = (
        IRIS
        + """
        [models.cached]
        pipeline = ["sklearn.preprocessing.StandardScaler", "sklearn.tree.DecisionTreeClassifier"]
        memory = "cache"
        """
    )
    error = _refused(_study(tmp_path, body), key="models.cached.memory", match="'memory' takes")
    assert "unpickle anything" in error.message


def test_a_checkpoint_never_writes_outside_the_run(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "history.json").write_text("precious")
    body = (
        IRIS
        + f"""
        [models.net]
        class = "ensemblekit.nets.NeuralNetClassifier"
        max_epochs = 2
        callbacks = [{{class = "skorch.callbacks.Checkpoint", dirname = "{outside}", f_history = "history.json"}}]
        """  # noqa: E501
    )
    _refused(_study(tmp_path, body), key="models.net.callbacks[0].dirname", match="a folder")
    # Named with none of its arguments, it still writes where its defaults say.
    bare = body.replace(f', dirname = "{outside}", f_history = "history.json"', "")
    _refused(_study(tmp_path, bare), key="models.net.callbacks[0].class", match="its defaults")
    assert (outside / "history.json").read_text() == "precious"


# Names no list holds: the check is by the kind of argument.
BY_KIND = {
    "a file for a loader": (
        '[data]\nloader = "sklearn.datasets.load_svmlight_file"\nparams = {f = "data.txt"}\n'
        + TREE,
        "data.params.f",
    ),
    "a folder for a loader": (
        '[data]\nloader = "sklearn.datasets.load_files"\nparams = {container_path = "."}\n' + TREE,
        "data.params.container_path",
    ),
    "a checkpoint written at the end": (
        IRIS + '[models.net]\nclass = "ensemblekit.nets.NeuralNetClassifier"\n'
        'callbacks = [{class = "skorch.callbacks.TrainEndCheckpoint"}]\n',
        "models.net.callbacks[0].class",
    ),
    "a state loaded from a checkpoint": (
        IRIS + '[models.net]\nclass = "ensemblekit.nets.NeuralNetClassifier"\n'
        'callbacks = [{class = "skorch.callbacks.LoadInitState", checkpoint = {class = '
        '"skorch.callbacks.Checkpoint", dirname = "x"}}]\n',
        "models.net.callbacks[0].checkpoint",
    ),
    "a tracking service": (
        IRIS + '[models.net]\nclass = "ensemblekit.nets.NeuralNetClassifier"\n'
        'callbacks = [{class = "skorch.callbacks.MlflowLogger"}]\n',
        "models.net.callbacks[0].class",
    ),
    "a data pipe that opens the files its data names": (
        IRIS + '[models.net]\nclass = "ensemblekit.nets.NeuralNetClassifier"\n'
        'dataset = {class = "torch.utils.data.datapipes.iter.FileOpener", datapipe = '
        '{class = "torch.utils.data.datapipes.iter.IterableWrapper", iterable = ["secret"]}}\n',
        "models.net.dataset.class",
    ),
    "a cache in a search's grid": (
        IRIS + '[models.search]\nclass = "sklearn.model_selection.GridSearchCV"\n'
        'estimator = {pipeline = ["sklearn.preprocessing.StandardScaler", '
        '"sklearn.tree.DecisionTreeClassifier"]}\n'
        'param_grid = {memory = ["cache"]}\n',
        "models.search.param_grid",
    ),
    "a cache in a search's distributions": (
        IRIS + '[models.search]\nclass = "sklearn.model_selection.RandomizedSearchCV"\n'
        'estimator = {pipeline = ["sklearn.preprocessing.StandardScaler", '
        '"sklearn.tree.DecisionTreeClassifier"]}\n'
        'param_distributions = [{pipeline__memory = ["cache"]}]\n',
        "models.search.param_distributions",
    ),
    "a clustering's memory": (
        IRIS + '[models.knn]\npipeline = [{class = "sklearn.cluster.FeatureAgglomeration", '
        'n_clusters = 2, memory = "cache"}, "sklearn.tree.DecisionTreeClassifier"]\n',
        "models.knn.pipeline[0].memory",
    ),
    "a nested parameter": (
        IRIS + '[models.net]\nclass = "ensemblekit.nets.NeuralNetClassifier"\n'
        'callbacks = [["cp", {class = "skorch.callbacks.EarlyStopping"}]]\n'
        'callbacks__cp__dirname = "elsewhere"\n',
        "models.net.callbacks__cp__dirname",
    ),
    "a path in an argument of another name": (
        IRIS + '[models.tree]\nclass = "sklearn.tree.DecisionTreeClassifier"\n'
        'criterion = "../../etc/passwd"\n',
        "models.tree.criterion",
    ),
    "an address in an argument of another name": (
        IRIS + '[models.tree]\nclass = "sklearn.tree.DecisionTreeClassifier"\n'
        'criterion = "https://example.org/x"\n',
        "models.tree.criterion",
    ),
}


@pytest.mark.parametrize("case", list(BY_KIND))
def test_an_argument_that_names_a_file_is_refused_by_its_kind(case, tmp_path):
    body, key = BY_KIND[case]
    error = _refused(_study(tmp_path, body), key=key, match=None)
    assert "a study file" in error.message or "without --trust" in error.message


def test_trust_of_the_module_lets_a_path_through(tmp_path):
    """The runner may allow it: a file path for scikit-learn's svmlight reader."""
    from sklearn.datasets import dump_svmlight_file, load_iris

    dump_svmlight_file(*load_iris(return_X_y=True), str(tmp_path / "iris.txt"))
    body = f'[data]\nloader = "sklearn.datasets.load_svmlight_file"\nparams = {{f = "{tmp_path / "iris.txt"}"}}\n'  # noqa: E501
    study = _study(tmp_path, body + TREE)
    with pytest.raises(StudyError, match="takes a file"):
        Experiment.from_toml(study)
    with pytest.raises(TypeError, match="Sparse data"):  # read: svmlight rows are sparse
        Experiment.from_toml(study, trust=["sklearn.datasets"])


def test_plain_values_of_an_io_parameter_still_build(tmp_path):
    """A flag or a number is no file: SVC's cache_size, a pipeline's memory = None."""
    body = (
        IRIS
        + """
        [models.svc]
        class = "sklearn.svm.SVC"
        cache_size = 100
        [models.lars]
        pipeline = ["sklearn.preprocessing.StandardScaler", {class = "sklearn.linear_model.LogisticRegression", max_iter = 200}]
        """  # noqa: E501
    )
    assert sorted(Experiment.from_toml(_study(tmp_path, body))._models) == ["lars", "svc"]


def test_python_m_never_imports_a_study_class_from_the_working_directory(tmp_path):
    marker = tmp_path / "marker"
    planted = tmp_path / "imblearn"
    planted.mkdir()
    (planted / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    body = (
        IRIS
        + """
        [models.balanced]
        class = "imblearn.ensemble.BalancedBaggingClassifier"
        n_estimators = 2
        """
    )
    study = _study(tmp_path, body)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    process = subprocess.run(
        [sys.executable, "-m", "ensemblekit", "run", str(study), "--out", "run", "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert not marker.exists(), process.stderr
    assert process.returncode == 0, process.stderr


@pytest.mark.parametrize("module", ["os", "subprocess", "builtins", "pickle", "importlib.util"])
def test_trusting_a_module_of_python_itself_is_refused(module, tmp_path, capsys):
    study = _study(tmp_path, IRIS + TREE)
    with pytest.raises(ValueError, match=f"trust {module!r} is refused: it is of Python's"):
        Experiment.from_toml(study, trust=[module])
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(study), "--trust", module])
    assert exit_.value.code == 2
    assert "os.system" in capsys.readouterr().err  # what trusting it would mean


def test_a_lock_that_is_a_hard_link_is_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    os.link(victim, run / ".lock")
    study = _study(tmp_path, IRIS + TREE)
    with pytest.raises(RunFolderError, match="hard link"):
        Experiment.from_toml(study).run(run)
    assert victim.read_text() == "precious"
    assert main(["run", str(study), "--out", str(run), "-q"]) == 2
    assert victim.read_text() == "precious"
