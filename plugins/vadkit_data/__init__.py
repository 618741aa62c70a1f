"""First-party data plugins: dataset layouts (kind ``dataset``) and optical-flow estimators
(kind ``flow``). They implement the core's contracts in :mod:`vadkit.data.interfaces` and are
registered by the manifest (registry.toml); nothing registers at import time. See docs/data.md.
"""
