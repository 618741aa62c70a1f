"""Torch-free post-processing shared by evaluation, calibration and detection: turning a
scorer's per-frame statistics into calibrated, comparable scores (``tail``) and weighting
statistics by their measured evidence (``evidence``)."""
