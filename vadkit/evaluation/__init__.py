"""Evaluation: per-frame scores, frame-level AUC, and pictures."""
