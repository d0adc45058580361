"""Bias-variance decomposition of any estimator's loss, nets included, in parallel.

Plan: ``n_rounds`` training sets (bootstrap draws, subsamples, or fresh samples from a data
generator), one fresh clone each, fitted through the member engine. Combine: the
decomposition of the rounds' predictions on one fixed test set, for squared, 0-1 (Domingos
2000) or log loss (Heskes 1998).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ..engine import MemberPlan, fit_members
from ..utils._fit_warnings import warnings_of
from ..utils._proba import align_proba, clip_proba
from ..utils._random import check_random_state, draw_seeds
from ..utils._results import ArrayFieldsEqual
from ..utils._routing import PARAMS_DOC, fill_doc, routed_fit_params
from ..utils._validation import resolve_count

_LOSSES = ("0-1", "mse", "log_loss")


@dataclass(frozen=True, repr=False, eq=False)
class BiasVarianceResult(ArrayFieldsEqual):
    """The decomposition of an estimator's expected loss on a test set.

    The terms add up to the expected loss exactly, for every loss and number of classes:

    - "mse" and "log_loss": ``expected_loss = bias + variance``;
    - "0-1": ``expected_loss = bias + net_variance``, and
      ``net_variance = variance_unbiased - variance_biased_weighted``. With two classes
      ``variance_biased_weighted == variance_biased``, so ``expected_loss = bias +
      variance_unbiased - variance_biased``; with more, only the rounds that move a wrong
      main prediction onto the true label lower the loss.

    Two results compare with ``==`` (arrays by value) and ``result.allclose(other)``.

    Attributes
    ----------
    loss : str
        "0-1", "mse" or "log_loss".
    expected_loss : float
        Mean loss over rounds and test points.
    bias : float
        "mse": squared bias of the main (mean) prediction, noise included when y is noisy.
        "0-1": share of test points whose main (most frequent) prediction is wrong.
        "log_loss": cross-entropy of the labels and the normalised geometric mean of the
        rounds' probabilities (noise included).
    variance : float
        Mean over rounds and points of the rounds' distance from the main prediction: the
        squared difference, the disagreement, or KL(main || round).
    variance_unbiased, variance_biased : float or None
        0-1 only: the variance on points whose main prediction is right, and on those where
        it is wrong, each averaged over all test points (they sum to ``variance``).
    variance_biased_weighted : float or None
        0-1 only: the biased variance weighted per point by P(prediction == y | prediction
        != main), Domingos's ``c`` for several classes: the share of rounds that predict the
        true label where the main prediction is wrong. It equals ``variance_biased`` for
        two classes.
    net_variance : float or None
        0-1 only: ``variance_unbiased - variance_biased_weighted`` = ``expected_loss -
        bias``. Variance on points the main prediction gets wrong *lowers* the loss, which is
        why 0-1 loss is not bias + variance.
    expected_loss_per_point, bias_per_point, variance_per_point : ndarray of shape (n_test,)
    main_prediction : ndarray
        Per test point: the mean (mse), the most frequent label, ties to the smallest (0-1),
        or the normalised geometric-mean probabilities (log_loss).
    predictions : ndarray or None
        The rounds' predictions, shape (n_rounds, n_test) or (n_rounds, n_test, n_classes),
        when ``return_predictions=True``.
    n_rounds : int
    params : dict
        The parameter setting decomposed (by :func:`bias_variance_curve`), else empty.

    See Also
    --------
    bias_variance_decomp : the function that returns it.
    bias_variance_curve : decompositions along a parameter.
    BiasVarianceDiversityResult : the decomposition of an ensemble.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression
    >>> from ensemblekit.model_selection import bias_variance_decomp
    >>> X, y = make_regression(n_samples=100, n_features=3, noise=10.0, random_state=0)
    >>> r = bias_variance_decomp(LinearRegression(), X[:70], y[:70], X[70:], y[70:],
    ...                          loss="mse", n_rounds=10, random_state=0)
    >>> r.loss, r.bias_per_point.shape, bool(abs(r.expected_loss - r.bias - r.variance) < 1e-9)
    ('mse', (30,), True)
    """

    loss: str
    expected_loss: float
    bias: float
    variance: float
    expected_loss_per_point: np.ndarray
    bias_per_point: np.ndarray
    variance_per_point: np.ndarray
    main_prediction: np.ndarray
    n_rounds: int
    variance_unbiased: float | None = None
    variance_biased: float | None = None
    variance_biased_weighted: float | None = None
    net_variance: float | None = None
    predictions: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        parts = [f"loss={self.loss!r}"]
        names = ["expected_loss", "bias", "variance"]
        if self.loss == "0-1":
            names += [
                "variance_unbiased", "variance_biased", "variance_biased_weighted", "net_variance"
            ]  # fmt: skip
        parts += [f"{name}={getattr(self, name):.4f}" for name in names]
        parts.append(f"n_rounds={self.n_rounds}")
        if self.params:
            parts.append(f"params={self.params!r}")
        return f"BiasVarianceResult({', '.join(parts)})"


def decompose_squared(predictions: np.ndarray, y: np.ndarray) -> dict:
    """Squared loss: ``expected_loss = bias (squared, noise included) + variance``, exactly.

    Parameters
    ----------
    predictions : ndarray of shape (n_rounds, n_points)
        Each round's prediction of each test point.
    y : ndarray of shape (n_points,)
        The targets.

    Returns
    -------
    terms : dict of str to ndarray of shape (n_points,)
        "main" (the mean prediction), "loss", "bias" and "variance", per point.

    See Also
    --------
    decompose_log_loss : log loss.
    decompose_zero_one : 0-1 loss.
    bias_variance_decomp : draws the predictions and decomposes them.

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.model_selection import decompose_squared
    >>> terms = decompose_squared(np.array([[1.0, 2.0], [3.0, 2.0]]), np.array([2.0, 0.0]))
    >>> {k: terms[k].tolist() for k in ("main", "loss", "bias", "variance")}
    {'main': [2.0, 2.0], 'loss': [1.0, 4.0], 'bias': [0.0, 4.0], 'variance': [1.0, 0.0]}
    """
    main = predictions.mean(axis=0)
    loss = ((predictions - y) ** 2).mean(axis=0)
    bias = (main - y) ** 2
    variance = ((predictions - main) ** 2).mean(axis=0)
    return {"main": main, "loss": loss, "bias": bias, "variance": variance}


def decompose_zero_one(predictions: np.ndarray, y: np.ndarray) -> dict:
    """0-1 loss after Domingos (2000), with the variance split by the main prediction.

    Parameters
    ----------
    predictions : ndarray of shape (n_rounds, n_points)
        Each round's predicted label of each test point.
    y : ndarray of shape (n_points,)
        The labels.

    Returns
    -------
    terms : dict of str to ndarray of shape (n_points,)
        "main" (the most frequent prediction), "loss", "bias", "variance",
        "variance_unbiased", "variance_biased", "variance_biased_weighted" and
        "net_variance", per point (see :class:`BiasVarianceResult`).

    See Also
    --------
    decompose_squared : squared loss.
    decompose_log_loss : log loss.
    bias_variance_decomp : draws the predictions and decomposes them.

    Examples
    --------
    Three rounds, two points of class 0. The first point's main prediction (0) is right, and
    the round that misses it adds unbiased variance. The second point's (1) is wrong, which
    is bias, and the round that gets it right lowers the loss (biased variance).

    >>> import numpy as np
    >>> from ensemblekit.model_selection import decompose_zero_one
    >>> terms = decompose_zero_one(np.array([[0, 1], [0, 1], [1, 0]]), np.array([0, 0]))
    >>> for k in ("loss", "bias", "variance_unbiased", "variance_biased", "net_variance"):
    ...     print(k, terms[k].round(4).tolist())
    loss [0.3333, 0.6667]
    bias [0.0, 1.0]
    variance_unbiased [0.3333, 0.0]
    variance_biased [0.0, 0.3333]
    net_variance [0.3333, -0.3333]
    """
    labels, codes = np.unique(np.r_[predictions.ravel(), y], return_inverse=True)
    codes_pred = codes[: predictions.size].reshape(predictions.shape)
    counts = np.stack([(codes_pred == k).sum(axis=0) for k in range(len(labels))])
    main = labels[np.argmax(counts, axis=0)]  # argmax: ties go to the smallest label
    wrong_main = main != y
    loss = (predictions != y).mean(axis=0)
    variance = (predictions != main).mean(axis=0)
    # On a point whose main prediction is wrong, a round helps exactly when it hits y.
    helps = (predictions == y).mean(axis=0)
    return {
        "main": main,
        "loss": loss,
        "bias": wrong_main.astype(float),
        "variance": variance,
        "variance_unbiased": np.where(wrong_main, 0.0, variance),
        "variance_biased": np.where(wrong_main, variance, 0.0),
        "variance_biased_weighted": np.where(wrong_main, helps, 0.0),
        "net_variance": np.where(wrong_main, -helps, variance),
    }


def decompose_log_loss(probabilities: np.ndarray, y_index: np.ndarray) -> dict:
    """Log loss after Heskes (1998): ``expected_loss = bias + variance``, exactly.

    The central prediction is the normalised geometric mean of the rounds' probabilities;
    the variance is the mean KL divergence from it to each round. Probabilities are clipped
    to ``[eps, 1 - eps]`` as scikit-learn's ``log_loss`` clips them (``eps`` the dtype's
    machine epsilon) and renormalised first, as log loss needs.

    Parameters
    ----------
    probabilities : ndarray of shape (n_rounds, n_points, n_classes)
        Each round's class probabilities on each test point.
    y_index : ndarray of shape (n_points,)
        Each point's label, as a column index into the probabilities.

    Returns
    -------
    terms : dict of str to ndarray
        "main" (the central prediction, of shape (n_points, n_classes)), and "loss",
        "bias" and "variance" per point.

    See Also
    --------
    decompose_squared : squared loss.
    decompose_zero_one : 0-1 loss.
    bias_variance_decomp : draws the predictions and decomposes them.

    Examples
    --------
    Two rounds, one point of class 0, predicted 0.8 and 0.2: the central prediction is
    (0.5, 0.5), so the bias is log 2 and the variance the rest of the mean loss.

    >>> import numpy as np
    >>> from ensemblekit.model_selection import decompose_log_loss
    >>> terms = decompose_log_loss(np.array([[[0.8, 0.2]], [[0.2, 0.8]]]), np.array([0]))
    >>> {k: terms[k].round(4).tolist() for k in ("main", "loss", "bias", "variance")}
    {'main': [[0.5, 0.5]], 'loss': [0.9163], 'bias': [0.6931], 'variance': [0.2231]}
    """
    p = clip_proba(probabilities)
    log_p = np.log(p / p.sum(axis=2, keepdims=True))
    mean_log = log_p.mean(axis=0)
    log_z = np.log(np.exp(mean_log).sum(axis=1))
    log_main = mean_log - log_z[:, None]
    points = np.arange(len(y_index))
    loss = -log_p[:, points, y_index].mean(axis=0)
    bias = -log_main[points, y_index]
    variance = (np.exp(log_main) * (log_main - log_p)).sum(axis=2).mean(axis=0)
    return {"main": np.exp(log_main), "loss": loss, "bias": bias, "variance": variance}


@fill_doc(params=PARAMS_DOC)
def bias_variance_decomp(
    estimator: BaseEstimator,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    loss: str = "0-1",
    n_rounds: int = 200,
    sampling: str | Callable = "bootstrap",
    train_size: int | float | None = None,
    random_state=None,
    n_jobs: int | None = None,
    verbose: int = 0,
    return_predictions: bool = False,
    engine: str = "auto",
    params: dict | None = None,
) -> BiasVarianceResult:
    """Decompose an estimator's expected loss on a test set into bias and variance.

    Each of ``n_rounds`` rounds fits a fresh clone (never the caller's object) on its own
    training set, in parallel through the member engine, and predicts ``X_test``. The
    decompositions are exact: squared loss (``expected_loss = bias +
    variance``, bias squared and including noise), 0-1 loss after Domingos (2000) with the
    variance split by whether the main prediction is right, and log loss after Heskes (1998)
    (``expected_loss = bias + variance``).

    Parameters
    ----------
    estimator : estimator
        Cloned each round. A ``random_state`` it sets is kept in every round (so the rounds
        differ by their data alone); one left at None gets a seed per round drawn from
        ``random_state``, so the variance includes the learner's own randomness.
    X_train, y_train : array-like
        The data the rounds draw from (ignored for a callable ``sampling``, beyond checks).
    X_test, y_test : array-like
        The fixed test set.
    loss : {"0-1", "mse", "log_loss"}, default="0-1"
        "0-1" and "log_loss" need a classifier (log loss also ``predict_proba``); "mse" a
        regressor.
    n_rounds : int, default=200
        Training sets drawn (at least 2).
    sampling : {"bootstrap", "subsample"} or callable, default="bootstrap"
        "bootstrap": round r trains on the r-th draw of
        ``RandomState(random_state).choice(n, n, replace=True)``, exactly as mlxtend draws,
        so a deterministic learner gives mlxtend's numbers. "subsample": ``train_size`` rows
        without replacement. A callable ``sampling(rng) -> (X, y)`` draws a fresh training
        set from your data generator each round (the textbook definition), with ``rng`` a
        ``numpy.random.RandomState`` seeded for that round.
    train_size : int, float or None, default=None
        Rows per round: a count or a share of ``X_train``. Default: all rows for
        "bootstrap", half for "subsample".
    random_state : None, int or RandomState, default=None
    n_jobs : int or None, default=None
        Rounds fitted in parallel through joblib (any ``parallel_config``).
    verbose : int, default=0
        > 0 shows a progress bar.
    return_predictions : bool, default=False
        Keep the rounds' predictions in the result.
    engine : {"auto", "joblib", "vectorized"}, default="auto"
        How rounds train: "vectorized" trains the rounds' nets stacked as one model
        (ensemblekit nets; see ``ensemblekit.engine.fit_members``),
        "joblib" one per task; "auto" stacks when it can.
    {params}
        Not with a callable ``sampling``.

    Returns
    -------
    result : BiasVarianceResult

    See Also
    --------
    bias_variance_curve : decompositions along a parameter.
    bias_variance_diversity_decomp : an ensemble's loss with its diversity term.
    decompose_squared : the decomposition of given predictions.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import bias_variance_decomp
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> r = bias_variance_decomp(DecisionTreeClassifier(random_state=0), X[:400], y[:400],
    ...                          X[400:], y[400:], n_rounds=20, random_state=0)
    >>> abs(r.expected_loss - (r.bias + r.net_variance)) < 1e-12
    True
    >>> abs(r.net_variance - (r.variance_unbiased - r.variance_biased_weighted)) < 1e-12
    True
    """
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}.")
    if int(n_rounds) < 2:
        raise ValueError(f"n_rounds must be at least 2 to measure a variance, got {n_rounds!r}.")
    _check_estimator_for_loss(estimator, loss)
    _check_same_columns(X_train, X_test)
    X_train = check_array(X_train, dtype=None, ensure_all_finite=False)
    X_test = check_array(X_test, dtype=None, ensure_all_finite=False)
    y_train, y_test = column_or_1d(y_train), column_or_1d(y_test)
    check_consistent_length(X_train, y_train)
    check_consistent_length(X_test, y_test)
    classes = None
    if loss != "mse":
        classes = np.unique(y_train)
        unseen = np.setdiff1d(y_test, classes)
        if len(unseen):
            raise ValueError(
                f"y_test has labels {unseen.tolist()} that y_train never shows; the rounds "
                "cannot predict them. Split so that every test label occurs in training."
            )

    fit_params = routed_fit_params("bias_variance_decomp", estimator, params)
    if fit_params and callable(sampling):
        raise ValueError(
            "params cannot go with a callable sampling, whose generated rows have no "
            "values in them; pass fit parameters that are not per row, or sample rows."
        )
    rng = check_random_state(random_state)
    X_all, y_all, rows = _draw_training_sets(
        sampling, X_train, y_train, int(n_rounds), train_size, rng
    )
    plans = [
        MemberPlan(int(seed), rows=r)
        for seed, r in zip(draw_seeds(rng, len(rows)), rows, strict=True)
    ]
    with warnings_of(noun="rounds"):
        members = fit_members(
            estimator,
            X_all,
            y_all,
            plans,
            n_jobs=n_jobs,
            verbose=verbose,
            reseed="unset",
            engine=engine,
            fit_params=fit_params,
        )

    if loss == "log_loss":
        predictions = np.stack(
            [align_proba(m.predict_proba(X_test), m.classes_, classes) for m in members]
        )
        parts = decompose_log_loss(predictions, np.searchsorted(classes, y_test))
    elif loss == "0-1":
        predictions = np.stack([m.predict(X_test) for m in members])
        parts = decompose_zero_one(predictions, y_test)
    else:
        predictions = np.stack([np.asarray(m.predict(X_test), dtype=float) for m in members])
        parts = decompose_squared(predictions, y_test.astype(float))
    return _result(loss, parts, len(members), predictions if return_predictions else None)


def _check_same_columns(X_train, X_test) -> None:
    """DataFrames become arrays here, so their column names are compared first, as an
    estimator compares them at predict: permuted columns would give a wrong loss."""
    train, test = (getattr(X, "columns", None) for X in (X_train, X_test))
    if train is None or test is None:
        return
    if list(train) != list(test):
        raise ValueError(
            "X_test's columns differ from X_train's (names or order): "
            f"{list(test)[:10]} against {list(train)[:10]}. Select X_test[X_train.columns]."
        )


def _check_estimator_for_loss(estimator, loss: str) -> None:
    if loss == "mse" and is_classifier(estimator):
        raise ValueError("loss='mse' needs a regressor; use loss='0-1' or 'log_loss'.")
    if loss != "mse" and is_regressor(estimator):
        raise ValueError(f"loss={loss!r} needs a classifier; for a regressor use loss='mse'.")
    if loss == "log_loss" and not hasattr(estimator, "predict_proba"):
        raise ValueError(
            f"loss='log_loss' needs predict_proba, which {type(estimator).__name__} lacks; use "
            "loss='0-1' or a probabilistic classifier."
        )


def _draw_training_sets(sampling, X, y, n_rounds, train_size, rng):
    """Each round's rows into the data the engine sees (generated sets are stacked)."""
    n = len(X)
    if callable(sampling):
        sets = [sampling(np.random.RandomState(seed)) for seed in draw_seeds(rng, n_rounds)]
        sizes = np.cumsum([0] + [len(X_r) for X_r, _ in sets])
        X_all = np.concatenate([check_array(X_r, dtype=None) for X_r, _ in sets])
        y_all = np.concatenate([column_or_1d(y_r) for _, y_r in sets])
        return X_all, y_all, [np.arange(a, b) for a, b in pairwise(sizes)]
    if sampling not in ("bootstrap", "subsample"):
        raise ValueError(
            f"sampling must be 'bootstrap', 'subsample' or a callable, got {sampling!r}."
        )
    default = n if sampling == "bootstrap" else n // 2
    size = default if train_size is None else resolve_count(train_size, n, "train_size")
    replace = sampling == "bootstrap"
    return X, y, [rng.choice(n, size, replace=replace) for _ in range(n_rounds)]


def _result(loss, parts, n_rounds, predictions) -> BiasVarianceResult:
    extra = {}
    if loss == "0-1":
        extra = {
            name: float(parts[name].mean())
            for name in (
                "variance_unbiased",
                "variance_biased",
                "variance_biased_weighted",
                "net_variance",
            )
        }
    return BiasVarianceResult(
        loss=loss,
        expected_loss=float(parts["loss"].mean()),
        bias=float(parts["bias"].mean()),
        variance=float(parts["variance"].mean()),
        expected_loss_per_point=parts["loss"],
        bias_per_point=parts["bias"],
        variance_per_point=parts["variance"],
        main_prediction=parts["main"],
        n_rounds=n_rounds,
        predictions=predictions,
        **extra,
    )


def bias_variance_curve(
    estimator: BaseEstimator,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    param_name: str,
    param_range: Sequence,
    **decomp_params,
) -> list[BiasVarianceResult]:
    """Bias-variance decompositions along one parameter, like ``validation_curve``.

    For each value in ``param_range`` a clone with ``param_name`` set to it is decomposed by
    :func:`bias_variance_decomp` with the same ``decomp_params`` (loss, n_rounds, sampling,
    random_state, n_jobs...). The same ``random_state`` gives every value the same training
    sets, so the curve compares models, not draws.

    Parameters
    ----------
    estimator : estimator
    X_train, y_train, X_test, y_test : array-like
    param_name : str
        A parameter of the estimator, nested ones too (``estimator__module__hidden_units``,
        ``max_depth``, ``n_estimators``).
    param_range : sequence
        Values to decompose, from simple to complex.
    **decomp_params
        Keyword arguments of :func:`bias_variance_decomp`.

    Returns
    -------
    results : list of BiasVarianceResult
        One per value, with ``params={param_name: value}``.

    See Also
    --------
    bias_variance_decomp : one decomposition.
    BiasVarianceDisplay : the curve's plot.
    sklearn.model_selection.validation_curve : scores along a parameter.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.model_selection import bias_variance_curve
    >>> X, y = make_friedman1(n_samples=300, noise=1.0, random_state=0)
    >>> curve = bias_variance_curve(DecisionTreeRegressor(random_state=0), X[:200], y[:200],
    ...     X[200:], y[200:], param_name="max_depth", param_range=[1, 8], loss="mse",
    ...     n_rounds=10, random_state=0)
    >>> curve[0].bias > curve[1].bias and curve[0].variance < curve[1].variance
    True
    """
    if "random_state" not in decomp_params or decomp_params["random_state"] is None:
        # One fixed stream, so every value sees the same training sets.
        decomp_params = {**decomp_params, "random_state": int(draw_seeds(None, 1)[0])}
    results = []
    for value in param_range:
        candidate = clone(estimator).set_params(**{param_name: value})
        result = bias_variance_decomp(candidate, X_train, y_train, X_test, y_test, **decomp_params)
        results.append(replace(result, params={param_name: value}))
    return results
