"""A run folder exported to MLflow: one parent run for the study, a child run per model.

Everything goes through ``MlflowClient`` with the given tracking URI, so the process's
MLflow settings (``mlflow.set_tracking_uri``, an active run) stay as the user left them.
A tag holds a digest of the study; exporting the same study again finds its runs and adds
only what is new (folds finished since, a changed mean), so nothing is duplicated, also
when two exports run at once: on one machine they take turns (a lock), and from two
machines each creates what it did not find, then keeps the oldest run of its key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the export reconciles without a lock
    fcntl = None

# MLflow's limits (mlflow.utils.validation): key and value lengths, entries per batch.
_KEY_LENGTH, _PARAM_LENGTH, _TAG_LENGTH, _BATCH = 250, 6000, 8000, 100
_ROLE, _DIGEST, _MODEL = "ensemblekit.role", "ensemblekit.study_digest", "ensemblekit.model"


class MlflowExportError(RuntimeError):
    """MLflow refused the export: the message names the URI or the experiment, and why."""


def _mlflow():
    try:
        import mlflow
    except ImportError:
        raise ImportError(
            "Exporting to MLflow needs mlflow, which is not installed: "
            "pip install 'ensemblekit[mlflow]'"
        ) from None
    return mlflow


def study_digest(study: dict) -> str:
    """What identifies a study in MLflow: a digest of its record (models, data, splits,
    seed), which resuming a run does not change and changing the study does."""
    text = json.dumps(study, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _is_estimator(spec) -> bool:
    return isinstance(spec, dict) and "class" in spec and isinstance(spec.get("params"), dict)


def _named_estimators(value) -> bool:
    """A pipeline's ``steps`` (or a ColumnTransformer's ``transformers``): named estimators."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(item, list | tuple) and len(item) >= 2 and isinstance(item[0], str)
            for item in value
        )
        and any(_is_estimator(item[1]) for item in value)
    )


