"""Flow estimators, the float16 memory-mapped cache (keys, reuse, atomic writes) and flow clips."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from vadkit_data.datasets import FramesDataset
from vadkit_data.flow import DISFlow, FarnebackFlow

import vadkit
from vadkit.data import ClipDataset, FlowCache, flow_settings, make_flow, resize_flow
from vadkit.errors import RecipeError
from vadkit.recipe import recipe_from_dict


def texture(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low = cv2.resize(rng.uniform(0, 255, (h // 8, w // 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.repeat(np.clip(low, 0, 255).astype(np.uint8)[..., None], 3, -1)


def shifted(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    return np.roll(np.roll(img, dy, 0), dx, 1)


@pytest.mark.parametrize("est", [DISFlow("fast"), DISFlow("medium"), FarnebackFlow()])
def test_flow_direction_and_units(est):
    a = texture()
    b = shifted(a, 3, -2)  # content moves right 3 px and up 2 px
    flow = est(a, b)
    assert flow.shape == (64, 96, 2) and flow.dtype == np.float32
    centre = flow[16:-16, 16:-16].reshape(-1, 2)
    assert np.median(centre[:, 0]) == pytest.approx(3, abs=0.5)
    assert np.median(centre[:, 1]) == pytest.approx(-2, abs=0.5)


def test_estimators_pickle_and_keys():
    est = pickle.loads(pickle.dumps(DISFlow("fast")))
    est(texture(), texture())  # builds the OpenCV object in the new process/copy
    pickle.dumps(est)  # and still pickles after use
    assert DISFlow("fast").cache_key() != DISFlow("medium").cache_key()
    assert FarnebackFlow(winsize=9).cache_key() != FarnebackFlow().cache_key()
    with pytest.raises(ValueError, match="preset"):
        DISFlow("slow")


def test_resize_flow_scales_vectors():
    flow = np.zeros((40, 60, 2), np.float32)
    flow[..., 0], flow[..., 1] = 6.0, -4.0
    out = resize_flow(flow, (20, 15))
    assert out.shape == (2, 20, 15)
    assert np.allclose(out[0], 6.0 * 15 / 60) and np.allclose(out[1], -4.0 * 20 / 40)


def test_make_flow_from_recipe():
    reg = vadkit.default_registry()
    assert make_flow(reg).cache_key()["preset"] == "fast"
    est = make_flow(reg, recipe_from_dict({"flow": {"type": "farneback", "winsize": 9, "scale": 4.0}}))
    assert isinstance(est, FarnebackFlow) and est.params["winsize"] == 9
    assert make_flow(reg, recipe_from_dict({"flow": {"preset": "ultrafast"}})).preset == "ultrafast"
    with pytest.raises(RecipeError, match="flow"):
        make_flow(reg, recipe_from_dict({"flow": {"type": "dis", "preset": "slow"}}))
    with pytest.raises(RecipeError, match="flow.presett"):
        make_flow(reg, recipe_from_dict({"flow": {"type": "dis", "presett": "fast"}}))
    s = flow_settings(recipe_from_dict({"flow": {"scale": 4, "clip": 2.5}}))
    assert (s["scale"], s["clip"]) == (4.0, 2.5)
    with pytest.raises(RecipeError, match="flow.scale"):
        flow_settings(recipe_from_dict({"flow": {"scale": 0}}))


class Counting:
    """A DIS wrapper that counts calls and can fail after ``fail_after`` calls (a killed run)."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.inner, self.calls, self.fail_after = DISFlow("ultrafast"), 0, fail_after

    def __call__(self, a, b):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt("killed")
        return self.inner(a, b)

    def cache_key(self):
        return self.inner.cache_key()


def moving_dataset(tmp_path: Path, n: int = 8, videos: int = 2) -> Path:
    root = tmp_path / "moving"
    base = texture(48, 64)
    for v in range(videos):
        d = root / "training" / "frames" / f"{v + 1:02d}"
        d.mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(d / f"{i:03d}.png"), shifted(base, 2 * i * (v + 1), 0))
    return root


