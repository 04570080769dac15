"""Find the cross-attention modules of a Wan transformer (a pure function, tested on its own).

Names follow one scheme used in metadata, config filters and CLI flags: ``blocks.7.attn2``.
"""

from __future__ import annotations

from torch import nn

from attention_visual.errors import CaptureError


def block_name(index: int, block_list: str = "blocks") -> str:
    """``blocks.{index}.attn2`` (or ``vace_blocks.{index}.attn2``): the capture point of block ``index``."""
    return f"{block_list}.{index}.attn2"


def locate_cross_attention(transformer: nn.Module, block_list: str = "blocks") -> list[tuple[int, str, nn.Module]]:
    """``(block index, name, attn2 module)`` for every block of ``transformer.<block_list>``, in order.

    Raises:
        CaptureError: the module has no ``<block_list>[i].attn2`` with ``norm_q``/``norm_k`` (not a Wan
            transformer; e.g. Wan Animate 2 names its cross-attention ``blocks.N.cross_attn``).
    """
    blocks = getattr(transformer, block_list, None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
        raise CaptureError(f"{type(transformer).__name__} has no {block_list!r} list: not a Wan transformer")
    found = []
    for i, block in enumerate(blocks):
        attn2 = getattr(block, "attn2", None)
        name = block_name(i, block_list)
        if attn2 is None and isinstance(getattr(block, "cross_attn", None), nn.Module):
            raise CaptureError(
                f"{type(transformer).__name__} names its cross-attention {block_list}.{i}.cross_attn, not attn2: "
                "this transformer (Wan Animate / modular blocks) is not supported"
            )
        if attn2 is None or not all(isinstance(getattr(attn2, n, None), nn.Module) for n in ("norm_q", "norm_k")):
            raise CaptureError(f"{name} is missing or has no norm_q/norm_k: not a Wan cross-attention")
        if not hasattr(attn2, "heads"):
            raise CaptureError(f"{name} does not say its number of heads")
        found.append((i, name, attn2))
    return found


__all__ = ["block_name", "locate_cross_attention"]
