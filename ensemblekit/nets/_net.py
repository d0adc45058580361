"""NeuralNetClassifier and NeuralNetRegressor: skorch nets with scikit-learn's contract."""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ..imbalance import BalancedBatchSampler, compute_class_weight
from ..utils._mixins import PredictLogProbaMixin
from ..utils._private import Interval, StrOptions
from ..utils._validation import as_float32, check_numeric, plain
from ._base import NeuralNetBase
from ._docs import _FITTED_DOC, _SHARED_PARAMS_DOC
from ._gaussian import GaussianNLLLoss
from ._mlp import MLP
from ._pinball import PinballLoss


def _is_criterion(criterion, kind: type) -> bool:
    """Whether ``criterion`` (a class or an instance) is a ``kind``."""
    return issubclass(criterion if isinstance(criterion, type) else type(criterion), kind)


class NeuralNetClassifier(PredictLogProbaMixin, ClassifierMixin, NeuralNetBase):
    __doc__ = (
        """A torch net that is a true scikit-learn classifier.

    Built on ``skorch.NeuralNet``. With no arguments it trains an :class:`MLP` whose input
    width and number of classes come from the data. It takes ``sample_weight`` in
    ``fit`` and ``class_weight``, has a ``random_state``, uses all training rows unless
    ``early_stopping=True``, validates its input like scikit-learn estimators do, and
    returns ``predict_proba`` as float64 rows that sum to one.

    Parameters
    ----------"""
        + _SHARED_PARAMS_DOC.format(
            criterion="torch.nn.CrossEntropyLoss",
            nonlin="a softmax over the last axis (the module returns logits)",
            chance="``log C`` for C classes with ``CrossEntropyLoss``; none is known for "
            "other criteria, which are not watched",
        )
        + """    class_weight : None, "balanced", "effective" or dict, default=None
        Weights of the classes in the loss, multiplied with ``sample_weight``. "balanced"
        uses ``n_samples / (n_classes * bincount(y))``; "effective" the class-balanced
        weights of Cui et al. (2019), ``1 / E_c`` with ``E_c = (1 - beta^n_c) / (1 - beta)``
        (see :func:`ensemblekit.imbalance.compute_class_weight`).
    class_weight_beta : float in [0, 1), default=0.999
        The ``beta`` of ``class_weight="effective"``.
    batch_sampler : None, "balanced" or class, default=None
        How training batches are drawn. None shuffles the rows each epoch. "balanced" uses
        :class:`ensemblekit.imbalance.BalancedBatchSampler` (classes in equal shares in every
        batch); a class is called as ``batch_sampler(y, batch_size=..., random_state=...,
        **batch_sampler__params)`` and must yield lists of row indices, e.g.
        ``batch_sampler=BalancedBatchSampler, batch_sampler__sampling_ratio={0: 2, 1: 1}``.
        Balanced batches shift the prior the net learns: see
        :func:`ensemblekit.imbalance.correct_prior_shift`.
    classes : array-like or None, default=None
        All class labels the net predicts; None takes the labels present in ``y``. With
        ``classes`` set, ``y`` may show only some of them, even just one (the net still
        has an output for every class): ensemblekit's classifier ensembles set it on their
        member nets, so a member whose draw misses classes still predicts all of them.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen at fit, sorted."""
        + _FITTED_DOC
        + """
    See Also
    --------
    NeuralNetRegressor : the same for regression.
    MLP : the default module.
    ensemblekit.ensemble.DeepEnsembleClassifier : several of these nets, averaged.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = NeuralNetClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> net.predict_proba(X[:2]).shape
    (2, 3)
    """
    )
    # Prefixes whose parameters (batch_sampler__sampling_ratio) skorch accepts and routes;
    # regressors have no batch sampler, so skorch refuses the name for them.
    prefixes_: ClassVar[list] = [*NeuralNetBase.prefixes_, "batch_sampler"]

    def __init__(
        self,
        module=MLP,
        *,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=50,
        batch_size="auto",
        class_weight=None,
        class_weight_beta=0.999,
        batch_sampler=None,
        classes=None,
        random_state=None,
        n_threads=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        callbacks=None,
        iterator_train=None,
        predict_nonlinearity="auto",
        warm_start=False,
        on_interrupt="raise",
        on_divergence="warn",
        verbose=0,
        device="cpu",
        compile=False,
        precision="32-true",
        torch_load_kwargs=None,
        **kwargs,
    ):
        params = dict(locals())
        del params["self"], params["kwargs"]
        self._store_params(params, kwargs)

    _parameter_constraints: ClassVar[dict] = {
        **NeuralNetBase._parameter_constraints,
        "class_weight": [None, StrOptions({"balanced", "effective"}), dict],
        "class_weight_beta": [Interval(Real, 0, 1, closed="left")],
        "batch_sampler": [None, StrOptions({"balanced"}), callable],
        "classes": ["array-like", None],
    }

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Train the net from scratch (or continue, with ``warm_start=True``).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels, integers or strings.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-row weights of the loss, rescaled to mean one.
        X_val, y_val, sample_weight_val : array-like, default=None
            Rows and weights for early stopping to monitor (see ``early_stopping``).

        Returns
        -------
        self : NeuralNetClassifier
        """
        valid = None if X_val is None and y_val is None else (X_val, y_val, sample_weight_val)
        return self._fit(X, y, sample_weight, partial=False, valid=valid)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train ``max_epochs`` more epochs from the current weights (skorch's meaning).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like, default=None
            All classes, needed on the first call if ``y`` does not show them all.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : NeuralNetClassifier
        """
        return self._fit(X, y, sample_weight, partial=True, classes=classes)

    def _validate_Xy(self, X, y, *, reset: bool, classes=None):
        check_numeric(X)
        X, y = validate_data(
            self, X, y, reset=reset, dtype=(np.float32, np.float64), accept_sparse="csr"
        )
        return as_float32(X), self._encode_targets(y, reset=reset, classes=classes)

    def _encode_targets(self, y, *, reset: bool, classes=None) -> np.ndarray:
        """Labels as indices into ``classes_`` (on reset: from ``classes`` given to
        ``partial_fit``, else the ``classes`` parameter, else ``y``)."""
        check_classification_targets(y)
        if reset:
            classes = self.classes if classes is None else classes
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
            if classes is not None and len(self.classes_) < 2:
                given = "classes" if self.classes is not None else "partial_fit(classes=...)"
                raise ValueError(
                    f"{given} must name at least 2 classes, got {np.asarray(classes).tolist()}: "
                    "pass every label y may hold, or leave classes=None to take them from y."
                )
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least 2 classes in y, got 1 class "
                    f"({plain(self.classes_[0])!r}). Check the labels, or the split that made "
                    "them; a net that must fit one class's rows needs all labels in `classes`."
                )
            self.n_outputs_ = len(self.classes_)
        unseen = np.setdiff1d(y, self.classes_)
        if len(unseen):
            where = "in the first fit" if self.classes is None else "in `classes`"
            raise ValueError(
                f"y has labels {unseen.tolist()} not among the classes {self.classes_.tolist()}"
                f" given {where}; pass all classes (the `classes` parameter, or "
                "partial_fit(classes=...))."
            )
        return np.searchsorted(self.classes_, y)

    def _chance_loss(self, y_encoded) -> float | None:
        """``log C``: the cross-entropy of equal probabilities for every class."""
        if not _is_criterion(self.criterion, torch.nn.CrossEntropyLoss):
            return None
        return float(np.log(len(self.classes_)))

    def _class_weight_table(self, y_encoded):
        if self.class_weight is None:
            return None
        present = np.unique(y_encoded)
        weights = np.ones(len(self.classes_))
        if isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(
                    f"class_weight has classes {sorted(unknown, key=str)} that are not in y "
                    f"(classes: {self.classes_.tolist()})."
                )
            for label, weight in self.class_weight.items():
                finite = isinstance(weight, Real) and not isinstance(weight, bool)
                if not (finite and 0 <= weight < np.inf):
                    raise ValueError(
                        f"class_weight must give each class a finite weight >= 0, got "
                        f"{plain(weight)!r} for class {plain(label)!r}."
                    )
                weights[np.searchsorted(self.classes_, label)] = weight
        else:  # "balanced" or "effective" (the parameter's constraints allow no other)
            weights[present] = compute_class_weight(
                y_encoded, method=self.class_weight, beta=self.class_weight_beta
            )
        return weights

    def _batch_sampler(self, dataset, batch_size):
        if self.batch_sampler is None:
            return None
        make = BalancedBatchSampler if self.batch_sampler == "balanced" else self.batch_sampler
        return make(
            dataset.y.cpu().numpy(),
            batch_size=batch_size,
            random_state=self._seeds["sampler"],
            **self.get_params_for("batch_sampler"),
        )

    def _stratify_split(self, y):
        return y if np.bincount(y).min(initial=2) >= 2 and len(np.unique(y)) > 1 else None

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity == "auto":
            return lambda out: torch.softmax(out, dim=-1)
        return super()._get_predict_nonlinearity()

    def predict_proba(self, X):
        """Class probabilities, float64, each row summing to one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return self._finish_prediction(self._forward_numpy(X))

    def _finish_prediction(self, output: np.ndarray) -> np.ndarray:
        """``predict_proba``'s rows from the module's output after its nonlinearity (of
        shape (n_samples, n_classes), or (n_members, n_samples, n_classes) when stacked)."""
        return output / output.sum(axis=-1, keepdims=True)

    def predict_log_proba(self, X):
        """Log of the class probabilities: with ``predict_nonlinearity="auto"`` the
        ``log_softmax`` of the logits in float64, finite where ``predict_proba`` rounds
        to 0.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        if self.predict_nonlinearity != "auto":
            return super().predict_log_proba(X)
        return self._forward_numpy(X, lambda out: torch.log_softmax(out.double(), dim=-1))

    def predict(self, X):
        """Most probable class label of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self._forward_numpy(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy, as scikit-learn classifiers score."""
        return ClassifierMixin.score(self, X, y, sample_weight=sample_weight)


