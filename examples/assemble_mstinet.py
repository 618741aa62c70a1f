"""Assemble MSTI-Net in plain Python from component instances, without a recipe, and check
that it has exactly the parameters of the recipe-built model.

    python examples/assemble_mstinet.py            # the paper's widths (recipes/mstinet.toml)
    python examples/assemble_mstinet.py --small    # widths 8-16-32-64, a second
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from vadkit_mstinet.attention import ChannelAttention
from vadkit_mstinet.decoder import UNetDecoder
from vadkit_mstinet.encoder import ConvEncoder
from vadkit_mstinet.fusion import ASTFM
from vadkit_mstinet.memory import MemoryBank

from vadkit import create_registry
from vadkit.assembly import VADModel
from vadkit.builder import build_model
from vadkit.interfaces import count_parameters
from vadkit.recipe import load_recipe


def assemble(widths: Sequence[int] = (64, 128, 256, 512), frames: int = 4, slots: int = 10) -> VADModel:
    """The full model (Table II model E): two conv streams, ASTFM + channel attention at each
    of the three encoding levels, a memory of ``slots`` items and the U-Net decoder."""
    appearance = ConvEncoder(in_channels=frames * 3, widths=widths)
    motion = ConvEncoder(in_channels=frames * 2, widths=widths)
    fusions = [
        ASTFM(c_a, c_m, attention=ChannelAttention(c_m, reduction=4))
        for c_a, c_m in zip(appearance.channels[:-1], motion.channels[:-1])
    ]
    memory = MemoryBank(channels=appearance.channels[-1], slots=slots, delta=0.1)
    decoder = UNetDecoder(encoder_channels=appearance.channels, in_channels=memory.out_channels, out_channels=3)
    return VADModel(appearance, memory, decoder, motion, fusions, frames=frames, image_channels=3)


def from_recipe(widths: Sequence[int], slots: int = 10) -> VADModel:
    """The same model from recipes/mstinet.toml, widths and slots overridden like ``--set``."""
    w = "[" + ", ".join(str(int(v)) for v in widths) + "]"
    overrides = [f"model.appearance.widths={w}", f"model.motion.widths={w}", f"model.memory.slots={slots}"]
    return build_model(load_recipe("mstinet", overrides), create_registry(autoload=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny widths, for a quick check")
    args = parser.parse_args()
    widths = (8, 16, 32, 64) if args.small else (64, 128, 256, 512)
    by_hand, by_recipe = count_parameters(assemble(widths)), count_parameters(from_recipe(widths))
    print(f"assembled in Python: {by_hand:,} parameters")
    print(f"built from recipe:   {by_recipe:,} parameters")
    print("identical" if by_hand == by_recipe else "DIFFERENT")
    raise SystemExit(0 if by_hand == by_recipe else 1)


if __name__ == "__main__":
    main()
