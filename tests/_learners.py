"""Small learners the tests hand to the ensembles in place of a user's own."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor


class TreeLearner(BaseEstimator):
    """A depth-2 tree wrapped as many users' learners are: its ``fit`` returns None. With
    ``fail_on`` set, its fit raises when X holds that value (the fault a refit meets)."""

    def __init__(self, random_state=None, fail_on=None):
        self.random_state = random_state
        self.fail_on = fail_on

    def fit(self, X, y, sample_weight=None):
        if self.fail_on is not None and np.any(np.asarray(X) == self.fail_on):
            raise ValueError("a member failed")
        tree = DecisionTreeClassifier if self._is_classifier else DecisionTreeRegressor
        self.tree_ = tree(max_depth=2, random_state=self.random_state)
        self.tree_.fit(X, y, sample_weight=sample_weight)
        self.classes_ = getattr(self.tree_, "classes_", None)

    def predict(self, X):
        return self.tree_.predict(X)


class TreeClassifier(ClassifierMixin, TreeLearner):
    _is_classifier = True

    def predict_proba(self, X):
        return self.tree_.predict_proba(X)


class TreeRegressor(RegressorMixin, TreeLearner):
    _is_classifier = False
