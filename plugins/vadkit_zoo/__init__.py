"""The model zoo's own parts: MNAD's encoder and decoders (Park et al., CVPR 2020), FFP's U-Net
generator (Liu et al., CVPR 2018) and a fast flow-free predictor. Memory and scorers come from
the registry (``memory_bank``, ``psnr``, ``regularity``); recipes are in recipes/zoo/.

Registered through ``registry.toml`` like every built-in; nothing registers on import.
"""