class NeuralNetRegressor(RegressorMixin, NeuralNetBase):
    __doc__ = (
        """A torch net that is a true scikit-learn regressor.

    Built on ``skorch.NeuralNet``. With no arguments it trains an :class:`MLP` whose input
    and output widths come from the data; 1-D targets give 1-D predictions and 2-D targets
    (multi-output) 2-D ones. Takes ``sample_weight``, has a ``random_state`` and uses all
    training rows unless ``early_stopping=True``. Targets are used as given: scale them
    (``TransformedTargetRegressor``) when they are far from unit scale.

    Parameters
    ----------"""
        + _SHARED_PARAMS_DOC.format(
            criterion="torch.nn.MSELoss",
            nonlin="the identity",
            chance="``mean(y**2)``, the loss of outputs at 0, for ``MSELoss``; none is known "
            "for other criteria, which are not watched",
        )
        + """
    Attributes
    ----------"""
        + _FITTED_DOC
        + """
    See Also
    --------
    NeuralNetClassifier : the same for classification.
    GaussianNLLLoss : a loss for predicting a mean and a spread.
    ensemblekit.ensemble.DeepEnsembleRegressor : several of these nets, averaged.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from ensemblekit.nets import NeuralNetRegressor
    >>> X, y = make_regression(n_samples=50, n_features=3, random_state=0)
    >>> net = NeuralNetRegressor(max_epochs=5, random_state=0).fit(X, y / y.std())
    >>> net.predict(X[:2]).shape
    (2,)
    """
    )

    def __init__(
        self,
        module=MLP,
        *,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=50,
        batch_size="auto",
        random_state=None,
        n_threads=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        callbacks=None,
        iterator_train=None,
        predict_nonlinearity="auto",
        warm_start=False,
        on_interrupt="raise",
        on_divergence="warn",
        verbose=0,
        device="cpu",
        compile=False,
        precision="32-true",
        torch_load_kwargs=None,
        **kwargs,
    ):
        params = dict(locals())
        del params["self"], params["kwargs"]
        self._store_params(params, kwargs)

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Train the net from scratch (or continue, with ``warm_start=True``).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-row weights of the loss, rescaled to mean one.
        X_val, y_val, sample_weight_val : array-like, default=None
            Rows and weights for early stopping to monitor (see ``early_stopping``).

        Returns
        -------
        self : NeuralNetRegressor
        """
        valid = None if X_val is None and y_val is None else (X_val, y_val, sample_weight_val)
        return self._fit(X, y, sample_weight, partial=False, valid=valid)

    def _check_params(self) -> None:
        sampler = [key for key in vars(self) if key.split("__")[0] == "batch_sampler"]
        if sampler:
            raise ValueError(
                f"NeuralNetRegressor got {sampler[0]}, but a batch sampler balances the classes "
                "in a classifier's batches and a regressor has none: remove it (or use "
                "NeuralNetClassifier for classes)."
            )
        super()._check_params()

    def partial_fit(self, X, y, sample_weight=None):
        """Train ``max_epochs`` more epochs from the current weights (skorch's meaning).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : NeuralNetRegressor
        """
        return self._fit(X, y, sample_weight, partial=True)

    def _validate_Xy(self, X, y, *, reset: bool, classes=None):
        check_numeric(X)
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            multi_output=True,
            y_numeric=True,
            dtype=(np.float32, np.float64),
            accept_sparse="csr",
        )
        return as_float32(X), self._encode_targets(y, reset=reset)

    def _encode_targets(self, y, *, reset: bool, classes=None) -> np.ndarray:
        """Targets as float32 of shape (n_samples, n_outputs_) (set from ``y`` on reset)."""
        y = as_float32(np.asarray(y, dtype=np.float64), "y")
        y2d = y.reshape(len(y), -1)
        if reset:
            self.n_outputs_ = y2d.shape[1]
            self._y_ndim = y.ndim
        elif y2d.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y2d.shape[1]} targets but the net was fitted with {self.n_outputs_}."
            )
        return np.ascontiguousarray(y2d)

    def _chance_loss(self, y_encoded) -> float | None:
        """``mean(y**2)``: the squared error of outputs at 0, where a fresh net starts (at
        least the variance of y, the error of predicting its mean)."""
        if not _is_criterion(self.criterion, torch.nn.MSELoss):
            return None
        chance = float(np.mean(np.square(y_encoded, dtype=np.float64)))
        return chance if chance > 0 else None

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity == "auto":
            if self.predicts_std():  # means and positive standard deviations, side by side
                return lambda out: torch.cat(self.criterion_.split(out), dim=-1)
            return lambda out: out
        return super()._get_predict_nonlinearity()

    def predicts_std(self) -> bool:
        """Whether the net predicts a standard deviation with each mean (its criterion is
        :class:`GaussianNLLLoss`)."""
        return _is_criterion(self.criterion, GaussianNLLLoss)

    def predict(self, X, return_std: bool = False):
        """Predicted targets, float64, shaped like the ``y`` seen at fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the predicted standard deviations: only for a net trained with
            ``criterion=GaussianNLLLoss``.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        y_std : ndarray of the same shape, only when ``return_std=True``
        """
        if return_std and not self.predicts_std():
            raise ValueError(
                "return_std=True needs a net that predicts a spread: train it with "
                "criterion=GaussianNLLLoss (from ensemblekit.nets). For the spread of an "
                "ensemble's members, use DeepEnsembleRegressor.predict(X, return_std=True)."
            )
        output = self._forward_numpy(X)
        if not return_std:
            return self._finish_prediction(output)
        return self._finish_prediction(output), self._shape_like_y(output[..., self.n_outputs_ :])

    def predicts_quantiles(self) -> bool:
        """Whether the net predicts quantiles of each target (its criterion is
        :class:`PinballLoss`)."""
        return _is_criterion(self.criterion, PinballLoss)

    def predict_quantiles(self, X) -> np.ndarray:
        """Every quantile the net learned, for a net trained with ``criterion=PinballLoss``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        quantiles : ndarray of shape (n_samples, n_quantiles), or (n_samples, n_targets,
            n_quantiles) for several targets
            In the order of the criterion's sorted ``quantiles``.
        """
        if not self.predicts_quantiles():
            raise ValueError(
                "predict_quantiles needs a net trained on quantiles: criterion=PinballLoss "
                "(from ensemblekit.nets), with criterion__quantiles."
            )
        return self._quantile_axis(self._forward_numpy(X))

    def _quantile_axis(self, output: np.ndarray) -> np.ndarray:
        """(..., n_targets * n_quantiles) quantile-major outputs as (..., [n_targets,]
        n_quantiles)."""
        n = len(self.criterion_.quantiles)
        output = np.swapaxes(output.reshape(*output.shape[:-1], n, self.n_outputs_), -1, -2)
        return output[..., 0, :] if self._y_ndim == 1 else output

    def _finish_prediction(self, output: np.ndarray) -> np.ndarray:
        """``predict``'s values from the module's output, shaped like the fitted ``y`` (with
        a leading members axis when stacked): the means, for a net that predicts a spread;
        the middle quantile, for a net that predicts quantiles."""
        if self.predicts_std():
            output = output[..., : self.n_outputs_]
        elif self.predicts_quantiles():
            middle = len(self.criterion_.quantiles) // 2
            output = output[..., middle * self.n_outputs_ : (middle + 1) * self.n_outputs_]
        return self._shape_like_y(output)

    def _shape_like_y(self, output: np.ndarray) -> np.ndarray:
        return output[..., 0] if self._y_ndim == 1 else output

    @property
    def predict_proba(self):
        """Not available: a regressor has no class probabilities (skorch's NeuralNet has one)."""
        raise AttributeError(f"{type(self).__name__} has no predict_proba; use predict.")

    def score(self, X, y, sample_weight=None):
        """R², as scikit-learn regressors score."""
        return RegressorMixin.score(self, X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
