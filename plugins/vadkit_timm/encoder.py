"""Any timm CNN as a vadkit stream, split into per-level stages so fusions act between them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import timm
from torch import nn

from vadkit.interfaces import Encoder

# One step of a features_only net: the module to run and whether its output is a feature level.
Step = tuple[nn.Module, bool]


def _feature_dict_steps(net: nn.Module) -> list[Step] | None:
    """FeatureListNet / FeatureDictNet (resnet, convnext, regnet, ...): a ModuleDict run in
    order, with ``return_layers`` naming the modules whose outputs are features."""
    taps = getattr(net, "return_layers", None)
    if not isinstance(net, nn.ModuleDict) or not isinstance(taps, dict):
        return None
    return [(module, name in taps) for name, module in net.items()]


def _block_stack_steps(net: nn.Module) -> list[Step] | None:
    """EfficientNetFeatures / MobileNetV3Features: stem modules, then ``blocks[i]``, with
    ``_stage_out_idx`` holding the tapped positions (0 = stem, i + 1 = after ``blocks[i]``)."""
    out_idx = getattr(net, "_stage_out_idx", None)
    blocks = getattr(net, "blocks", None)
    if out_idx is None or blocks is None or getattr(net, "feature_hooks", None) is not None:
        return None
    stem = [m for name, m in net.named_children() if name not in ("blocks", "feature_hooks")]
    steps: list[Step] = [(m, i == len(stem) - 1 and 0 in out_idx) for i, m in enumerate(stem)]
    steps += [(block, i + 1 in out_idx) for i, block in enumerate(blocks)]
    return steps


SPLITTERS: tuple[Callable[[nn.Module], list[Step] | None], ...] = (_feature_dict_steps, _block_stack_steps)


def split_stages(net: nn.Module) -> list[nn.Sequential]:
    """Cut a timm features_only net into one ``nn.Sequential`` per feature level."""
    for splitter in SPLITTERS:
        steps = splitter(net)
        if steps is not None:
            break
    else:
        raise ValueError(
            f"cannot split timm feature net {type(net).__name__} into stages; use a CNN whose "
            "features_only net is a FeatureListNet (resnet*, convnext*, regnet*, ...) or an "
            "EfficientNet/MobileNetV3 without feature hooks"
        )
    stages: list[nn.Sequential] = []
    pending: list[nn.Module] = []
    for module, tap in steps:
        pending.append(module)
        if tap:
            stages.append(nn.Sequential(*pending))
            pending = []
    return stages


def _local_weights(weights: str) -> dict:
    """timm's ``pretrained_cfg_overlay`` that loads ``weights`` from disk and nothing else."""
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ValueError(f"weights file not found: '{weights}' (timm_encoder never downloads weights)")
    # Blank every remote source so timm's loader can only take the local file; timm reads it
    # with safetensors (.safetensors) or torch.load(weights_only=True).
    return {"file": str(path.resolve()), "url": "", "hf_hub_id": None, "source": ""}


class TimmEncoder(Encoder):
    """A timm CNN (``features_only``) as a stream: one stage per level in ``out_indices``.

    ``weights`` is a local checkpoint (.safetensors or a torch state dict) for the full
    classification model; timm adapts the first conv to ``in_channels`` and drops the head.
    Without it the network starts from random weights. Nothing is ever downloaded.
    """

    def __init__(
        self,
        in_channels: int,
        model_name: str = "resnet18",
        weights: str | None = None,
        out_indices: Sequence[int] = (0, 1, 2, 3),
        drop_path_rate: float | None = None,
    ) -> None:
        super().__init__()
        kwargs: dict[str, Any] = {"drop_path_rate": drop_path_rate} if drop_path_rate is not None else {}
        if weights:
            kwargs["pretrained_cfg_overlay"] = _local_weights(weights)
        try:
            net = timm.create_model(
                model_name,
                pretrained=bool(weights),
                features_only=True,
                in_chans=in_channels,
                out_indices=tuple(int(i) for i in out_indices),
                **kwargs,
            )
        except RuntimeError as exc:  # timm reports unknown names and bad checkpoints as RuntimeError
            raise ValueError(f"timm could not create '{model_name}': {exc}") from None
        self.stages = nn.ModuleList(split_stages(net))
        info: Any = net.feature_info
        self.channels = tuple(int(c) for c in info.channels())
        self.strides = tuple(int(r) for r in info.reduction())
        if len(self.stages) != len(self.channels):
            raise ValueError(f"'{model_name}' split into {len(self.stages)} stages for {len(self.channels)} levels")
        self.in_channels = in_channels
        self.model_name = model_name