def _text(value) -> str:
    """A parameter's value as MLflow keeps it: text, cut to MLflow's length limit."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _PARAM_LENGTH else text[: _PARAM_LENGTH - 1] + "…"


def flat_params(spec, prefix: str = "") -> dict[str, str]:
    """A model's recorded estimator as MLflow params, named as scikit-learn's
    ``get_params(deep=True)`` names them (``logisticregression__C``): an estimator's class
    under its own name (the model's under ``class``), every other value as text cut to
    MLflow's length limit (an ellipsis marks a cut)."""
    flat = {(prefix or "class")[:_KEY_LENGTH]: spec["class"]}
    for key, value in spec["params"].items():
        name = f"{prefix}__{key}" if prefix else key
        if _is_estimator(value):
            flat.update(flat_params(value, name))
        elif _named_estimators(value):
            flat[name[:_KEY_LENGTH]] = _text([item[0] for item in value])
            for item in value:
                step = f"{prefix}__{item[0]}" if prefix else item[0]
                if _is_estimator(item[1]):
                    flat.update(flat_params(item[1], step))
                else:  # "passthrough", "drop"
                    flat[step[:_KEY_LENGTH]] = _text(item[1])
        else:
            flat[name[:_KEY_LENGTH]] = _text(value)
    return flat


def to_mlflow(run, tracking_uri: str, experiment_name: str | None = None) -> str:
    """Export ``run`` (a :class:`RunResults`) to the MLflow tracking server or store at
    ``tracking_uri``; returns the study's parent run id (see ``RunResults.to_mlflow``).

    MLflow's own errors (a URI it cannot use, a deleted experiment) are raised as one
    :class:`MlflowExportError` that names the URI or the experiment."""
    mlflow = _mlflow()
    # MLflow's UI reads "/" in an experiment's name as folders (its breadcrumb splits
    # there): the study's name goes in with "-" instead; a name given is taken as it is.
    name = experiment_name or run.study["name"].replace("/", "-")
    try:
        with _export_lock(tracking_uri, name, study_digest(run.study)):
            return _export(run, tracking_uri, name)
    except mlflow.exceptions.MlflowException as error:
        first = str(error.message if hasattr(error, "message") else error).strip()
        first = first.splitlines()[0] if first else type(error).__name__
        raise MlflowExportError(
            f"MLflow at {tracking_uri!r} refused the export to experiment {name!r}: {first}"
        ) from None
    except (ValueError, TypeError) as error:  # a URI scheme MLflow has no store for
        if "uri" not in str(error).lower() and "scheme" not in str(error).lower():
            raise
        raise MlflowExportError(
            f"MLflow cannot use the tracking URI {tracking_uri!r}: {error}"
        ) from None


@contextlib.contextmanager
def _export_lock(tracking_uri: str, name: str, digest: str):
    """Hold the export of one study to one store: two exports on this machine at once run
    one after the other, so the second finds the first's runs. The lock file is this
    user's, in the temporary folder, opened never through a link; where none can be had
    (no ``fcntl``, a file of another user), the export goes on, and ``_find_or_create``
    still reconciles two runs made at once."""
    key = hashlib.sha256(f"{tracking_uri}\0{name}\0{digest}".encode()).hexdigest()[:20]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = Path(tempfile.gettempdir()) / f"ensemblekit-mlflow-{uid}-{key}.lock"
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        handle = os.open(path, flags, 0o600)
    except OSError:
        handle = None
    if handle is not None and os.fstat(handle).st_uid != uid:  # another user's: not waited on
        os.close(handle)
        handle = None
    try:
        if handle is not None and fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        if handle is not None:
            os.close(handle)  # releases the lock


def _export(run, tracking_uri: str, name: str) -> str:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment_id = _experiment(client, name, tracking_uri)
    digest = study_digest(run.study)
    tags = {
        _ROLE: "study",
        _DIGEST: digest,
        "ensemblekit.study": run.study["name"],
        "ensemblekit.run_dir": str(Path(run.path).resolve()),
        "ensemblekit.progress": run.progress,
        **{f"version.{package}": v for package, v in run.study["versions"].items()},
    }
    parent = _find_or_create(
        client, experiment_id, f"tags.`{_DIGEST}` = '{digest}' and tags.`{_ROLE}` = 'study'",
        run.study["name"], tags,
    )  # fmt: skip
    _log_artifacts(client, parent, run)
    table = run.comparison
    for model in run.models:
        child = _find_or_create(
            client, experiment_id,
            f"tags.`mlflow.parentRunId` = '{parent}' and tags.`{_MODEL}` = '{model}'",
            model, {"mlflow.parentRunId": parent, _MODEL: model, _ROLE: "model"},
        )  # fmt: skip
        params = [Param(k, v) for k, v in flat_params(run.study["models"][model]).items()]
        for start in range(0, len(params), _BATCH):
            client.log_batch(child, params=params[start : start + _BATCH])
        metrics = _new_metrics(client, child, _model_metrics(run, table, model), Metric)
        for start in range(0, len(metrics), _BATCH):
            client.log_batch(child, metrics=metrics[start : start + _BATCH])
        client.set_terminated(child, "FINISHED")
    client.log_batch(parent, tags=[RunTag(k, str(v)[:_TAG_LENGTH]) for k, v in tags.items()])
    client.set_terminated(parent, "FINISHED")
    return parent


def _experiment(client, name: str, tracking_uri: str) -> str:
    """The id of the experiment ``name``, created if absent (by whichever export of two
    at once gets there first); a deleted one is an error that says how to go on."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name)
        except MlflowException:  # another export created it in between
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == "deleted":
        raise MlflowExportError(
            f"The MLflow experiment {name!r} at {tracking_uri!r} is deleted: restore it "
            f"(mlflow experiments restore --experiment-id {experiment.experiment_id}), or "
            "export to another one (--experiment NAME)."
        )
    return experiment.experiment_id


def _find_or_create(client, experiment_id: str, query: str, name: str, tags: dict) -> str:
    """The id of the run ``query`` finds, or of a new one named ``name`` with ``tags``.

    Exports on one machine hold a lock (see ``_export_lock``). Exports from two machines
    at once may both find none and both create one; each then looks again and keeps the
    oldest (by start time, then id), and deletes its own if another is older."""
    found = _oldest(client.search_runs([experiment_id], filter_string=query, max_results=100))
    if found is not None:
        return found
    tags = {key: str(value)[:_TAG_LENGTH] for key, value in tags.items()}
    mine = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
    kept = _oldest(client.search_runs([experiment_id], filter_string=query, max_results=100))
    if kept is not None and kept != mine:
        client.delete_run(mine)
        return kept
    return mine


def _oldest(runs) -> str | None:
    """The id of the run made first (start time, then id: every export agrees on it)."""
    if not runs:
        return None
    return min(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id)).info.run_id


def _model_metrics(run, table, model: str) -> list[tuple[str, float, int]]:
    """``(key, value, step)``: each finished fold's score (step: the fold), and with two
    folds or more, the mean and interval of the comparison table."""
    metrics = []
    for fold in range(run.n_folds):
        record = run.fold_record(model, fold)
        if record is not None:
            metrics += [
                (f"{scorer}.fold", record["scores"][scorer], fold) for scorer in run.scorers
            ]
    for scorer, rows in (table or {}).items():
        row = next(row for row in rows if row.name == model)
        metrics += [
            (f"{scorer}.{part}", getattr(row, part), 0) for part in ("mean", "ci_low", "ci_high")
        ]
    missing = sorted({key for key, value, _ in metrics if not np.isfinite(value)})
    if missing:
        warnings.warn(
            f"Model {model!r}: {', '.join(missing)} not finite (NaN or inf) in the run "
            "folder, exported as missing values (MLflow holds no metric for them).",
            UserWarning,
            stacklevel=4,
        )
    return [(key, float(value), step) for key, value, step in metrics if np.isfinite(value)]


def _new_metrics(client, run_id: str, metrics: list, metric_type) -> list:
    """The metrics MLflow does not hold yet at their step and value (a second export of
    the same run adds nothing; a mean that changed is logged anew at its step)."""
    held = {}
    for key in {key for key, _, _ in metrics}:
        for entry in client.get_metric_history(run_id, key):
            held.setdefault((key, entry.step), []).append(entry)
    now = int(time.time() * 1000)
    new = []
    for key, value, step in metrics:
        entries = held.get((key, step), [])
        latest = max(entries, key=lambda entry: entry.timestamp, default=None)
        if latest is None or latest.value != value:
            new.append(metric_type(key, value, now, step))
    return new


def _log_artifacts(client, run_id: str, run) -> None:
    """The study (its TOML text when it came from a file, and its record) and the HTML
    report; the report needs matplotlib and is left out, with a warning, without it."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "study.json").write_text(json.dumps(run.study, indent=1, default=str))
        if run.study.get("study_text"):
            (folder / "study.toml").write_text(run.study["study_text"])
        try:
            run.report(folder / "report.html")
        except ImportError as error:
            warnings.warn(f"The report is not exported: {error}", UserWarning, stacklevel=3)
        for path in sorted(folder.iterdir()):
            client.log_artifact(run_id, str(path))
