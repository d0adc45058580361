"""A study as a file: read, checked whole before any fit, each error at its key and line.

The file is TOML, read with the standard library. Its keys build the same objects a user
would pass to :class:`Experiment` in Python (estimators by import path, a scikit-learn
splitter by name, scorers by name), and every check that can run before a fit runs here:
unknown keys, unknown parameters, values outside an estimator's constraints, names that do
not import.
"""

from __future__ import annotations

import copy
import difflib
import importlib
import inspect
import re
import sys
from pathlib import Path

from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.pipeline import make_pipeline

from ..utils._pipeline import final_step
from ..utils._private import validate_parameter_constraints
from ..utils._torch import signature_has
from ._analyses import ANALYSES
from ._checker import Checker, Locator, StudyError, _hint
from ._trust import (
    KNOWN_PACKAGES,
    TRUST_RULE,
    argument_refusal,
    kind_refusal,
    trust_hint,
    within,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with tomli, tomllib's source
    import tomli as tomllib

#: The top-level keys of a study file.
STUDY_KEYS = (
    "name",
    "random_state",
    "n_jobs",
    "engine",
    "scoring",
    "data",
    "cv",
    "models",
    "analyses",
    "quick",
)
ENGINES = ("auto", "joblib", "vectorized")


def read_study(path, *, quick: bool = False, trust=()) -> tuple[dict, Checker, str]:
    """The study file as a dict (with its ``[quick]`` table merged in when ``quick``), and
    the checker that knows its lines and the modules its runner trusts."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No study file at {str(path)!r}: pass the path of a .toml file.")
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise StudyError("", f"is not valid TOML: {error}", file=str(path)) from None
    checker = Checker(Locator(text), file=str(path), trust=trust)
    if "trust" in raw:
        checker.fail(
            ("trust",),
            "a study file cannot trust modules for itself: the person running it names "
            "them (ensemblekit run STUDY.toml --trust MODULE).",
        )
    checker.keys(raw, (), STUDY_KEYS, what="a study")
    overrides = raw.pop("quick", {})
    checker.keys(overrides, ("quick",), [k for k in STUDY_KEYS if k != "quick"], what="[quick]")
    if quick:
        raw = _merged(raw, overrides)
    return raw, checker, text


def _merged(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` laid over it, table by table."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ------------------------------------------------------------------ estimators


def import_object(dotted, path, checker: Checker, place: str = "setting"):
    """The object at ``package.module.Name`` (or ``package.module:Name``), once it is
    known to be of a kind ``place`` may name (see :func:`kind_refusal`).

    A module outside ensemblekit, scikit-learn, torch, skorch and imbalanced-learn is not
    even imported (importing runs its code) unless the person running the study trusts it.
    """
    if not isinstance(dotted, str) or not dotted.strip():
        checker.fail(path, f"must be an import path such as 'sklearn.svm.SVC', got {dotted!r}.")
    module_name, _, name = dotted.rpartition(":") if ":" in dotted else dotted.rpartition(".")
    if not module_name:
        checker.fail(path, f"{dotted!r} has no module: write it as 'package.module.Name'.")
    trusted = within(module_name, checker.trust)
    if not trusted and not within(module_name, KNOWN_PACKAGES):
        checker.fail(
            path,
            f"{dotted!r} is from {module_name!r}, which a study file may not name: "
            f"{TRUST_RULE} {trust_hint(module_name)}",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        checker.fail(path, f"cannot import {module_name!r} ({error}); is the package installed?")
    if not hasattr(module, name):
        public = [n for n in dir(module) if not n.startswith("_")]
        if place == "model" and checker.task is not None:  # no regressor for a classification
            other = RegressorMixin if checker.task == "classification" else ClassifierMixin
            public = [n for n in public if not _subclass(getattr(module, n), other)]
        close = difflib.get_close_matches(name, public, n=1)
        hint = f"; did you mean {module_name}.{close[0]}?" if close else "."
        checker.fail(path, f"module {module_name!r} has no {name!r}{hint}")
    found = getattr(module, name)
    if not trusted and (refusal := kind_refusal(found, place)):
        rule = f"{TRUST_RULE} " if refusal.endswith(":") else ""
        checker.fail(path, f"{dotted!r} {refusal} {rule}{trust_hint(module_name)}")
    return found


def check_arguments(owner: str, params: dict, path, checker: Checker) -> None:
    """The arguments a study gives ``owner`` (the import path of what takes them), each
    checked by kind (see :func:`argument_refusal`) unless the runner trusts its module."""
    if not isinstance(owner, str):  # import_object says what is wrong with it
        return
    module = owner.rpartition(":" if ":" in owner else ".")[0]
    if within(module, checker.trust):
        return
    for key, value in params.items():
        if (refusal := argument_refusal(key, value)) is not None:
            checker.fail((*path, key), f"{refusal} {trust_hint(module)}")


def _subclass(obj, base) -> bool:
    return isinstance(obj, type) and issubclass(obj, base)


def build_object(value, path, checker: Checker, place: str = "setting"):
    """A study value as the object it describes; ``place`` is "model" for a model or a
    pipeline step, "setting" for a model's parameters (see :func:`kind_refusal`).

    A table with ``class`` is an instance of that class, its other keys its parameters
    (nested names such as ``module__hidden_units`` as ``set_params`` takes them); a table
    with ``pipeline`` is ``make_pipeline`` of its steps; a table with ``import`` is the
    object at that path itself (a loss class, a function). Lists and other tables are
    built item by item.
    """
    if isinstance(value, list):
        return [build_object(v, (*path, i), checker) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if "import" in value:
        if len(value) > 1:
            checker.fail(path, "an {import = ...} table takes no other key.")
        return import_object(value["import"], (*path, "import"), checker)
    if "class" in value and "pipeline" in value:
        checker.fail(path, "has both 'class' and 'pipeline': give one.")
    if "pipeline" in value:
        steps = value["pipeline"]
        if not isinstance(steps, list) or not steps:
            checker.fail(
                (*path, "pipeline"),
                "must be a list of steps, each an import path or a {class = ...} table.",
            )
        built = [
            build_object(
                {"class": s} if isinstance(s, str) else s, (*path, "pipeline", i), checker, "model"
            )
            for i, s in enumerate(steps)
        ]
        for i, step in enumerate(built[:-1]):
            if not (hasattr(step, "fit_transform") or hasattr(step, "transform")):
                checker.fail(
                    (*path, "pipeline", i),
                    f"{type(step).__name__} has no transform: "
                    "every step but the last must transform X.",
                )
        estimator = make_pipeline(*built)
        params = {k: v for k, v in value.items() if k != "pipeline"}
        check_arguments("sklearn.pipeline.Pipeline", params, path, checker)
        _set_params(estimator, params, path, checker)
        return estimator
    if "class" not in value:
        return {k: build_object(v, (*path, k), checker) for k, v in value.items()}
    params = {k: v for k, v in value.items() if k != "class"}
    check_arguments(value["class"], params, path, checker)
    cls = import_object(value["class"], (*path, "class"), checker, place)
    if not callable(cls):
        checker.fail((*path, "class"), f"{value['class']!r} is not a class.")
    plain = {k: build_object(v, (*path, k), checker) for k, v in params.items() if "__" not in k}
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        signature = None
    if signature is not None and not any(
        p.kind is p.VAR_KEYWORD for p in signature.parameters.values()
    ):
        for key in plain:
            if key not in signature.parameters:
                checker.fail(
                    (*path, key),
                    f"is not a parameter of {cls.__name__}; {_hint(key, signature.parameters)}",
                )
    try:
        instance = cls(**plain)
    except (TypeError, ValueError) as error:
        checker.fail(path, f"{cls.__name__}({', '.join(plain)}) fails: {error}")
    nested = {k: v for k, v in params.items() if "__" in k}
    _set_params(instance, nested, path, checker)
    return instance


def _set_params(estimator, params: dict, path, checker: Checker) -> None:
    for key, value in params.items():
        if not hasattr(estimator, "set_params"):
            checker.fail((*path, key), f"{type(estimator).__name__} takes no parameters.")
        try:
            estimator.set_params(**{key: build_object(value, (*path, key), checker)})
        except (TypeError, ValueError, AttributeError) as error:
            name = type(estimator).__name__
            if "did you mean" in str(error):  # the estimator said it well already
                checker.fail((*path, key), f"{name} rejects it: {error}")
            hint = _hint(key, estimator.get_params(deep=True))
            checker.fail((*path, key), f"is not a parameter of {name}; {hint}")


def check_estimator_params(estimator, path, checker: Checker) -> None:
    """Values outside the constraints of the estimator, or of one inside it, fail now."""
    parts = [("", estimator)] + [
        (name, value)
        for name, value in estimator.get_params(deep=True).items()
        if isinstance(value, BaseEstimator)
    ]
    for prefix, part in parts:
        constraints = getattr(part, "_parameter_constraints", None)
        if constraints:
            params = {name: getattr(part, name) for name in constraints if hasattr(part, name)}
            try:
                validate_parameter_constraints(constraints, params, type(part).__name__)
            except (TypeError, ValueError) as error:
                checker.fail(_param_path(path, prefix, str(error), params), str(error))
        _check_module_params(part, prefix, path, checker)


def _param_path(path, prefix: str, message: str, params: dict) -> tuple:
    """The key a constraint error is about: its parameter, under the estimator's prefix."""
    named = re.search(r"The '([^']+)' parameter", message)
    if named is None or named.group(1) not in params:
        return path
    return (*path, f"{prefix}__{named.group(1)}" if prefix else named.group(1))


def _check_module_params(part, prefix: str, path, checker: Checker) -> None:
    """A net's ``module__*`` parameters must be the module class's arguments."""
    module = getattr(part, "module", None)
    if not (inspect.isclass(module) and hasattr(part, "get_params_for")):
        return
    signature = inspect.signature(module)
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return
    for name in part.get_params_for("module"):
        if name not in signature.parameters:
            key = f"{prefix}__module__{name}" if prefix else f"module__{name}"
            checker.fail(
                (*path, key),
                f"{module.__name__} has no argument {name!r}; {_hint(name, signature.parameters)}",
            )


_NAME = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,99}")


