"""timm-backed alternatives: any timm CNN as a stream, timm.layers attention blocks."""
