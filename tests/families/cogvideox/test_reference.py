"""The float64 joint-attention reference (:mod:`families.cogvideox.reference`) is the model's own softmax.

Its probabilities, times the values and through ``to_out``, give exactly the attention output each
``attn1`` call of every tiny CogVideoX model computed; without RoPE they do not (on the RoPE models).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from families.cogvideox.reference import record_attn1_inputs, reference_probs
from families.cogvideox.support import COGVIDEOX_IDS, MARKED, call_kwargs, pipe_of

PROMPT = MARKED.replace("(", "").replace(")", "")


@pytest.mark.parametrize("model_id", COGVIDEOX_IDS)
@torch.no_grad()
def test_the_reference_reproduces_the_attention_output(model_id: str) -> None:
    """P · V through to_out equals what attn1 returned: the reference is the model's softmax."""
    pipe = pipe_of(model_id)
    outputs: list[torch.Tensor] = []
    handles = [
        b.attn1.register_forward_hook(lambda m, a, out: outputs.append(out[0].detach().clone()))
        for b in pipe.transformer.transformer_blocks
    ]
    try:
        with record_attn1_inputs(pipe.transformer) as log:
            pipe(
                prompt=PROMPT, generator=torch.Generator().manual_seed(0), output_type="latent", **call_kwargs(model_id)
            )
    finally:
        for h in handles:
            h.remove()
    assert len(log.calls) == len(outputs) >= 4
    for call, got in zip(log.calls, outputs, strict=True):
        probs, _ = reference_probs(call)
        attn = call.attn
        x = torch.cat([call.text, call.video], dim=1).double()
        v = torch.nn.functional.linear(x, attn.to_v.weight.double(), attn.to_v.bias.double())
        v = v.unflatten(-1, (attn.heads, -1)).transpose(1, 2)  # [batch, head, key, d]

        def output(p: torch.Tensor, v: torch.Tensor = v, attn: Any = attn) -> torch.Tensor:
            o = (p @ v).transpose(1, 2).flatten(2)  # [batch, video, inner]
            return torch.nn.functional.linear(o, attn.to_out[0].weight.double(), attn.to_out[0].bias.double())

        torch.testing.assert_close(output(probs), got.double(), atol=2e-5, rtol=1e-5)
        if call.rope is not None:  # without RoPE the reference is not the model's
            wrong, _ = reference_probs(call, skip_rope=True)
            assert float((output(wrong) - got.double()).abs().max()) > 1e-3
