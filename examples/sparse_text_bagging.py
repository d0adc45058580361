"""Bagged nets on a sparse bag of words, with a rare class.
========================================================

Short "reviews" are made from a vocabulary of 20,000 words, 4% of them complaints that use a
few telling words. ``TfidfVectorizer`` turns them into a sparse matrix that would take
hundreds of megabytes as a dense float32 array; the nets never densify it whole, only a
batch of rows at a time. Each bagged member draws half of the rows (a member whose draw
held no complaint would still predict both classes: the ensemble sets its net's
``classes``). Early stopping is routed to the members with scikit-learn's metadata routing:
every member watches the same held-out reviews. At a 4% base rate accuracy says little, so
the scores are average precisions on unseen reviews, for one net and for the bag.

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"


def make_reviews(n_reviews, rng):
    """Reviews of 30 common words; a complaint also has 3 of 50 telling words."""
    vocabulary = np.array([f"w{i}" for i in range(20_000)])
    complaint = rng.random(n_reviews) < 0.04
    texts = []
    for is_complaint in complaint:
        words = list(rng.choice(vocabulary[50:], size=30))
        if is_complaint:
            words += list(rng.choice(vocabulary[:50], size=3))
        texts.append(" ".join(words))
    return texts, complaint.astype(int)


def main():
    rng = np.random.default_rng(0)
    texts, y = make_reviews(1_500 if QUICK else 8_000, rng)
    X = TfidfVectorizer().fit_transform(texts)
    dense_mb = X.shape[0] * X.shape[1] * 4 / 1e6
    print(f"X: {X.shape}, {X.nnz} non-zeros; {dense_mb:.0f} MB if it were dense float32")
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=0.2, stratify=y_train, random_state=0
    )

    with sklearn.config_context(enable_metadata_routing=True):
        net = NeuralNetClassifier(
            module__hidden_units=(32,), max_epochs=5 if QUICK else 30, lr=3e-3,
            class_weight="balanced", early_stopping=True, n_iter_no_change=5,
        )  # fmt: skip
        net.set_fit_request(X_val=True, y_val=True)
        bag = BaggingClassifier(
            net, n_estimators=5 if QUICK else 15, max_samples=0.5, random_state=0
        )
        bag.fit(X_fit, y_fit, X_val=X_val, y_val=y_val)
        single = sklearn.clone(net).set_params(random_state=0)
        single.fit(X_fit, y_fit, X_val=X_val, y_val=y_val)

    drawn = [int(y_fit[rows].sum()) for rows in bag.estimators_samples_]
    epochs = [len(member.history_) for member in bag]
    print(f"{len(bag)} members drew {min(drawn)} to {max(drawn)} complaints each and")
    print(f"stopped after {min(epochs)} to {max(epochs)} epochs")
    print(f"average precision for complaints on unseen reviews (base rate {y.mean():.3f}):")
    for name, model in (("one net", single), (f"{len(bag)} bagged nets", bag)):
        precision = average_precision_score(y_test, model.predict_proba(X_test)[:, 1])
        print(f"  {name}: {precision:.3f}")


if __name__ == "__main__":
    main()
