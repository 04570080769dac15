"""Find the cross-attention modules of a Wan transformer (a pure function, tested on its own).

Names follow one scheme used in metadata, config filters and CLI flags: ``blocks.7.attn2``.
"""

from __future__ import annotations

from torch import nn

from attention_visual.errors import CaptureError


def block_name(index: int) -> str:
    """``blocks.{index}.attn2``: the capture point of block ``index``."""
    return f"blocks.{index}.attn2"


def locate_cross_attention(transformer: nn.Module) -> list[tuple[int, str, nn.Module]]:
    """``(block index, name, attn2 module)`` for every block, in order.

    Raises:
        CaptureError: the module has no ``blocks[i].attn2`` with ``norm_q``/``norm_k`` (not a Wan transformer).
    """
    blocks = getattr(transformer, "blocks", None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise CaptureError(f"{type(transformer).__name__} has no 'blocks' list: not a Wan transformer")
    found = []
    for i, block in enumerate(blocks):
        attn2 = getattr(block, "attn2", None)
        if attn2 is None or not all(isinstance(getattr(attn2, n, None), nn.Module) for n in ("norm_q", "norm_k")):
            raise CaptureError(f"{block_name(i)} is missing or has no norm_q/norm_k: not a Wan cross-attention")
        if not hasattr(attn2, "heads"):
            raise CaptureError(f"{block_name(i)} does not say its number of heads")
        found.append((i, block_name(i), attn2))
    return found


__all__ = ["block_name", "locate_cross_attention"]
