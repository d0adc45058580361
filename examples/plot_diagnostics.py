"""Before and while training a net: the checks a careful practitioner runs, on load_digits.
========================================================================================

1. ``lr_range_test``: a short run at a rising learning rate; the suggested rate is a
   tenth of the rate where the smoothed loss is lowest.
2. ``sanity_check`` at that rate: the loss starts at chance (log 10), a strong weight
   decay raises it, the net can fit 20 rows exactly, and it predicts held-out rows far
   better than the same net trained on shuffled labels.
3. Training at that rate with the three monitors on, then drawing the training and
   validation losses, the update-to-weight ratio per layer (about 1e-3 is healthy) and
   the share of dead ReLU units per layer.
4. The same net with a planted fault (a learning rate a hundred times the suggested one),
   whose update ratios the monitor shows far above 1e-3.

Saves ``plot_diagnostics.png`` into the figures folder (``$ENSEMBLEKIT_FIGURES``, or
``figures/`` in the current folder).

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from ensemblekit.diagnostics import (
    ActivationMonitor,
    GradientMonitor,
    LossCurveDisplay,
    MonitorDisplay,
    UpdateRatioMonitor,
    lr_range_test,
    sanity_check,
)
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
FIGURES = Path(os.environ.get("ENSEMBLEKIT_FIGURES", "figures"))  # where the figure goes
EPOCHS = 4 if QUICK else 30

X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
net = NeuralNetClassifier(
    module__hidden_units=(64, 64), optimizer=torch.optim.SGD, optimizer__momentum=0.9,
    batch_size=64, early_stopping=True, random_state=0,
)  # fmt: skip

fig, axes = plt.subplots(2, 3, figsize=(16, 9), layout="constrained")

print("1. Learning-rate range test")
result = lr_range_test(net, X_train, y_train, n_steps=30 if QUICK else 150)
print(result)
result.plot(ax=axes[0, 0])
net.set_params(lr=result.suggested_lr)

print(f"\n2. Sanity checks at lr={result.suggested_lr:.3g}")
report = sanity_check(net, X_train, y_train, overfit_epochs=100 if QUICK else 300, random_state=0)
print(report)
report.plot(axes=axes[0, 1:])

print(f"\n3. Training at lr={result.suggested_lr:.3g} with the monitors on")
monitored = net.set_params(
    max_epochs=EPOCHS, n_iter_no_change=EPOCHS,
    callbacks=[GradientMonitor(), UpdateRatioMonitor(), ActivationMonitor()],
).fit(X_train, y_train)  # fmt: skip
print(f"test accuracy {monitored.score(X_test, y_test):.3f}")
last = monitored.history[-1]
for key in ("update_ratio", "grad_norm", "dead_units"):
    print(f"  last epoch's {key}: " + ", ".join(f"{k} {v:.2g}" for k, v in last[key].items()))
LossCurveDisplay.from_estimator(monitored, ax=axes[1, 0])
MonitorDisplay.from_estimator(monitored, "update_ratio", ax=axes[1, 1])
MonitorDisplay.from_estimator(monitored, "dead_units", ax=axes[1, 2])
axes[1, 1].set_title(f"update ratio per layer at lr={result.suggested_lr:.2g}")

print("\n4. A planted fault: a learning rate a hundred times the suggested one")
too_high = clone(net).set_params(lr=100 * result.suggested_lr, callbacks=[UpdateRatioMonitor()])
try:
    too_high.fit(X_train, y_train)
    ratios = too_high.history[0, "update_ratio"]
    print("  first epoch's update ratios: " + ", ".join(f"{v:.2g}" for v in ratios.values()))
except FloatingPointError as error:
    print(f"  {error}")

FIGURES.mkdir(parents=True, exist_ok=True)
fig.savefig(FIGURES / "plot_diagnostics.png", dpi=90)
