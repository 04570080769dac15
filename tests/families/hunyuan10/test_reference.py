"""The float64 reference (:mod:`families.hunyuan10.reference`) is the model's own masked softmax, both streams.

Its probabilities, times the values (and, dual-stream, through ``to_out``), give exactly the video rows of the
attention output each ``attn`` call of the tiny HunyuanVideo computed; without RoPE, or without the mask, they
do not.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from families.hunyuan10.reference import AttnCall, record_attn_inputs, reference_probs
from families.hunyuan10.support import MARKED, STREAMS, call_kwargs, pipe_of

PROMPT = MARKED.replace("(", "").replace(")", "")


def _linear(x: torch.Tensor, layer: torch.nn.Linear) -> torch.Tensor:
    return torch.nn.functional.linear(x.double(), layer.weight.double(), layer.bias.double())


def _output(call: AttnCall, probs: torch.Tensor) -> torch.Tensor:
    """``[batch, video_token, inner]``: the attention's video output for the probabilities ``probs``."""
    attn: Any = call.attn
    if call.block_list == "transformer_blocks":
        v = torch.cat([_linear(call.video, attn.to_v), _linear(call.text, attn.add_v_proj)], dim=1)
    else:
        v = _linear(torch.cat([call.video, call.text], dim=1), attn.to_v)
    v = v.unflatten(-1, (attn.heads, -1)).transpose(1, 2)  # [batch, head, key, d]
    out = (probs @ v).transpose(1, 2).flatten(2)  # [batch, video, inner]
    return _linear(out, attn.to_out[0]) if call.block_list == "transformer_blocks" else out


@pytest.mark.parametrize("stream", STREAMS)
@torch.no_grad()
def test_the_reference_reproduces_the_attention_output(stream: str) -> None:
    """P · V equals what attn returned for the video rows: the reference is the model's softmax and mask."""
    pipe = pipe_of("tiny-hunyuan")
    outputs: list[torch.Tensor] = []
    handles = [
        b.attn.register_forward_hook(lambda m, a, out: outputs.append(out[0].detach().clone()))
        for b in getattr(pipe.transformer, stream)
    ]
    try:
        with record_attn_inputs(pipe.transformer) as log:
            pipe(
                prompt=PROMPT,
                generator=torch.Generator().manual_seed(0),
                output_type="latent",
                **call_kwargs("tiny-hunyuan"),
            )
    finally:
        for h in handles:
            h.remove()
    calls = [c for c in log.calls if c.block_list == stream]
    assert len(calls) == len(outputs) == 4  # 2 blocks x 2 steps
    for call, got in zip(calls, outputs, strict=True):
        assert call.mask[0, : call.video.shape[1]].all() and not call.mask[0].all()  # padding keys are masked
        probs, _ = reference_probs(call)
        torch.testing.assert_close(_output(call, probs), got.double(), atol=2e-5, rtol=1e-5)
        for broken in ({"skip_rope": True}, {"ignore_mask": True}):  # without either the reference is not the model's
            wrong, _ = reference_probs(call, **broken)
            assert float((_output(call, wrong) - got.double()).abs().max()) > 1e-3, broken
