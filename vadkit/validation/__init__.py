"""Validation without test labels: pseudo-anomalies drawn into held-out normal videos."""

from .pseudo import KINDS, pseudo_videos
from .validate import validate

__all__ = ["KINDS", "pseudo_videos", "validate"]
