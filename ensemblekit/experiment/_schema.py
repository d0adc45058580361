"""What the files of a run folder must hold, checked as they are read.

A run folder may come from someone else: ``show`` and ``report`` read it as data, never as
instructions. Every value is checked for the type and the size the run wrote before it is
used, so a tampered file gives an error that names it and its key, never markup in a report,
a loop over a made-up number of folds, or a traceback from deep inside matplotlib.
"""

from __future__ import annotations

import numpy as np

from ._analyses import ANALYSES, FITTED
from ._kit import Reader, short
from ._study import name_refusal

# ------------------------------------------------------------------ study.json


def check_study(study, file) -> dict:
    """``study.json`` as a run writes it, or a :class:`RunFolderError`."""
    r = Reader(file)
    r.table(study, "")
    if study.get("format") != 1:
        found = short(study.get("format"))
        r.fail("format", f"must be 1 (the run format this version reads), got {found}.")
    for key in ("name", "task", "engine"):
        r.string(r.get(study, key)[0], key)
    if study["task"] not in ("classification", "regression"):
        r.fail("task", f"must be 'classification' or 'regression', got {short(study['task'])}.")
    r.integer(*r.get(study, "random_state"))
    for key in ("study_text", "source"):
        r.string(study.get(key), key, optional=True)
    r.strings(*r.get(study, "versions"))
    models = r.table(*r.get(study, "models"))
    if not models:
        r.fail("models", "names no model.")
    for i, name in enumerate(models):
        if (refusal := name_refusal(name, list(models)[:i])) is not None:
            r.fail("models", refusal)
    scorers = r.table(*r.get(study, "scorers"))
    for name, limits in scorers.items():
        for i, limit in enumerate(r.list(limits, f"scorers.{name}", 2)):
            r.number(limit, f"scorers.{name}[{i}]")
    data = r.table(*r.get(study, "data"))
    for key in ("description", "digest"):
        r.string(*r.get(data, key, "data"))
    for key in ("n_samples", "n_features"):
        r.integer(*r.get(data, key, "data"))
    classes = r.get(data, "classes", "data")[0]
    if (study["task"] == "classification") != (classes is not None):
        r.fail("data.classes", "must list the classes of a classification, and only then.")
    for i, label in enumerate(r.list(classes, "data.classes") if classes is not None else ()):
        if isinstance(label, bool) or not isinstance(label, str | int | float):
            r.fail(f"data.classes[{i}]", f"must be a label (text or number), got {short(label)}.")
    cv = r.table(*r.get(study, "cv"))
    for key in ("description", "digest"):
        r.string(*r.get(cv, key, "cv"))
    n_splits = r.integer(*r.get(cv, "n_splits", "cv"), low=1)
    for i, seed in enumerate(r.list(r.get(study, "seeds")[0], "seeds", n_splits)):
        r.integer(seed, f"seeds[{i}]")
    folds = r.table(*r.get(study, "folds"))
    if folds.keys() != models.keys():
        r.fail("folds", "must hold one list of fingerprints per model.")
    for name, prints in folds.items():
        for i, fingerprint in enumerate(r.list(prints, f"folds.{name}", n_splits)):
            r.string(fingerprint, f"folds.{name}[{i}]")
    _check_analyses(r, study, models)
    return study