def name_refusal(name, earlier=()) -> str | None:
    """Why ``name`` cannot name a model (None: it can): it names the model's folder of
    records, so it must be a plain file name, and differ from the ``earlier`` names in
    more than case (a file system that ignores case, macOS's or Windows', would give the
    two one folder)."""
    if not (isinstance(name, str) and _NAME.fullmatch(name)):
        return (
            f"{name!r} cannot name a model: a model's name names its records' folder, so it "
            "holds letters, digits, '_', '-' and '.' only, does not start with '.', and has "
            "at most 100 characters."
        )
    other = next((o for o in earlier if o.casefold() == name.casefold()), None)
    if other is not None:
        return (
            f"{name!r} and {other!r} differ in case only, and on a file system that ignores "
            "case (macOS, Windows) they would share one folder of records: rename one."
        )
    return None


def check_net_components(estimator, n_features: int, n_outputs: int, path, checker) -> None:
    """Build the module and criterion of every net in ``estimator`` once, as its fit
    would, so that a bad value (``module__hidden_units = "big"``) fails before any fold.

    Built on torch's meta device, which allocates no memory, with the global generator
    left as it was: checking draws nothing.
    """
    import torch

    parts = [("", estimator)] + [
        (f"{name}__", value)
        for name, value in estimator.get_params(deep=True).items()
        if isinstance(value, BaseEstimator)
    ]
    for prefix, part in parts:
        if not hasattr(part, "get_params_for"):
            continue
        for component in ("module", "criterion"):
            built = getattr(part, component, None)
            kwargs = part.get_params_for(component)
            if not inspect.isclass(built):
                continue
            fill = {"n_features": n_features, "n_outputs": n_outputs, "random_state": 0}
            for name, value in fill.items():
                if component == "module" and name not in kwargs and signature_has(built, name):
                    kwargs[name] = value
            try:
                with torch.random.fork_rng(devices=[]), torch.device("meta"):
                    built(**kwargs)
            except (TypeError, ValueError) as error:  # a value it refuses
                given = ", ".join(f"{prefix}{component}__{k}" for k in kwargs if k not in fill)
                checker.fail(
                    path,
                    f"its {component} {built.__name__} cannot be built from "
                    f"{given or 'its defaults'}: {error}",
                )
            except Exception:
                # A module that needs real tensors to be built (it reads a value off one)
                # cannot be built on the meta device: its fit checks it instead.
                continue


