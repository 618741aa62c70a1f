"""Example third-party vadkit plugin: the ``patch_error`` scorer (docs/plugins.md)."""
