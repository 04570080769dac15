"""The ``<image>`` pseudo-word of I2V/FLF2V: how much of ``attn2``'s output comes from the image branch.

For models with an image branch (a variant's ``image_branch``: Wan2.1 I2V-14B and FLF2V) the
cross-attention context is ``[image tokens, 512 text tokens]``;
diffusers' ``WanAttnProcessor`` splits it at ``L - 512`` and runs **two** softmaxes with the same
query::

    o_txt = softmax(q · k_txtᵀ / √d) · v_txt      k_txt = norm_k(to_k(text)),         v_txt = to_v(text)
    o_img = softmax(q · k_imgᵀ / √d) · v_img      k_img = norm_added_k(add_k_proj(image)), v_img = add_v_proj(image)
    out   = to_out(o_txt + o_img)

A word map (softmax over the text keys) cannot say whether a video token follows the text or the
image: each softmax sums to 1 on its own. The ``<image>`` map is, per video token,

    r = ‖o_img‖ / (‖o_img‖ + ‖o_txt‖)            (norms over the concatenated heads, before ``to_out``)

0 where the text branch dominates the sum, 1 where the image branch does. With ``store_per_head`` it
is computed per head on that head's slice. The branch outputs are recomputed from the tensors the
processor itself computes, caught by forward hooks on ``attn2.norm_q`` (q), ``norm_k`` (k_txt),
``to_v`` (v_txt), ``add_v_proj`` (v_img) and ``norm_added_k`` (k_img); no processor is replaced.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``[token, heads * d]`` → ``[head, token, d]`` float32."""
    out: torch.Tensor = x.float().unflatten(-1, (heads, -1)).transpose(0, 1)
    return out


def image_share(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    key_img: torch.Tensor,
    value_img: torch.Tensor,
    heads: int,
    *,
    per_head: bool = False,
    chunk_size: int = 4096,
) -> torch.Tensor:
    """The image branch's share of each video token's cross-attention output.

    Args:
        query: ``[video_token, heads * d]``, the output of ``attn2.norm_q`` (one batch item).
        key: ``[text_token, heads * d]``, of ``attn2.norm_k``.
        value: ``[text_token, heads * d]``, of ``attn2.to_v``.
        key_img: ``[image_token, heads * d]``, of ``attn2.norm_added_k``.
        value_img: ``[image_token, heads * d]``, of ``attn2.add_v_proj``.
        heads: attention heads.
        per_head: ``[head, video_token]`` ratios of each head's slice instead of ``[1, video_token]``.
        chunk_size: video tokens per chunk.

    Returns:
        ``[head_or_1, video_token]`` float32 in ``[0, 1]``.
    """
    k, v = _heads(key, heads), _heads(value, heads)  # [head, text_token, d]
    ki, vi = _heads(key_img, heads), _heads(value_img, heads)  # [head, image_token, d]
    n_q = query.shape[0]
    out = torch.empty(heads if per_head else 1, n_q, dtype=torch.float32, device=query.device)
    for start in range(0, n_q, chunk_size):
        q = _heads(query[start : start + chunk_size], heads)  # [head, c, d]
        o_txt = F.scaled_dot_product_attention(q, k, v)  # [head, c, d]
        o_img = F.scaled_dot_product_attention(q, ki, vi)
        if per_head:
            n_img, n_txt = o_img.norm(dim=-1), o_txt.norm(dim=-1)  # [head, c]
        else:
            n_img = o_img.transpose(0, 1).flatten(1).norm(dim=-1, keepdim=True).T  # [1, c]
            n_txt = o_txt.transpose(0, 1).flatten(1).norm(dim=-1, keepdim=True).T
        out[:, start : start + q.shape[1]] = n_img / (n_img + n_txt).clamp_min(torch.finfo(torch.float32).tiny)
    return out


__all__ = ["image_share"]
