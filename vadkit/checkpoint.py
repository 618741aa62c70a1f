"""Checkpoints: tensors and plain data only, written atomically, loaded with weights_only=True."""

from __future__ import annotations

import errno
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .atomic import atomic_write
from .errors import CheckpointError
from .faults import fault

CHECKPOINT_NAME = "last.pt"


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save through an atomic write (see vadkit.atomic). A failed write (disk full, quota)
    leaves the previous checkpoint and no temporary file, and is one OSError naming the file
    (torch reports it as a RuntimeError of its zip writer)."""

    def write(fh: Any) -> None:
        try:
            torch.save(obj, fh)
        except RuntimeError as exc:
            raise write_error(path, exc) from None
        fault("checkpoint-write")  # killed with the whole temporary file written, before the rename

    atomic_write(path, write)


def write_error(path: Path, exc: BaseException) -> OSError:
    """An OSError for ``path`` from a writer's error: ENOSPC unless the error says otherwise."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return OSError(exc.errno, exc.strerror or str(exc), str(path))
    import resource  # torch's zip writer drops the errno: a file-size limit, else a full disk

    limited = resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY
    code = errno.EFBIG if limited else errno.ENOSPC
    return OSError(code, os.strerror(code), str(path))


def restore_epoch_record(log: Path, record: Any) -> bool:
    """Append the checkpoint's epoch record to log.jsonl when a kill between the checkpoint's
    rename and the log line lost it (and end a line cut by the kill); True when appended."""
    if not isinstance(record, dict) or not record.get("epoch_end"):
        return False
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and rec.get("epoch_end") and rec.get("epoch") == record.get("epoch"):
            return False
    with log.open("a", encoding="utf-8") as fh:
        fh.write(("\n" if text and not text.endswith("\n") else "") + json.dumps(record) + "\n")
    return True


def rng_state() -> dict[str, Any]:
    """Every RNG the training loop touches, as tensors and plain data."""
    np_state: Any = np.random.get_state()  # a tuple (name, keys, pos, has_gauss, cached)
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": list(random.getstate()[1]),
        "python_version": int(random.getstate()[0]),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_s = state["numpy"]
    np.random.set_state(
        ("MT19937", np_s["keys"].numpy().astype(np.uint32), np_s["pos"], np_s["has_gauss"], np_s["cached_gaussian"])
    )
    random.setstate((state["python_version"], tuple(state["python"]), None))


def architecture(model: nn.Module) -> dict[str, list[int]]:
    """Parameter and buffer names with their shapes: what must match to load weights."""
    return {name: list(t.shape) for name, t in model.state_dict().items()}


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load with ``weights_only=True``: a checkpoint cannot execute code."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc


def _flatten(table: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(table, dict):
        return {prefix: table}
    out: dict[str, Any] = {}
    for k, v in table.items():
        out.update(_flatten(v, f"{prefix}.{k}" if prefix else k))
    return out


def check_compatible(checkpoint: dict[str, Any], model: nn.Module, model_table: dict[str, Any], path: Path) -> None:
    """Refuse a checkpoint whose architecture differs from ``model``, saying what differs."""
    saved_table = _flatten(checkpoint.get("model_recipe", {}), "model")
    table = _flatten(model_table, "model")
    diffs = [
        f"{k}: checkpoint {saved_table.get(k, '(unset)')!r}, recipe {table.get(k, '(unset)')!r}"
        for k in sorted(set(saved_table) | set(table))
        if saved_table.get(k) != table.get(k)
    ]
    saved_arch = checkpoint.get("architecture", {})
    arch = architecture(model)
    shape_diffs = [
        f"{k}: checkpoint {saved_arch.get(k)}, model {arch.get(k)}"
        for k in sorted(set(saved_arch) | set(arch))
        if saved_arch.get(k) != arch.get(k)
    ]
    if shape_diffs:
        detail = "; ".join(diffs[:8]) if diffs else "; ".join(shape_diffs[:8])
        raise CheckpointError(f"checkpoint {path} does not match the recipe's architecture: {detail}")
