"""Example vadkit plugin: a gated fusion and an einops cross-attention fusion."""
