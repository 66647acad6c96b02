"""skops is imported without its trip through PyTorch, and its allow-list comes out unchanged."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from tidal.models._skops import skops_io
skops_io()
from skops.io import _trusted_types
patched = sorted(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES)
torch_imported = "torch" in sys.modules
from sklearn.utils import all_estimators
from skops.io._utils import get_type_name
real = sorted(get_type_name(cls) for _, cls in all_estimators() if get_type_name(cls).startswith("sklearn."))
print(json.dumps({"patched": patched, "real": real, "torch": torch_imported}))
"""


def test_skops_allow_list_is_exactly_the_unpatched_one_and_torch_stays_out() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(found["real"]) > 150  # scikit-learn's public estimators
    assert found["patched"] == found["real"]
    assert not found["torch"]


def test_a_model_saved_and_loaded_through_the_shim_round_trips(tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    from tidal.models import ModelPackage

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    folder = ModelPackage(model=model, task="binary", features=["x"]).save(tmp_path / "pkg")
    loaded = ModelPackage.load(folder)
    assert loaded.model.predict([[2.5]]).tolist() == [1]
