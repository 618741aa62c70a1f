"""MSTI-Net (Ning et al., arXiv 2306.10239) as vadkit components.

Registered through ``registry.toml`` like every built-in; nothing registers on import.
"""
