"""Every registered dataset layout and flow estimator against the core's data contracts
(vadkit.data.DatasetLayout / FlowEstimator), parametrised over the whole registry."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from vadkit.builder import instantiate
from vadkit.data import DatasetLayout, FlowEstimator, detect_layout
from vadkit.errors import DataError, RecipeError
from vadkit.plugins import create_registry
from vadkit.recipe import recipe_from_dict

REGISTRY = create_registry(autoload=False)
DATASETS = REGISTRY.names("dataset")
FLOWS = REGISTRY.names("flow")
NEEDS_FILE = {"raft": "weights"}  # estimators that need a local file the user names


def test_first_party_data_components_are_registered() -> None:
    assert {"frames", "ucsd", "video_files", "shanghaitech"} <= set(DATASETS)
    assert {"dis", "farneback", "raft"} <= set(FLOWS)


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_layout_contract(name: str, tmp_path: Path) -> None:
    cls = REGISTRY.get("dataset", name).load()
    assert issubclass(cls, DatasetLayout) or all(callable(getattr(cls, m, None)) for m in ("videos", "check", "summary"))
    assert cls.recognises(tmp_path) == 0, "an empty folder is no layout"
    assert isinstance(cls.expects(), str) and cls.expects()


def test_auto_detection_asks_every_layout(tmp_path: Path) -> None:
    (tmp_path / "training" / "frames" / "01").mkdir(parents=True)
    assert detect_layout(tmp_path, REGISTRY) == "frames"
    with pytest.raises(DataError, match="cannot detect the dataset layout") as err:
        detect_layout(tmp_path / "training", REGISTRY)
    for name in DATASETS:  # the message lists what every registered layout expects
        assert f"{name}:" in str(err.value)


def _frames() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    prev = (rng.random((32, 48, 3)) * 255).astype(np.uint8)
    nxt = np.roll(prev, 2, axis=1)
    return prev, nxt


@pytest.mark.parametrize("name", FLOWS)
def test_flow_estimator_contract(name: str) -> None:
    recipe = recipe_from_dict({})
    if name in NEEDS_FILE:
        with pytest.raises(RecipeError, match=NEEDS_FILE[name]):
            instantiate(REGISTRY, "flow", {"type": name}, recipe, "flow")
        return
    est = instantiate(REGISTRY, "flow", {"type": name}, recipe, "flow")
    assert isinstance(est, FlowEstimator) or callable(est)
    prev, nxt = _frames()
    flow = est(prev, nxt)
    assert flow.shape == (32, 48, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()
    assert np.median(flow[8:24, 8:40, 0]) > 0.5, "a shift of 2 px to the right is rightward flow"
    key = est.cache_key()
    assert isinstance(key, dict) and key.get("method") and json.dumps(key)
    again = pickle.loads(pickle.dumps(est))  # flow runs in worker processes
    np.testing.assert_allclose(again(prev, nxt), flow, atol=1e-5)