def check_models(models, checker: Checker, path=("models",)) -> dict:
    """``{name: estimator}``, built from the study's tables or checked as given."""
    if not isinstance(models, dict) or not models:
        checker.fail(
            path,
            "must name at least one model, e.g. [models.net] with "
            "class = 'ensemblekit.nets.NeuralNetClassifier'.",
        )
    out = {}
    for name, spec in models.items():
        if (refusal := name_refusal(name, out)) is not None:
            checker.fail((*path, name), refusal)
        if isinstance(spec, dict):
            if "class" not in spec and "pipeline" not in spec:
                checker.fail(
                    (*path, name), "needs class = 'package.module.Estimator' or pipeline = [...]."
                )
            spec = build_object(spec, (*path, name), checker, "model")
        if not hasattr(spec, "fit") or not hasattr(spec, "get_params"):
            checker.fail((*path, name), f"is {spec!r:.60}, not a scikit-learn estimator.")
        check_estimator_params(spec, (*path, name), checker)
        out[name] = spec
        if checker.task is None:  # the next model's hints are of this one's kind
            checker.task = "classification" if is_classifier(spec) else "regression"
    kinds = {is_classifier(est) for est in out.values()}
    if len(kinds) > 1:
        checker.fail(
            path,
            "mixes classifiers and regressors: a study compares models of one "
            "task on the same target.",
        )
    return out