def test_cache_roundtrip_reuse_and_keys(tmp_path):
    root = moving_dataset(tmp_path)
    video = FramesDataset(root).videos("training")[0]
    cache = FlowCache(tmp_path / "cache")
    est = Counting()
    flows = cache.ensure(root, video, est, (24, 32))
    assert isinstance(flows, np.memmap) and flows.dtype == np.float16 and flows.shape == (8, 2, 24, 32)
    assert est.calls == 7 and not flows[0].any()
    # flows[k] = flow from frame k-1 to k: content moves 2 px right at 64 wide -> 1 px at 32 wide
    assert np.median(flows[3, 0, 6:-6, 6:-6]) == pytest.approx(1.0, abs=0.2)
    assert np.abs(np.median(flows[3, 1])) < 0.2
    again = cache.ensure(root, video, est, (24, 32))
    assert est.calls == 7 and np.array_equal(np.asarray(again), np.asarray(flows))  # reused, not recomputed
    cache.ensure(root, video, est, (12, 16))
    assert est.calls == 14  # another resolution is another entry
    other = FlowCache(tmp_path / "cache")  # a new run finds the same entries
    assert other.path(root, video, est, (24, 32)) == cache.path(root, video, est, (24, 32))
    assert cache.path(root, video, est, (24, 32)) != cache.path(root, video, DISFlow("medium"), (24, 32))
    assert cache.path(root, video, est, (24, 32)) != cache.path(tmp_path, video, est, (24, 32))


def test_killed_run_leaves_nothing_valid(tmp_path):
    root = moving_dataset(tmp_path)
    video = FramesDataset(root).videos("training")[0]
    cache = FlowCache(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):
        cache.ensure(root, video, Counting(fail_after=3), (24, 32))
    assert not list((tmp_path / "cache").glob("*.npy")) and not list((tmp_path / "cache").glob(".*tmp"))
    # a damaged entry (e.g. truncated by a full disk) is recomputed, not read
    path = cache.path(root, video, Counting(), (24, 32))
    cache.ensure(root, video, Counting(), (24, 32))
    path.write_bytes(path.read_bytes()[:200])
    est = Counting()
    assert cache.ensure(root, video, est, (24, 32)).shape == (8, 2, 24, 32) and est.calls == 7


def test_precompute_parallel_and_clip_flows(tmp_path):
    root = moving_dataset(tmp_path, n=7, videos=3)
    videos = FramesDataset(root).videos("training")
    cache = FlowCache(tmp_path / "cache")
    est = DISFlow("ultrafast")
    cache.precompute(videos, est, (24, 32), workers=2, console=None)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3
    cached = ClipDataset(videos, frames=3, resolution=(24, 32), flow=est, cache=cache, flow_scale=2.0)
    live = ClipDataset(videos, frames=3, resolution=(24, 32), flow=est, flow_scale=2.0)
    for i in (0, 4, len(cached) - 1):
        a, b = cached[i]["flows"].numpy(), live[i]["flows"].numpy()
        assert a.shape == (3, 2, 24, 32) and a.dtype == np.float32
        assert np.allclose(a, b, atol=0.01)
    # sample 0 has target frame 3: its flows are into frames 0, 1, 2; the flow into frame 0 is zero
    s = cached[0]["flows"].numpy()
    assert not s[0].any() and np.median(s[1, 0, 6:-6, 6:-6]) == pytest.approx(0.5, abs=0.1)  # 1 px / scale 2
    clipped = ClipDataset(videos[2:], frames=3, resolution=(24, 32), flow=est, cache=cache, flow_scale=1.0, flow_clip=1.0)
    assert clipped[0]["flows"].abs().max() <= 1.0 and np.median(clipped[0]["flows"][1, 0]) == pytest.approx(1.0)


def test_flow_cli(tmp_path, capsys):
    from vadkit.cli import main

    root = moving_dataset(tmp_path, n=6, videos=2)
    recipe = tmp_path / "r.toml"
    recipe.write_text('[model]\nresolution = [16, 16]\n[flow]\ntype = "dis"\npreset = "ultrafast"\n')
    rc = main(["flow", "--data", str(root), "--recipe", str(recipe), "--workers", "1",
               "--split", "training", "--cache", str(tmp_path / "c")])
    assert rc == 0
    files = sorted((tmp_path / "c").glob("*.npy"))
    assert len(files) == 2 and np.load(files[0], mmap_mode="r").shape == (6, 2, 16, 16)
    assert main(["flow", "--data", str(tmp_path / "missing"), "--recipe", str(recipe)]) == 2


def test_raft_loads_only_a_local_file(tmp_path):
    import torch
    from torchvision.models.optical_flow import raft_small
    from vadkit_data.flow import RAFTFlow

    from vadkit.errors import DataError

    with pytest.raises(ValueError, match="not found"):
        RAFTFlow(weights=str(tmp_path / "none.pth"))
    torch.manual_seed(0)
    torch.save(raft_small(weights=None).state_dict(), tmp_path / "raft.pth")
    est = RAFTFlow(weights=str(tmp_path / "raft.pth"), iters=2)
    flow = est(texture(36, 44), texture(36, 44, seed=1))  # padded to multiples of 8 internally
    assert flow.shape == (36, 44, 2) and flow.dtype == np.float32 and est.cache_key()["method"] == "raft"
    torch.save({"nope": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(DataError, match="do not match"):
        RAFTFlow(weights=str(tmp_path / "bad.pth"))(texture(), texture())