def _check_analyses(r: Reader, study: dict, models: dict) -> None:
    analyses = r.table(*r.get(study, "analyses"))
    for kind, settings in analyses.items():
        key = f"analyses.{kind}"
        if kind not in ANALYSES:
            r.fail(key, f"is not an analysis; the analyses are {sorted(ANALYSES)}.")
        analysis = ANALYSES[kind]
        if r.table(settings, key).keys() != analysis.defaults.keys():
            r.fail(key, f"must hold the settings {sorted(analysis.defaults)}.")
        for name, value in settings.items():
            kind_of = analysis.types[name]
            check = getattr(r, kind_of.rstrip("?"))
            check(value, f"{key}.{name}", **({"optional": True} if "?" in kind_of else {}))
            choices = analysis.choices.get(name)
            if choices is not None and value not in choices:
                r.fail(f"{key}.{name}", f"must be one of {list(choices)}, got {short(value)}.")
            if name in ("confidence_level", "test_size") and not 0 < value < 1:
                r.fail(f"{key}.{name}", f"must be between 0 and 1, got {value!r}.")
            if name == "n_bins" and value < 1:
                r.fail(f"{key}.{name}", f"must be at least 1, got {value!r}.")
        if settings.get("model") is not None and settings["model"] not in models:
            r.fail(f"{key}.model", f"{short(settings['model'])} is not a model of the study.")
    fingerprints = r.table(*r.get(study, "analysis_fingerprints"))
    for kind, fingerprint in fingerprints.items():
        if kind not in analyses:
            r.fail(f"analysis_fingerprints.{kind}", "is not an analysis of the study.")
        r.string(fingerprint, f"analysis_fingerprints.{kind}")


# ------------------------------------------------------------------ records


def check_fold_record(record, file, study: dict) -> dict:
    """A fold's record as a run writes it, sized by ``study``, or a :class:`RunFolderError`."""
    r = Reader(file)
    r.table(record, "")
    model = r.string(*r.get(record, "model"))
    fold = r.integer(*r.get(record, "fold"))
    r.string(*r.get(record, "fingerprint"))
    n_test = r.integer(*r.get(record, "n_test"))
    r.integer(*r.get(record, "n_train"))
    if model not in study["models"]:
        return record  # a model the study no longer has: never read
    if fold >= study["cv"]["n_splits"]:
        r.fail("fold", f"must be below the study's {study['cv']['n_splits']} folds, got {fold}.")
    scores = r.table(*r.get(record, "scores"))
    for scorer in study["scorers"]:
        r.number(*r.get(scores, scorer, "scores"))
    y_true, proba = r.get(record, "y_true")[0], r.get(record, "proba")[0]
    if (y_true is None) != (proba is None):
        r.fail("proba", "y_true and proba go together: both, or neither.")
    if y_true is None:
        return record
    n_classes = len(study["data"]["classes"] or ())
    r.list(y_true, "y_true", n_test)
    r.list(proba, "proba", n_test)
    if _regular(y_true, "i", (n_test,), 0, n_classes) and _regular(
        proba, "if", (n_test, n_classes)
    ):
        return record  # checked whole by numpy, in a time in proportion to the rows
    # Something is out of place: find the first entry at fault, for the message.
    for i, label in enumerate(y_true):
        if r.integer(label, f"y_true[{i}]") >= n_classes:
            r.fail(f"y_true[{i}]", f"must index the study's {n_classes} classes, got {label}.")
    for i, row in enumerate(proba):
        for j, value in enumerate(r.list(row, f"proba[{i}]", n_classes)):
            r.number(value, f"proba[{i}][{j}]")
    return record


def _regular(values: list, kinds: str, shape: tuple, low=None, high=None) -> bool:
    """Whether ``values`` (lists from JSON) make an array of numbers of ``kinds`` and
    ``shape``, within ``[low, high)`` where given."""
    if not values:  # no test rows
        return shape[0] == 0
    try:
        array = np.array(values)
    except (ValueError, TypeError):  # ragged
        return False
    if array.shape != shape or array.dtype.kind not in kinds:
        return False
    return low is None or (array.min() >= low and array.max() < high)


def check_analysis_record(record, file, study: dict):
    """An analysis's result, decoded from its record as a run writes it, or an error."""
    r = Reader(file)
    r.table(record, "")
    kind = r.string(*r.get(record, "kind"))
    if kind not in FITTED:
        r.fail("kind", f"must be one of {sorted(FITTED)}, got {short(kind)}.")
    r.string(*r.get(record, "fingerprint"))
    r.table(*r.get(record, "settings"))
    return FITTED[kind].check_record(r.get(record, "result")[0], record, study, r)
