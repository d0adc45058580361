"""The tables ``compare_models`` returns: one row per model, against the best, by scorer."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..utils._optional import import_optional
from ..utils._results import ArrayFieldsEqual
from ._significance import _CORRECTIONS, _check_finite_scores


@dataclass(frozen=True, eq=False)
class ComparisonRow(ArrayFieldsEqual):
    """One model's line in :func:`compare_models`' table.

    Attributes
    ----------
    name : str
    mean : float
        Mean score over the folds.
    ci_low, ci_high : float
        Interval of the mean at the table's confidence level, with the variance the table's
        test uses, clipped to the range of the metric where it is known (accuracy in [0, 1],
        ``neg_*`` scores at most 0).
    diff : float
        ``mean - best.mean``: 0 for the best model, negative for the others.
    diff_low, diff_high : float
        Interval of the paired difference to the best, at the same level (not adjusted
        for the number of comparisons; ``pvalue_adjusted`` is).
    pvalue : float
        Two-sided p-value of the paired test against the best (1 for the best).
    pvalue_adjusted : float
        ``pvalue`` after the table's multiple-comparison correction (Holm's by default).
    significant : bool
        ``pvalue_adjusted < 1 - confidence_level``: the best is ahead of this model beyond
        the noise of the folds.
    scores : ndarray of shape (n_splits,)
        The score on each fold, in the splitter's order (the same folds for every model).

    See Also
    --------
    compare_models : the function whose table holds it.
    ComparisonTable : the rows of one scorer.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import compare_models
    >>> X, y = load_iris(return_X_y=True)
    >>> models = {"tree": DecisionTreeClassifier(max_depth=2, random_state=0),
    ...           "prior": DummyClassifier()}
    >>> row = compare_models(models, X, y, cv=5, scoring="accuracy", random_state=0)[1]
    >>> row.name, round(row.mean, 3), round(row.diff, 3), row.significant, row.scores.shape
    ('prior', 0.333, -0.6, True, (5,))
    """

    name: str
    mean: float
    ci_low: float
    ci_high: float
    diff: float
    diff_low: float
    diff_high: float
    pvalue: float
    pvalue_adjusted: float
    significant: bool
    scores: np.ndarray

    def __repr__(self) -> str:
        return (
            f"ComparisonRow({self.name!r}, mean={self.mean:.4f}, "
            f"ci=[{self.ci_low:.4f}, {self.ci_high:.4f}], diff={self.diff:+.4f}, "
            f"pvalue={self.pvalue:.4g}, pvalue_adjusted={self.pvalue_adjusted:.4g})"
        )


_COLUMNS = [
    "mean", "ci_low", "ci_high", "diff", "diff_low", "diff_high", "pvalue",
    "pvalue_adjusted", "significant",
]  # fmt: skip


class ComparisonTable(list):
    """Rows of :func:`compare_models` for one scorer, best first.

    ``print(table)`` shows the table and a sentence saying which differences are beyond
    the noise; ``table.summary`` is that sentence, ``table.best`` the best row,
    ``table.to_frame()`` a pandas DataFrame and ``table.plot()`` a
    :class:`ComparisonDisplay`.

    Parameters
    ----------
    rows : list of ComparisonRow
        Best first.
    scoring : str
        The scorer's name.
    test : {"corrected_ttest", "ttest"}
        The paired test behind the intervals and p-values.
    confidence_level : float
    correction : {"holm", "bonferroni"} or None
        The adjustment of the p-values for the number of comparisons.

    Attributes
    ----------
    best : ComparisonRow
        The first row.
    summary : str
        One sentence: which models the best is significantly ahead of.
    scoring, test, confidence_level, correction
        As given.

    See Also
    --------
    compare_models : the function that returns it.
    ComparisonTables : one table per scorer.
    ComparisonDisplay : its plot.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import compare_models
    >>> X, y = load_iris(return_X_y=True)
    >>> models = {"tree": DecisionTreeClassifier(max_depth=2, random_state=0),
    ...           "prior": DummyClassifier()}
    >>> table = compare_models(models, X, y, cv=5, scoring="accuracy", random_state=0)
    >>> table.best.name, [row.name for row in table], table.to_frame().shape
    ('tree', ['tree', 'prior'], (2, 9))
    """

    def __init__(self, rows, *, scoring: str, test: str, confidence_level: float, correction):
        super().__init__(rows)
        self.scoring, self.test = scoring, test
        self.confidence_level, self.correction = confidence_level, correction

    @property
    def best(self) -> ComparisonRow:
        """The row with the best mean score."""
        return self[0]

    @property
    def summary(self) -> str:
        """One plain sentence: is the best model significantly ahead, and of which models."""
        alpha = 1 - self.confidence_level
        p_name = "p" if self.correction is None else f"{self.correction.capitalize()}-adjusted p"
        best, others = self[0], self[1:]
        if not others:
            return f"Only one model, {best.name!r}: nothing to compare it with."
        ahead = [r for r in others if r.significant]
        tied = [r for r in others if not r.significant]
        if not ahead:
            closest = min(tied, key=lambda r: r.pvalue_adjusted)
            return (
                f"No model is significantly ahead: {best.name!r} has the best mean "
                f"{self.scoring}, but its lead over every other model is within the noise "
                f"of these folds ({p_name} >= {alpha:g}; the smallest is "
                f"{closest.pvalue_adjusted:.3g}, against {closest.name!r})."
            )
        if not tied:
            return (
                f"{best.name!r} is significantly ahead of every other model on {self.scoring} "
                f"({p_name} < {alpha:g})."
            )
        return (
            f"{best.name!r} is significantly ahead of {_names(ahead)} on {self.scoring} "
            f"({p_name} < {alpha:g}), but its lead over {_names(tied)} is within the noise "
            f"of these folds ({p_name} >= {alpha:g})."
        )

    def to_frame(self):
        """The table as a pandas DataFrame indexed by model (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(
            [[getattr(r, c) for c in _COLUMNS] for r in self],
            columns=_COLUMNS,
            index=pd.Index([r.name for r in self], name="model"),
        )

    def plot(self, ax=None, *, kind: str = "scores"):
        """Draw the table (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            A new figure if None.
        kind : {"scores", "difference"}, default="scores"
            See :meth:`ComparisonDisplay.plot`.

        Returns
        -------
        display : ComparisonDisplay
        """
        from ._compare_display import ComparisonDisplay

        return ComparisonDisplay(self).plot(ax=ax, kind=kind)

    def __str__(self) -> str:
        level = f"{self.confidence_level:.0%}"
        width = max(5, *(len(r.name) for r in self))
        adjusted = "p" if self.correction is None else f"p ({self.correction})"
        test = "corrected resampled t-test" if self.test == "corrected_ttest" else "paired t-test"
        lines = [
            f"{self.scoring}, {len(self[0].scores)} folds; {level} intervals and p against "
            f"the best by the {test}",
            f"{'model':{width}s} {'mean':>8s} {level + ' interval':>20s}  "
            f"{'vs best':>8s} {level + ' interval':>20s} {adjusted:>10s}",
        ]
        for r in self:
            interval = f"[{_num(r.ci_low, '.4f')}, {_num(r.ci_high, '.4f')}]"
            line = f"{r.name:{width}s} {_num(r.mean, '.4f'):>8s} {interval:>20s}"
            if r is self[0]:
                lines.append(f"{line}  {'best':>8s}")
                continue
            mark = " *" if r.significant else ""
            interval = f"[{_num(r.diff_low, '+.4f')}, {_num(r.diff_high, '+.4f')}]"
            diff, p = _num(r.diff, "+.4f"), _pvalue(r.pvalue_adjusted)
            lines.append(f"{line}  {diff:>8s} {interval:>20s} {p:>10s}{mark}")
        lines.append(textwrap.fill(self.summary, width=88, break_on_hyphens=False))
        return "\n".join(lines)


def _num(value: float, spec: str) -> str:
    """``value`` in ``spec``, a zero never signed negative ("-0.0000" is "0.0000")."""
    text = format(value, spec)
    if text.startswith("-") and float(text) == 0:
        text = ("+" if "+" in spec else "") + text[1:]
    return text


def _pvalue(value: float) -> str:
    """A p-value in one style down a column: three decimals, or two significant digits in
    scientific notation below 0.001 (1.000 beside 1.5e-05, never 1 beside 1.46e-05)."""
    return f"{value:.3f}" if not value < 0.001 else f"{value:.1e}"


class ComparisonTables(dict):
    """:func:`compare_models` with several scorers: scorer name -> :class:`ComparisonTable`.

    Each table is ranked by its own scorer. ``print(tables)`` prints them in turn,
    ``tables.to_frame()`` stacks them (index: scorer, model) and ``tables.plot()`` draws
    one panel per scorer.

    See Also
    --------
    compare_models : the function that returns it.
    ComparisonTable : the table of one scorer.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import compare_models
    >>> X, y = load_iris(return_X_y=True)
    >>> models = {"tree": DecisionTreeClassifier(max_depth=2, random_state=0),
    ...           "prior": DummyClassifier()}
    >>> tables = compare_models(models, X, y, cv=5, scoring=["accuracy", "neg_log_loss"],
    ...                         random_state=0)
    >>> list(tables), tables["neg_log_loss"].best.name
    (['accuracy', 'neg_log_loss'], 'tree')
    """

    @classmethod
    def from_scores(
        cls, by_scorer: dict, limits: dict, *, test: str = "corrected_ttest",
        confidence_level: float = 0.95, correction: str | None = "holm", n_train: float,
        n_test: float,
    ) -> ComparisonTables:  # fmt: skip
        """The tables of per-fold scores computed elsewhere (a run folder, another tool).

        Parameters
        ----------
        by_scorer : dict
            ``{scorer: {model: scores}}``, each ``scores`` an array of one score per fold,
            the folds in one order for every model.
        limits : dict
            ``{scorer: (low, high)}``, the range of each scorer's values (``(-inf, inf)``
            when unbounded); intervals are clipped to it.
        test : {"corrected_ttest", "ttest"}, default="corrected_ttest"
            As in :func:`compare_models`.
        confidence_level : float, default=0.95
        correction : {"holm", "bonferroni"} or None, default="holm"
        n_train, n_test : float
            The mean rows of a split's training and test parts, for the corrected variance.

        Returns
        -------
        tables : ComparisonTables

        Examples
        --------
        >>> import numpy as np
        >>> from ensemblekit.model_selection import ComparisonTables
        >>> scores = {"accuracy": {"a": np.array([0.9, 0.92, 0.91]),
        ...                        "b": np.array([0.8, 0.82, 0.79])}}
        >>> tables = ComparisonTables.from_scores(scores, {"accuracy": (0, 1)},
        ...                                       n_train=100, n_test=50)
        >>> tables["accuracy"].best.name
        'a'
        """
        tables = cls()
        for label, per_model in by_scorer.items():
            for name, s in per_model.items():
                try:
                    _check_finite_scores(s)
                except ValueError as error:
                    raise ValueError(f"Model {name!r}, {label}: {error}") from error
            tables[label] = _table(
                per_model, scoring=label, limits=limits[label], test=test,
                confidence_level=confidence_level, correction=correction, n_train=n_train,
                n_test=n_test,
            )  # fmt: skip
        return tables

    def to_frame(self):
        """All tables as one pandas DataFrame indexed by (scoring, model) (needs pandas)."""
        import pandas as pd

        return pd.concat({name: table.to_frame() for name, table in self.items()}, names=[
            "scoring", "model"
        ])  # fmt: skip

    def plot(self, *, kind: str = "scores", axes=None) -> dict:
        """One :class:`ComparisonDisplay` per scorer, side by side (needs matplotlib).

        Parameters
        ----------
        kind : {"scores", "difference"}, default="scores"
        axes : sequence of matplotlib Axes or None, default=None
            One per scorer; None makes a new figure.

        Returns
        -------
        displays : dict of str to ComparisonDisplay
            By scorer; its ``figure_`` attribute is the figure that holds them, to save
            with ``tables.plot().figure_.savefig("comparison.png")``.
        """
        plt = import_optional("matplotlib.pyplot", "Plotting")
        if axes is None:
            _, axes = plt.subplots(
                1, len(self), figsize=(5 * len(self), 0.5 * len(next(iter(self.values()))) + 1.5),
                constrained_layout=True, squeeze=False,
            )  # fmt: skip
            axes = axes[0]
        if len(axes) != len(self):
            raise ValueError(f"axes must hold {len(self)} Axes, one per scorer; got {len(axes)}.")
        displays = _Displays(
            (name, table.plot(ax=ax, kind=kind))
            for (name, table), ax in zip(self.items(), axes, strict=True)
        )
        displays.figure_ = axes[0].figure
        return displays

    def __str__(self) -> str:
        return "\n\n".join(str(table) for table in self.values())


class _Displays(dict):
    """The displays of :meth:`ComparisonTables.plot`, by scorer, and their ``figure_``."""

    figure_ = None


def _names(rows) -> str:
    return ", ".join(repr(r.name) for r in rows)


def _interval(diff: np.ndarray, correction: float, half: float) -> tuple[float, float, float]:
    """Mean of paired differences, the half-width of its interval and the two-sided p."""
    mean = float(diff.mean())
    variance = correction * diff.var(ddof=1)
    if variance == 0:  # no spread: a sure difference, or none
        return mean, 0.0, float(mean == 0)
    t = mean / np.sqrt(variance)
    return mean, half * float(np.sqrt(variance)), float(2 * stats.t.sf(abs(t), df=len(diff) - 1))


def _table(
    scores: dict, *, scoring: str, limits, test, confidence_level, correction, n_train, n_test
) -> ComparisonTable:
    k = len(next(iter(scores.values())))
    inflation = (1 / k + n_test / n_train) if test == "corrected_ttest" else 1 / k
    half = stats.t.ppf(0.5 + confidence_level / 2, df=k - 1)
    ranked = sorted(scores, key=lambda name: -scores[name].mean())  # stable: ties keep order
    best = scores[ranked[0]]
    low, high = limits
    reach = high - low  # the largest possible difference (inf when unbounded)
    stats_ = {}
    for name in ranked:
        mean, spread, _ = _interval(scores[name], inflation, half)
        diff, diff_spread, pvalue = _interval(scores[name] - best, inflation, half)
        stats_[name] = (mean, spread, diff, diff_spread, pvalue)
    adjusted = dict(
        zip(ranked[1:], _CORRECTIONS[correction]([stats_[n][4] for n in ranked[1:]]), strict=True)
    )
    alpha = 1 - confidence_level
    rows = []
    for name in ranked:
        mean, spread, diff, diff_spread, pvalue = stats_[name]
        p_adj = float(adjusted.get(name, 1.0))
        rows.append(
            ComparisonRow(
                name,
                mean,
                float(max(low, mean - spread)),
                float(min(high, mean + spread)),
                diff,
                float(max(-reach, diff - diff_spread)),
                float(min(reach, diff + diff_spread)),
                pvalue if name != ranked[0] else 1.0,
                p_adj,
                bool(name != ranked[0] and p_adj < alpha),
                scores[name],
            )
        )
    return ComparisonTable(
        rows, scoring=scoring, test=test, confidence_level=confidence_level, correction=correction
    )
