"""``vadkit serve``: watch cameras as a service (supervised streams, event sinks, clips,
health and metrics). See docs/serve.md."""

from __future__ import annotations

from .config import ConfigError, ServeConfig, load_config
from .service import Service, serve

__all__ = ["ConfigError", "ServeConfig", "Service", "load_config", "serve"]
