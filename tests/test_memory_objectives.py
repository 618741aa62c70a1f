"""The memory's two objectives, its diagnostics and its test-time update, on hand-made queries
and items whose expected values are worked out here by hand (plain floats, not the module)."""

from __future__ import annotations

import math

import pytest
import torch
from vadkit_mstinet.memory import MemoryBank

from vadkit.builder import build_model
from vadkit.errors import RecipeError
from vadkit.interfaces import MemoryOutput, ModelOutput
from vadkit.plugins import create_registry
from vadkit.recipe import load_recipe
from vadkit.training.diagnostics import MemoryDiagnostics
from vadkit.training.loss import compute_loss

REGISTRY = create_registry(autoload=False)
ITEMS = [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0)]  # p0, p1, p2 (unit vectors)
QA, QB = (0.6, 0.8), (0.28, -0.96)  # unit queries: q_a nearest p1 then p0; q_b nearest p0 then p2


def bank(objective: str, **kwargs) -> MemoryBank:
    memory = MemoryBank(channels=2, slots=3, objective=objective, **kwargs)
    memory.items = torch.tensor(ITEMS)
    return memory.eval()


def queries(*qs: tuple[float, float], scale: tuple[float, ...] = ()) -> torch.Tensor:
    """(1, 2, 1, len(qs)): one frame whose bottleneck row holds the queries (optionally scaled,
    since the memory L2-normalises them)."""
    scale = scale or (1.0,) * len(qs)
    return torch.tensor([[[[s * q[c] for q, s in zip(qs, scale)]] for c in range(2)]])


