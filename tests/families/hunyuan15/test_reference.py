"""The float64 reference (:mod:`families.hunyuan15.reference`) is HunyuanVideo-1.5's own softmax.

Its probabilities, times the values and through ``to_out``, give exactly the video part of the output each
``attn`` call of both tiny models computed; without RoPE or without the mask they do not.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from families.hunyuan15.reference import AttnCall, record, reference_probs
from families.hunyuan15.support import HUNYUAN15_IDS, MARKED, call_kwargs, pipe_of

PROMPT = MARKED.replace("(", "").replace(")", "")


def _output(call: AttnCall, probs: torch.Tensor) -> torch.Tensor:
    """``to_out(P · V)`` for the video queries, in float64 (``[batch, video_token, dim]``)."""
    attn = call.attn

    def values(x: torch.Tensor, layer: Any) -> torch.Tensor:
        return torch.nn.functional.linear(x.double(), layer.weight.double(), layer.bias.double())

    v = torch.cat([values(call.video, attn.to_v), values(call.context, attn.add_v_proj)], dim=1)
    v = v.unflatten(-1, (attn.heads, -1)).transpose(1, 2)  # [batch, head, key, d]
    o = (probs @ v).transpose(1, 2).flatten(2)  # [batch, video, inner]
    return torch.nn.functional.linear(o, attn.to_out[0].weight.double(), attn.to_out[0].bias.double())


@pytest.mark.parametrize("model_id", HUNYUAN15_IDS)
@torch.no_grad()
def test_the_reference_reproduces_the_attention_output(model_id: str) -> None:
    pipe = pipe_of(model_id)
    outputs: list[torch.Tensor] = []
    handles = [
        b.attn.register_forward_hook(lambda m, a, out: outputs.append(out[0].detach().clone()))
        for b in pipe.transformer.transformer_blocks
    ]
    try:
        with record(pipe) as log:
            pipe(
                prompt=PROMPT, generator=torch.Generator().manual_seed(0), **call_kwargs(model_id, output_type="latent")
            )
    finally:
        for h in handles:
            h.remove()
    calls = [block for call in log.calls for block in call.blocks]
    assert len(calls) == len(outputs) == 8  # 2 steps x 2 passes x 2 blocks
    for call, got in zip(calls, outputs, strict=True):
        torch.testing.assert_close(_output(call, reference_probs(call)), got.double(), atol=2e-5, rtol=1e-5)
        for broken in (reference_probs(call, skip_rope=True), reference_probs(call, skip_mask=True)):
            assert float((_output(call, broken) - got.double()).abs().max()) > 1e-4