# ------------------------------------------------------------------ scoring, settings


def check_analyses(analyses, models: dict, classifier: bool, checker: Checker) -> dict:
    """Each analysis's settings, defaults filled in; models named must exist and fit."""
    analyses = {} if analyses is None else analyses
    checker.keys(analyses, ("analyses",), ANALYSES, what="[analyses]")
    out = {}
    for kind, settings in analyses.items():
        path, analysis = ("analyses", kind), ANALYSES[kind]
        settings = {} if settings is True else settings
        checker.keys(settings, path, analysis.defaults, what=f"[analyses.{kind}]")
        merged = {**analysis.defaults, **settings}
        if "model" in merged:
            model = merged["model"]
            if model is None and analysis.every_model:
                model = None
            elif model is None:
                checker.fail(path, f"needs model = one of {list(models)}.")
            elif model not in models:
                checker.fail(
                    (*path, "model"),
                    f"{model!r} is not a model of the study; {_hint(model, models)}",
                )
            if (
                model is not None
                and analysis.needs_ensemble
                and not hasattr(final_step(models[model])[0], "predict_members")
            ):
                checker.fail(
                    (*path, "model"),
                    f"{model!r} is not an ensemble: the {kind} "
                    "analysis needs one of ensemblekit's ensembles (members to add "
                    "up or to disagree).",
                )
        if "test_size" in merged:
            checker.number(merged["test_size"], (*path, "test_size"), 0, 1, closed=False)
        analysis.check(merged, models, classifier, path, checker)
        out[kind] = merged
    return out


def check_settings(raw: dict, checker: Checker) -> dict:
    """The study's name, seed, workers and engine."""
    name = raw.get("name", "study")
    if not isinstance(name, str):
        checker.fail(("name",), f"must be a string, got {name!r}.")
    random_state = raw.get("random_state")
    if random_state is not None:
        checker.number(random_state, ("random_state",), 0, 2**32 - 1, integer=True)
    n_jobs = raw.get("n_jobs")
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0
    ):
        checker.fail(("n_jobs",), f"must be a non-zero integer (-1: every core), got {n_jobs!r}.")
    engine = raw.get("engine", "auto")
    checker.choice(engine, ("engine",), ENGINES)
    return {"name": name, "random_state": random_state, "n_jobs": n_jobs, "engine": engine}
