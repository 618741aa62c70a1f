"""Every registered model component against its kind's interface: forward, backward, no NaN,
output shapes as declared. Built-ins and the example plugin, with small widths and inputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from _helpers import example_plugin
from torch import Tensor, nn

from vadkit.builder import instantiate
from vadkit.interfaces import Attention, Decoder, Encoder, Fusion, Memory, MemoryOutput, ModelOutput, Scorer
from vadkit.plugins import create_registry
from vadkit.recipe import recipe_from_dict

REGISTRY = create_registry(plugins=[example_plugin()], autoload=False)
MODEL_KINDS = ("encoder", "attention", "fusion", "memory", "decoder", "scorer")
# Small user options per component (everything else at its defaults).
SMALL: dict[str, dict[str, Any]] = {
    "conv_encoder": {"widths": [8, 16, 32, 64]},
    "timm_encoder": {"model_name": "resnet10t"},
    "cross_attention": {"heads": 2, "head_dim": 4, "tokens": 4},
}
CASES = [(s.kind, s.name) for kind in MODEL_KINDS for s in REGISTRY.list(kind=kind)]


def build(kind: str, name: str, **derived: Any) -> Any:
    """Through the builder, exactly as a recipe would (derived arguments filtered by signature)."""
    table = {"type": name, **SMALL.get(name, {})}
    return instantiate(REGISTRY, kind, table, recipe_from_dict({}), f"test.{kind}", **derived)


def finite(t: Tensor) -> bool:
    return bool(torch.isfinite(t).all())


def backward_ok(module: nn.Module, loss: Tensor, *inputs: Tensor) -> None:
    """Backward runs, every gradient is finite, and something received a gradient."""
    loss.backward()
    grads = [p.grad for p in module.parameters() if p.grad is not None] + [x.grad for x in inputs if x.grad is not None]
    assert grads, "no gradient reached the parameters or the inputs"
    assert all(finite(g) for g in grads)
    params = [p for p in module.parameters() if p.requires_grad]
    if params:
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)


def check_encoder(name: str) -> None:
    enc = build("encoder", name, in_channels=6)
    assert isinstance(enc, Encoder)
    if enc.disabled:
        assert len(enc.stages) == 0 and tuple(enc.channels) == ()
        return
    assert len(enc.stages) == len(enc.channels) == len(enc.strides) >= 2
    x = torch.randn(2, 6, 64, 64, requires_grad=True)
    h, feats = x, []
    for stage in enc.stages:
        h = stage(h)
        feats.append(h)
    for f, c, s in zip(feats, enc.channels, enc.strides):
        assert tuple(f.shape) == (2, c, 64 // s, 64 // s) and finite(f)
    assert [tuple(f.shape) for f in enc(x.detach())] == [tuple(f.shape) for f in feats]
    backward_ok(enc, sum(f.float().pow(2).mean() for f in feats), x)


def check_attention(name: str) -> None:
    att = build("attention", name, channels=16)
    assert isinstance(att, Attention)
    x = torch.randn(2, 16, 8, 8, requires_grad=True)
    y = att(x)
    assert y.shape == x.shape and finite(y)
    backward_ok(att, y.pow(2).mean(), x)


def check_fusion(name: str) -> None:
    attention = build("attention", "channel_attention", channels=6)
    fusion = build("fusion", name, appearance_channels=8, motion_channels=6, attention=attention)
    assert isinstance(fusion, Fusion)
    assert (fusion.appearance_channels, fusion.motion_channels) == (8, 6)
    a = torch.randn(2, 8, 16, 16, requires_grad=True)
    m = torch.randn(2, 6, 16, 16, requires_grad=True)
    y = fusion(a, m)
    assert y.shape == a.shape and finite(y)
    backward_ok(fusion, y.pow(2).mean(), a, m)
    if getattr(fusion, "needs_motion", True):
        assert m.grad is not None and m.grad.abs().sum() > 0, "a fusion that needs motion must use it"
    else:
        assert fusion(a.detach(), None).shape == a.shape


def check_memory(name: str) -> None:
    memory = build("memory", name, channels=16)
    assert isinstance(memory, Memory) and memory.channels == 16
    for training in (True, False):
        memory.train(training)
        q = torch.randn(2, 16, 4, 4, requires_grad=True)
        out = memory(q)
        assert isinstance(out, MemoryOutput)
        assert tuple(out.features.shape) == (2, memory.out_channels, 4, 4) and finite(out.features)
        assert tuple(out.distance.shape) == (2,) and finite(out.distance)
        for loss_name, loss in out.losses.items():
            assert loss.dim() == 0 and finite(loss), loss_name
        if out.weights is not None:
            assert tuple(out.weights.shape[:3]) == (2, 4, 4)
            assert torch.allclose(out.weights.sum(-1), torch.ones(2, 4, 4), atol=1e-5)
        backward_ok(memory, out.features.pow(2).mean() + sum(out.losses.values(), torch.zeros(())), q)


def check_decoder(name: str) -> None:
    channels = (8, 16, 32, 64)
    decoder = build("decoder", name, encoder_channels=channels, in_channels=128, out_channels=3)
    assert isinstance(decoder, Decoder)
    skips = [torch.randn(2, c, 32 // 2**i, 32 // 2**i, requires_grad=True) for i, c in enumerate(channels[:-1])]
    x = torch.randn(2, 128, 4, 4, requires_grad=True)
    y = decoder(x, skips, (32, 32))
    assert tuple(y.shape) == (2, 3, 32, 32) and finite(y)
    assert y.min() >= -1 and y.max() <= 1, "the predicted frame must lie in [-1, 1]"
    backward_ok(decoder, y.pow(2).mean(), x, *skips)


def check_scorer(name: str) -> None:
    scorer = build("scorer", name)
    assert isinstance(scorer, Scorer)
    target = torch.rand(5, 3, 16, 16) * 2 - 1
    output = ModelOutput(
        prediction=(target + 0.1 * torch.randn_like(target)).clamp(-1, 1),
        memory=MemoryOutput(features=torch.zeros(5, 4, 2, 2), distance=torch.rand(5)),
    )
    stats = scorer.stats(output, target)
    assert set(stats) == set(scorer.stat_names)
    assert all(tuple(v.shape) == (5,) and finite(v) for v in stats.values())
    arrays = {k: v.numpy().astype(np.float64) for k, v in stats.items()}
    regularity = scorer.regularity(arrays)
    assert regularity.shape == (5,) and np.isfinite(regularity).all()
    assert regularity.min() >= 0 and regularity.max() <= 1
    assert all(s.normal in ("high", "low") for s in scorer.statistics)
    assert isinstance(scorer.protocol(), str) and scorer.protocol()
    state = scorer.fit(arrays)
    json.dumps(state)  # the calibration state is stored in calibration.json
    anomaly = scorer.anomaly(arrays, state)
    assert anomaly.shape == (5,) and np.isfinite(anomaly).all()
    # frame-wise (causal): one frame's score does not depend on the others
    one = scorer.anomaly({k: v[2:3] for k, v in arrays.items()}, state)
    np.testing.assert_allclose(one, anomaly[2:3], rtol=1e-9, atol=1e-12)


CHECKS: dict[str, Callable[[str], None]] = {
    "encoder": check_encoder,
    "attention": check_attention,
    "fusion": check_fusion,
    "memory": check_memory,
    "decoder": check_decoder,
    "scorer": check_scorer,
}


def test_every_model_kind_has_a_check_and_components() -> None:
    assert set(CHECKS) == set(MODEL_KINDS)
    assert {kind for kind, _ in CASES} == set(MODEL_KINDS)
    assert ("fusion", "gated") in CASES and ("encoder", "timm_encoder") in CASES


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}:{n}" for k, n in CASES])
def test_component_conforms(kind: str, name: str) -> None:
    torch.manual_seed(0)
    CHECKS[kind](name)