def dist(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


def softmax(xs: list[float]) -> list[float]:
    e = [math.exp(x) for x in xs]
    return [v / sum(e) for v in e]


def dot(a, b) -> float:
    return sum(x * y for x, y in zip(a, b))


def test_mnad_objective_equals_gather_and_triplet_by_hand() -> None:
    out = bank("mnad")(queries(QA, QB, scale=(2.0, 5.0)))
    assert set(out.losses) == {"gather", "triplet"}
    p0, p1, p2 = ITEMS
    # gather: squared distance to the nearest item over C = 2 channels, mean over queries
    gather = (dist(QA, p1) ** 2 / 2 + dist(QB, p0) ** 2 / 2) / 2  # (0.40/2 + 1.44/2) / 2 = 0.46
    triplet = (max(dist(QA, p1) - dist(QA, p0) + 1.0, 0) + max(dist(QB, p0) - dist(QB, p2) + 1.0, 0)) / 2
    assert gather == pytest.approx(0.46)
    assert float(out.losses["gather"]) == pytest.approx(gather, abs=1e-5)
    assert float(out.losses["triplet"]) == pytest.approx(triplet, abs=1e-5)
    # MNAD's own implementation is torch's TripletMarginLoss (eps 1e-6 inside the norm)
    q = torch.tensor([QA, QB])
    ref = torch.nn.TripletMarginLoss(margin=1.0)(q, torch.tensor([p1, p0]), torch.tensor([p0, p2]))
    assert float(out.losses["triplet"]) == pytest.approx(float(ref), abs=1e-5)
    # the per-frame distance D(q, p) of eq. 10 is the same squared distance per channel
    assert float(out.distance[0]) == pytest.approx(gather, abs=1e-5)


def test_mnad_margin_is_the_hinge() -> None:
    out = bank("mnad", margin=0.1)(queries(QA, QB))
    assert float(out.losses["triplet"]) == 0.0  # both d1 - d2 < -0.1: the hinge is closed


def test_paper_objective_equals_eq_7_and_8_by_hand() -> None:
    delta = 0.1
    out = bank("paper", delta=delta)(queries(QA, QB, scale=(3.0, 0.5)))
    assert set(out.losses) == {"separate", "compact"}
    entropies, hinges = [], []
    for q in (QA, QB):
        w = softmax([dot(q, p) for p in ITEMS])
        entropies.append(-sum(wi * math.log(wi) for wi in w))  # eq. 7
        read = [sum(wi * p[c] for wi, p in zip(w, ITEMS)) for c in range(2)]  # eq. 4
        cos = dot(read, q) / (math.sqrt(dot(read, read)) * math.sqrt(dot(q, q)))
        hinges.append(max(abs(cos) - delta, 0.0))  # eq. 8
    assert float(out.losses["separate"]) == pytest.approx(sum(entropies) / 2, abs=1e-5)
    assert float(out.losses["compact"]) == pytest.approx(sum(hinges) / 2, abs=1e-5)
    assert sum(hinges) > 0


def test_losses_reach_the_queries_not_the_items() -> None:
    for objective in ("paper", "mnad"):
        memory = bank(objective)
        q = queries(QA, QB).requires_grad_(True)
        out = memory(q)
        sum(out.losses.values()).backward()
        assert q.grad is not None and q.grad.abs().sum() > 0, objective
        assert not memory.items.requires_grad


def test_diagnostics_by_hand() -> None:
    out = bank("mnad")(queries(QA, QB))
    d = out.diagnostics
    ws = [softmax([dot(q, p) for p in ITEMS]) for q in (QA, QB)]
    assert float(d["entropy"]) == pytest.approx(sum(-sum(w * math.log(w) for w in ww) for ww in ws) / 2, abs=1e-5)
    assert float(d["top1"]) == pytest.approx((max(ws[0]) + max(ws[1])) / 2, abs=1e-5)
    assert d["nearest_counts"].tolist() == [1.0, 1.0, 0.0]
    assert float(d["nearest_distance"]) == pytest.approx((dist(QA, ITEMS[1]) + dist(QB, ITEMS[0])) / 2, abs=1e-5)


def _output(**diagnostics: list[float] | float) -> ModelOutput:
    memory = MemoryOutput(
        features=torch.zeros(1), distance=torch.zeros(1),
        diagnostics={k: torch.tensor(v, dtype=torch.float32) for k, v in diagnostics.items()},
    )
    return ModelOutput(prediction=torch.zeros(1), memory=memory)


def test_memory_diagnostics_accumulates_an_epoch() -> None:
    acc = MemoryDiagnostics()
    acc.update(_output(entropy=1.0, top1=0.5, nearest_distance=0.3, nearest_counts=[2, 0, 0, 0]).memory)
    acc.update(_output(entropy=2.0, top1=0.8, nearest_distance=0.6, nearest_counts=[0, 3, 1, 0]).memory)
    s = acc.summary()
    # scalars weighted by the queries of each step (2 then 4); usage = items ever nearest
    assert s["memory/entropy"] == pytest.approx((2 * 1.0 + 4 * 2.0) / 6)
    assert s["memory/top1"] == pytest.approx((2 * 0.5 + 4 * 0.8) / 6)
    assert s["memory/nearest_distance"] == pytest.approx((2 * 0.3 + 4 * 0.6) / 6)
    assert s["memory/usage"] == 3.0 and s["memory/items"] == 4.0
    acc.reset()
    assert acc.summary() == {}
    acc.update(MemoryOutput(features=torch.zeros(1), distance=torch.zeros(1)))  # no memory: nothing
    assert acc.summary() == {}
    acc.update(_output(entropy=1.0, nearest_counts=[1, 0], motion_entropy=0.5, motion_nearest_counts=[1, 1]).memory)
    assert acc.summary() == {"memory/entropy": 1.0, "memory/items": 2.0, "memory/motion_entropy": 0.5,
                             "memory/motion_items": 2.0, "memory/motion_usage": 2.0, "memory/usage": 1.0}


# -- test-time update ------------------------------------------------------------------------
def two_frames() -> torch.Tensor:
    """Frame 0: one query q_a (nearest p1); frame 1: one query q_b (nearest p0)."""
    return torch.cat([queries(QA), queries(QB)])


def normalise(v: list[float]) -> list[float]:
    n = math.sqrt(dot(v, v))
    return [x / n for x in v]


def test_update_with_an_all_false_mask_changes_nothing() -> None:
    memory = bank("mnad")
    before = memory.items.clone()
    assert memory.update_items(two_frames(), torch.tensor([False, False])) == 0
    assert torch.equal(memory.items, before)


def test_update_touches_only_items_nearest_to_masked_in_queries() -> None:
    memory = bank("mnad")
    before = memory.items.clone()
    assert memory.update_items(two_frames(), torch.tensor([True, False])) == 1
    assert torch.equal(memory.items[0], before[0]) and torch.equal(memory.items[2], before[2])
    # one query nearest p1: v = softmax over that single query / its max = 1
    expected = normalise([p + q for p, q in zip(ITEMS[1], QA)])
    torch.testing.assert_close(memory.items[1], torch.tensor(expected), atol=1e-6, rtol=0)

    memory = bank("mnad")
    memory.update_items(two_frames(), torch.tensor([False, True]))
    assert torch.equal(memory.items[1], before[1]) and torch.equal(memory.items[2], before[2])
    torch.testing.assert_close(memory.items[0], torch.tensor(normalise([p + q for p, q in zip(ITEMS[0], QB)])), atol=1e-6, rtol=0)


def test_update_weights_queries_by_softmax_over_queries_normalised_by_its_max() -> None:
    memory = bank("mnad")
    qc = (0.0, 1.0)  # nearest p1 with cos 1; q_a nearest p1 with cos 0.8
    memory.update_items(queries(QA, qc, scale=(4.0, 2.0)), torch.tensor([True]))
    v_a = math.exp(0.8 - 1.0)  # softmax_a / max softmax = exp(s_a - s_max)
    expected = normalise([p + v_a * a + c for p, a, c in zip(ITEMS[1], QA, qc)])
    torch.testing.assert_close(memory.items[1], torch.tensor(expected), atol=1e-6, rtol=0)
    assert torch.equal(memory.items[0], torch.tensor(ITEMS[0])) and torch.equal(memory.items[2], torch.tensor(ITEMS[2]))


def test_update_checks_the_mask_length_and_eval_forward_does_not_update() -> None:
    memory = bank("mnad")
    with pytest.raises(ValueError, match="normal_mask has 3 entries for a batch of 2"):
        memory.update_items(two_frames(), torch.tensor([True, False, True]))
    before = memory.items.clone()
    memory(two_frames())
    assert torch.equal(memory.items, before)  # eval mode, update_at_test false
    memory.train()(two_frames())
    assert not torch.equal(memory.items, before)  # training updates


def test_model_update_memory_uses_the_output_queries() -> None:
    small = ["model.appearance.widths=[4, 8, 8, 16]", "model.motion.widths=[4, 8, 8, 16]", "model.memory.slots=4"]
    model = build_model(load_recipe("mstinet", small), REGISTRY).eval()
    frames, flows = torch.rand(2, 4, 3, 32, 32) * 2 - 1, torch.randn(2, 4, 2, 32, 32)
    with torch.no_grad():
        out = model(frames, flows)
    before = model.memory.items.clone()
    assert model.update_memory(out, torch.tensor([False, False])) == 0
    assert torch.equal(model.memory.items, before)
    expected = MemoryBank(model.memory.channels, slots=4)  # the same update on the memory's own queries
    expected.items = before.clone()
    expected.update_items(out.memory.features[:, : model.memory.channels], torch.tensor([True, False]))
    assert model.update_memory(out, torch.tensor([True, False])) == 1
    assert not torch.equal(model.memory.items, before)
    torch.testing.assert_close(model.memory.items, expected.items)


# -- recipe options ---------------------------------------------------------------------------
def test_objective_is_validated_with_the_recipe_key() -> None:
    with pytest.raises(ValueError, match=r"objective must be one of 'paper', 'mnad', got 'mnda'"):
        MemoryBank(8, objective="mnda")
    with pytest.raises(RecipeError, match=r"key 'model.memory'.*objective must be one of 'paper', 'mnad', got 'bogus'"):
        build_model(load_recipe("mstinet", ['model.memory.objective="bogus"']), REGISTRY)
    with pytest.raises(ValueError, match="needs slots >= 2"):
        MemoryBank(8, slots=1, objective="mnad")
    MemoryBank(8, slots=1, objective="paper")


@pytest.mark.parametrize("objective", ["paper", "mnad"])
def test_the_recipe_weighs_every_loss_of_its_objective(objective: str) -> None:
    recipe = load_recipe("mstinet", [f'model.memory.objective="{objective}"'])
    weights = recipe.section("loss")["weights"]
    out = bank(objective)(queries(QA, QB))
    assert set(out.losses) <= set(weights) and all(weights[k] > 0 for k in out.losses)
    pred = torch.zeros(1, 3, 4, 4)
    total, terms = compute_loss(ModelOutput(prediction=pred, memory=out), torch.ones(1, 3, 4, 4), weights)
    expected = weights["intensity"] * 1.0 + sum(weights[k] * float(v) for k, v in out.losses.items())
    assert float(total) == pytest.approx(expected, rel=1e-6)


def test_mstinet_defaults_to_mnad_with_mnad_weights() -> None:
    recipe = load_recipe("mstinet")
    assert recipe.get("model.memory.objective") == "mnad"
    weights = recipe.section("loss")["weights"]
    assert weights["gather"] == pytest.approx(0.1) and weights["triplet"] == pytest.approx(0.1)


class MaskRecorder:
    """A model stand-in for the test-time updaters: records each mask it is handed."""

    def __init__(self) -> None:
        self.masks: list[list[bool]] = []

    def update_memory(self, output, mask) -> int:
        self.masks.append(mask.tolist())
        return int(mask.sum())


def test_eval_memory_update_touches_the_memory_only_with_frames_below_the_threshold() -> None:
    """[eval]/[detect] memory_update: the updater passes a mask of frames whose calibrated score is
    below the threshold, and the memory changes only when some frame is selected."""
    import numpy as np

    from vadkit.detect.memory_update import NormalFrameUpdater
    from vadkit.interfaces import MemoryOutput, ModelOutput
    from vadkit.scoring import Scorer, Statistic

    class Err(Scorer):
        statistics = (Statistic("err", "low"),)

        def stats(self, output, target):  # pragma: no cover - not used here
            raise AssertionError

        def regularity(self, stats):  # pragma: no cover
            raise AssertionError

        def protocol(self) -> str:
            return "err"

    scorer = Err()
    state = scorer.fit({"err": np.array([1.0, 2.0, 3.0])}, method="zscore")  # mean 2, std 0.816
    model = MaskRecorder()
    updater = NormalFrameUpdater(model, scorer, state, threshold=1.0)
    output = ModelOutput(prediction=torch.zeros(3, 1, 2, 2), memory=MemoryOutput(torch.zeros(3, 1, 1, 1), torch.zeros(3)))
    target = torch.zeros(3, 1, 2, 2)
    used = updater(output, target, {"err": np.array([1.5, 2.9, 5.0])})  # z = -0.61, 1.10, 3.67
    assert model.masks == [[True, False, False]] and used == 1
    assert updater(output, target, {"err": np.array([9.0, 9.0, 9.0])}) == 0
    assert model.masks[-1] == [False, False, False]
    assert updater.summary()["frames_used"] == 1 and updater.summary()["frames_seen"] == 6


def test_point_score_is_mnads_error_weighted_error_on_images_in_0_1() -> None:
    """MNAD's point_score: e = ((pred+1)/2 - (img+1)/2)^2, w = 1 - exp(-e), sum(w e) / sum(w);
    a perfect prediction scores 0 (MNAD's 0/0 would never update)."""
    from vadkit.detect.memory_update import point_score

    target = torch.zeros(2, 1, 1, 2)
    prediction = torch.tensor([[[[0.2, -0.6]]], [[[0.0, 0.0]]]])
    e = torch.tensor([0.1**2, 0.3**2])  # half the difference, squared
    w = 1 - torch.exp(-e)
    expected = (w * e).sum() / w.sum()
    scores = point_score(prediction, target)
    assert scores[0].item() == pytest.approx(expected.item(), rel=1e-6) and scores[1].item() == 0.0


def test_point_score_rule_updates_with_frames_below_mnads_threshold_without_calibration() -> None:
    """memory_update_rule = point_score: frames whose point score is below the threshold update
    the memory; no calibration is read, and the calibrated rule without one is refused."""
    import numpy as np

    from vadkit.config import EvalConfig
    from vadkit.detect.memory_update import make_updater

    target = torch.zeros(3, 3, 4, 4)
    prediction = torch.stack([torch.full((3, 4, 4), v) for v in (0.05, 0.5, -0.1)])  # e = 6e-4, 0.0625, 2.5e-3
    output = ModelOutput(prediction=prediction, memory=MemoryOutput(torch.zeros(3, 1, 1, 1), torch.zeros(3)))
    model = MaskRecorder()
    cfg = EvalConfig(memory_update=True, memory_update_rule="point_score", memory_update_point_score=0.01)
    updater = make_updater(model, None, cfg, calibration=None)  # type: ignore[arg-type]
    assert updater(output, target, {"psnr": np.zeros(3)}) == 2 and model.masks == [[True, False, True]]
    assert updater.summary()["threshold"] == 0.01 and updater.summary()["rule"].startswith("point_score")
    with pytest.raises(ValueError, match="calibration"):
        make_updater(model, None, EvalConfig(memory_update=True), calibration=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("objective", ["mnad", "paper"])
def test_read_grad_false_detaches_only_the_decoders_read(objective: str) -> None:
    """MNAD's detach: the same features and losses, but a loss on the read half of the decoder's
    input reaches the queries only when ``read_grad`` is on; the query half always does."""
    outs = {}
    for read_grad in (True, False):
        q = queries(QA, QB, scale=(2.0, 5.0)).requires_grad_(True)
        out = bank(objective, read_grad=read_grad)(q)
        read_half = out.features[:, 2:].sum()
        grad = torch.autograd.grad(read_half, q, allow_unused=True, retain_graph=True)[0]
        outs[read_grad] = (out, grad, q)
    (on, grad_on, _), (off, grad_off, q_off) = outs[True], outs[False]
    assert torch.equal(on.features, off.features)
    assert all(torch.equal(on.losses[k], off.losses[k]) for k in on.losses)
    assert grad_on is not None and float(grad_on.abs().sum()) > 1e-4
    assert grad_off is None or float(grad_off.abs().sum()) == 0.0
    loss_grad = torch.autograd.grad(sum(off.losses.values()), q_off)[0]  # the losses still train the queries
    assert float(loss_grad.abs().sum()) > 1e-4


def test_read_grad_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="read_grad must be true or false"):
        MemoryBank(8, read_grad="no")  # type: ignore[arg-type]


def test_item_init_uniform_is_mnads_positive_orthant_and_a_bad_init_is_refused() -> None:
    """``init = "uniform"``: MNAD's l2norm(U[0, 1)) items, all in the positive orthant and unit
    length; the default stays Gaussian (the items of every run trained before); an unknown
    init is one clear error."""
    uniform = MemoryBank(16, slots=10, init="uniform").items
    gaussian = MemoryBank(16, slots=10).items
    assert torch.allclose(uniform.norm(dim=1), torch.ones(10)) and bool((uniform >= 0).all())
    assert bool((gaussian < 0).any())
    mean_cos = lambda m: ((m @ m.T).sum() - m.shape[0]) / (m.shape[0] * (m.shape[0] - 1))  # noqa: E731
    assert mean_cos(uniform) > 0.5 > abs(mean_cos(gaussian))  # MNAD's items start close together
    with pytest.raises(ValueError, match="init must be one of 'gaussian', 'uniform'"):
        MemoryBank(16, init="zeros")
