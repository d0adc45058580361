"""ensemblekit: scikit-learn rigour around PyTorch nets.

Nets that are scikit-learn estimators, ensembles of them trained in one engine, and the
tools to validate and compare them honestly. Each subpackage holds one family:

- ``ensemblekit.nets``: ``NeuralNetClassifier``, ``NeuralNetRegressor`` (skorch nets that
  take ``random_state``, ``sample_weight`` and ``class_weight``) and the default ``MLP``.
- ``ensemblekit.ensemble``: bagging, deep, AdaBoost, gradient-boosting, cross-validation
  and snapshot ensembles, with ``predict_members``.
- ``ensemblekit.model_selection``: ``compare_models``, paired tests, nested CV, bootstrap
  estimates and intervals, bias-variance and diversity decompositions, predictive
  uncertainty, and stacked searches (grid, random, halving, Optuna).
- ``ensemblekit.conformal``: prediction intervals with a coverage guarantee (split
  conformal, CV+, the jackknife+ after bootstrap) around any regressor or ensemble.
- ``ensemblekit.imbalance``: class weights, focal loss, balanced batches, prior correction.
- ``ensemblekit.averaging``: SWA, EMA, snapshot collection and model soups.
- ``ensemblekit.metrics``: calibration error, the multi-class Brier score, Gaussian NLL,
  and reliability diagrams.
- ``ensemblekit.diagnostics``: sanity checks, the gradient check, the learning-rate range
  test and training monitors.
- ``ensemblekit.experiment``: studies in a file that run, resume and report (also the
  ``ensemblekit`` command).
- ``ensemblekit.engine``: the member engine every ensemble and validation tool fits
  through.
- ``ensemblekit.utils``: seeding and the helpers the subpackages share.

The user guide, the API reference and a gallery of examples are in the ``docs/`` folder of
the repository (``make docs`` builds the site); ``docs/getting_started.md`` is the place to
begin.
"""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
