"""Fails loudly, naming the name, when a release of scikit-learn, skorch or torch removes a
private name ensemblekit relies on (all listed in ``ensemblekit/utils/_private.py``)."""

import importlib
import pathlib
import re

import pytest
import skorch
import torch
from sklearn.base import BaseEstimator

import ensemblekit
from ensemblekit.nets import NeuralNetClassifier, NeuralNetRegressor
from ensemblekit.utils import _private


def _owner(package: str, name: str):
    """An instance of the class (instance attributes count), or the class itself."""
    if (package, name) == ("skorch", "NeuralNet"):
        return skorch.NeuralNet(module=torch.nn.Linear, criterion=torch.nn.MSELoss)
    if (package, name) == ("torch", "Tensor"):
        return torch.zeros(1)
    from sklearn.model_selection._search import BaseSearchCV
    from sklearn.model_selection._search_successive_halving import BaseSuccessiveHalving

    return {
        "BaseEstimator": BaseEstimator,
        "BaseSearchCV": BaseSearchCV,
        "BaseSuccessiveHalving": BaseSuccessiveHalving,
    }[name]


@pytest.mark.parametrize("key", sorted(_private.PRIVATE_MEMBERS), ids="-".join)
def test_private_members_still_exist(key):
    package, owner, name = key
    assert hasattr(_owner(package, owner), name), (
        f"{package} no longer has {owner}.{name}; see why ensemblekit uses it in "
        f"ensemblekit/utils/_private.py: {_private.PRIVATE_MEMBERS[key]}"
    )


@pytest.mark.parametrize("name", [n for n in _private.__all__ if n != "PRIVATE_MEMBERS"])
def test_private_imports_resolve(name):
    assert getattr(_private, name) is not None


@pytest.mark.parametrize("net", [NeuralNetClassifier, NeuralNetRegressor])
def test_nets_have_what_skorch_constructor_would_set(net):
    # Our constructor stores parameters only; whatever else skorch's constructor sets on
    # an instance, skorch's methods may read, so our nets must have it (as a class
    # default or from our constructor).
    theirs = vars(skorch.NeuralNet(module=torch.nn.Linear, criterion=torch.nn.MSELoss))
    ours = net()
    missing = sorted(name for name in theirs if not hasattr(ours, name))
    assert not missing, f"skorch's NeuralNet.__init__ now sets {missing}, which our nets lack"


_IMPORT = re.compile(r"^from (sklearn|skorch|torch)(\S*) import (\([^)]*\)|[^\n]*)", re.MULTILINE)


def _private_imports(source: str) -> list[str]:
    found = []
    for package, module, names in _IMPORT.findall(source):
        imported = [part.split(" as ")[0].strip() for part in names.strip("()").split(",")]
        private_module = any(part.startswith("_") for part in module.split("."))
        found += [
            f"{package}{module}.{name}"
            for name in imported
            if name and (private_module or name.startswith("_"))
        ]
    return found


def test_no_private_name_is_imported_outside_the_private_module():
    root = pathlib.Path(ensemblekit.__file__).parent
    offenders = {
        str(path.relative_to(root)): _private_imports(path.read_text())
        for path in root.rglob("*.py")
        if path.name != "_private.py"
    }
    offenders = {path: names for path, names in offenders.items() if names}
    assert not offenders, f"import these through ensemblekit/utils/_private.py: {offenders}"
    assert _private_imports("from sklearn.utils import _safe_indexing, check_array")
    assert _private_imports("from torch.utils._pytree import (\n    tree_map,\n)")


def test_the_private_module_imports():
    importlib.reload(_private)
