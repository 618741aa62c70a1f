"""Datasets and optical flow for vadkit (layouts, labels, clip sampling, flow cache, synthetic data)."""
