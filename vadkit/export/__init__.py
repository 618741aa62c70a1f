"""Deployment: a trained run as an ONNX graph plus a manifest with everything detection needs.
``vadkit export`` wraps ``export_run``; detect's onnxruntime/OpenVINO backends load the folder."""

from __future__ import annotations

from .api import FORMATS, ExportError, cached_export, export_run
from .manifest import read_manifest

__all__ = ["FORMATS", "ExportError", "cached_export", "export_run", "read_manifest"]
