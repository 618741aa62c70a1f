"""What a built model is made of: one row per component with its plugin, parameter count,
output shape and FLOPs, from one dry forward pass; rendered as a rich tree or a JSON dict."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from rich.tree import Tree
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from .interfaces import Attention, count_parameters
from .registry import Registry, RegistryError

# The roles of an assembled model's top-level components, in data-flow order, and their kind.
ROLES: tuple[tuple[str, str], ...] = (
    ("appearance", "encoder"),
    ("motion", "encoder"),
    ("fusions", "fusion"),
    ("join_proj", "join"),
    ("memory", "memory"),
    ("decoder", "decoder"),
)


@dataclass
class ComponentRow:
    """One component of the tree. ``path`` is its attribute path in the model."""

    path: str
    kind: str
    name: str
    plugin: str | None
    distribution: str | None
    params: int
    output_shape: Any = None
    gflops: float | None = None
    children: list[ComponentRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "children": [c.as_dict() for c in self.children]}


@dataclass
class ModelSummary:
    """The component tree plus whole-model totals for one input size."""

    components: list[ComponentRow]
    total_params: int
    trainable_params: int
    gflops_per_frame: float
    input_shapes: dict[str, list[int]]
    batch: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "components": [c.as_dict() for c in self.components],
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "gflops_per_frame": self.gflops_per_frame,
            "input_shapes": self.input_shapes,
            "batch": self.batch,
        }


def shape_of(value: Any) -> Any:
    """Shapes of a forward output: a tensor's shape, a list of them, or a dataclass's tensors."""
    if isinstance(value, Tensor):
        return list(value.shape)
    if isinstance(value, (list, tuple)):
        return [shape_of(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {
            f.name: shape_of(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if isinstance(getattr(value, f.name), Tensor)
        }
    return None


def _provider(registry: Registry | None, kind: str, module: nn.Module) -> tuple[str, str | None, str | None]:
    """(name, plugin, distribution): the registered name if the builder set one, else the class."""
    name = getattr(module, "registry_name", None)
    if name is None or registry is None:
        return name or type(module).__name__, None, None
    try:
        spec = registry.get(kind, name)
    except RegistryError:
        return name, None, None
    return name, spec.plugin, spec.distribution


def _rows(model: nn.Module, registry: Registry | None) -> list[tuple[ComponentRow, nn.Module]]:
    """Top-level rows (with attention children) paired with their modules, in ``ROLES`` order."""
    out: list[tuple[ComponentRow, nn.Module]] = []
    for attr, kind in ROLES:
        value = getattr(model, attr, None)
        if value is None or isinstance(value, nn.Identity):
            continue
        items = (
            [(f"{attr}.{i}", m) for i, m in enumerate(value)] if isinstance(value, nn.ModuleList) else [(attr, value)]
        )
        for path, module in items:
            name, plugin, dist = _provider(registry, kind, module)
            row = ComponentRow(path, kind, name, plugin, dist, count_parameters(module))
            for child_name, child in module.named_children():
                if isinstance(child, Attention):
                    c_name, c_plugin, c_dist = _provider(registry, "attention", child)
                    row.children.append(
                        ComponentRow(
                            f"{path}.{child_name}", "attention", c_name, c_plugin, c_dist, count_parameters(child)
                        )
                    )
            out.append((row, module))
    return out


def _hook_targets(module: nn.Module) -> list[nn.Module]:
    """Encoders are run stage by stage, so their stages are hooked; anything else itself."""
    stages = getattr(module, "stages", None)
    return list(stages) if isinstance(stages, nn.ModuleList) else [module]


def dry_inputs(model: nn.Module, batch: int, height: int, width: int) -> dict[str, Tensor]:
    """Random frames in [-1, 1] (and flows when the model has a motion stream)."""
    frames = getattr(model, "frames", 4)
    inputs = {"frames": torch.rand(batch, frames, getattr(model, "image_channels", 3), height, width) * 2 - 1}
    if getattr(model, "uses_motion", False):
        inputs["flows"] = torch.randn(batch, frames, 2, height, width)
    return inputs


def summarize(
    model: nn.Module, resolution: tuple[int, int], registry: Registry | None = None, batch: int = 1
) -> ModelSummary:
    """Run one dry forward pass (eval mode, no grad) and collect the component tree.

    GFLOPs per frame are torch.utils.flop_counter's count (a multiply-add is 2 FLOPs) for the
    whole forward, divided by ``batch``.
    """
    rows = _rows(model, registry)
    shapes: dict[str, list[Any]] = {}
    handles = []
    for row, module in rows:
        targets = _hook_targets(module)
        shapes[row.path] = [None] * len(targets)
        for i, target in enumerate(targets):

            def hook(_m: nn.Module, _inp: Any, output: Any, path: str = row.path, i: int = i) -> None:
                shapes[path][i] = shape_of(output)

            handles.append(target.register_forward_hook(hook))
    inputs = dry_inputs(model, batch, *resolution)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(**inputs)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    counts = counter.get_flop_counts()
    root = type(model).__name__
    names = {id(m): n for n, m in model.named_modules()}

    def gflops(paths: list[str]) -> float:
        return sum(sum(counts.get(f"{root}.{p}", {}).values()) for p in paths) / batch / 1e9

    for row, module in rows:
        got = shapes[row.path]
        row.output_shape = got[0] if len(got) == 1 and getattr(module, "stages", None) is None else got
        row.gflops = gflops([names[id(t)] for t in _hook_targets(module)])
        for child in row.children:
            child.gflops = gflops([child.path])
    return ModelSummary(
        components=[row for row, _ in rows],
        total_params=count_parameters(model),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        gflops_per_frame=counter.get_total_flops() / batch / 1e9,
        input_shapes={k: list(v.shape) for k, v in inputs.items()},
        batch=batch,
    )


def _fmt_params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n:,}"


def _fmt_shape(shape: Any) -> str:
    if isinstance(shape, dict):
        return ", ".join(f"{k} {_fmt_shape(v)}" for k, v in shape.items())
    if isinstance(shape, list) and shape and isinstance(shape[0], int):
        return "(" + ", ".join(str(s) for s in shape) + ")"
    if isinstance(shape, list):
        return " ".join(_fmt_shape(s) for s in shape)
    return "-"


def _label(row: ComponentRow) -> str:
    source = f" [dim]from {row.plugin} ({row.distribution})[/]" if row.plugin else ""
    flops = f"  {row.gflops:.2f} GFLOPs" if row.gflops else ""
    shape = f"  -> {_fmt_shape(row.output_shape)}" if row.output_shape is not None else ""
    return (
        f"[bold]{row.path}[/]: [cyan]{row.kind}[/] [green]{row.name}[/]{source}"
        f"  {_fmt_params(row.params)} params{flops}{shape}"
    )


def render_tree(summary: ModelSummary, title: str = "model") -> Tree:
    """The summary as a rich tree: one node per component, totals in the root label."""
    tree = Tree(
        f"[bold]{title}[/]  {_fmt_params(summary.total_params)} params ({summary.total_params:,}), "
        f"{summary.gflops_per_frame:.2f} GFLOPs/frame at "
        f"{'x'.join(str(s) for s in summary.input_shapes['frames'][-2:])}"
    )
    for row in summary.components:
        node = tree.add(_label(row), highlight=False)
        for child in row.children:
            node.add(_label(child), highlight=False)
    return tree
