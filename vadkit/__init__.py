"""vadkit: a plugin-based framework for video anomaly detection."""

from __future__ import annotations

from .hookspecs import hookimpl
from .plugins import create_registry, default_registry

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl", "create_registry", "default_registry"]
