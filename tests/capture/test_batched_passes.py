"""Batched guidance: one transformer call on ``[uncond, cond]``, each captured pass reading its own batch item.

No family with batched guidance is built in yet, so the clock and the recorder are driven directly with a
synthetic call: two batch items whose keys differ, a non-square 2 x 2 x 3 grid, a leading frame to drop.
Swapping the items (or ignoring the pass's item) makes these tests fail.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from attention_visual.capture import CaptureSettings
from attention_visual.capture.attention_math import WordColumns, word_attention
from attention_visual.capture.recorder import CaptureRecorder
from attention_visual.capture.steps import PassClock
from attention_visual.errors import CaptureError
from attention_visual.families.interface import AttentionInputs, HookPoint, Measure, Probe, TransformerCall

HEADS, DIM, TEXT = 2, 8, 6
GRID = (2, 2, 3)  # frame, y, x of the call; the first frame is dropped from the maps
WORDS = WordColumns.from_words([(1, 2), (4,)])
PROBE = Probe(
    (HookPoint("query", "q"), HookPoint("key", "k")),
    (Measure("words", "key", lambda slots: AttentionInputs("cross", slots["query"], slots["key"])),),
)


def fake_pipe(cfg: bool = True) -> Any:
    scheduler = SimpleNamespace(timesteps=torch.tensor([999.0, 500.0]), sigmas=torch.tensor([1.0, 0.5, 0.0]))
    return SimpleNamespace(scheduler=scheduler, _num_timesteps=2, do_classifier_free_guidance=cfg)


def test_the_clock_names_the_batch_items_and_counts_one_step_per_call() -> None:
    clock = PassClock(fake_pipe(), order_from_calls=False, guidance="batched", batch_passes=("uncond", "cond"))
    context = SimpleNamespace(name="cond_uncond", step_index=None, sigma=None, num_inference_steps=None)
    first = clock.next(context, torch.tensor([999.0, 999.0]))
    second = clock.next(context, torch.tensor([500.0, 500.0]))
    assert (first.step_index, first.items, first.sigma) == (0, (("uncond", 0), ("cond", 1)), 1.0)
    assert (second.step_index, second.timestep) == (1, 500.0)
    off = PassClock(fake_pipe(cfg=False), order_from_calls=False, guidance="batched")
    assert off.next(context, torch.tensor([999.0])).items == (("cond", 0),)
    distilled = PassClock(fake_pipe(), order_from_calls=True, guidance="distilled")
    assert [distilled.next(None, torch.tensor([t])).step_index for t in (999.0, 500.0)] == [0, 1]


def _run(settings: CaptureSettings, query: torch.Tensor, key: torch.Tensor, *, batch: int = 2) -> CaptureRecorder:
    recorder = CaptureRecorder(settings, WORDS, HEADS, {0: 0}, PROBE, text_padding="attended")
    clock = PassClock(fake_pipe(), order_from_calls=False, guidance="batched")
    context = SimpleNamespace(name="cond_uncond", step_index=None, sigma=None, num_inference_steps=None)
    info = clock.next(context, torch.tensor([999.0, 999.0]))
    recorder.begin(info, None, TransformerCall(batch, GRID, None, drop_leading_frames=1))
    recorder.on_slot(0, "query", query)
    recorder.on_slot(0, "key", key)
    recorder.end()
    return recorder


def _expected(query: torch.Tensor, key: torch.Tensor, item: int) -> np.ndarray:
    columns = torch.tensor(WORDS.columns)
    probs = word_attention(query[item], key[item], HEADS, columns, WORDS.bounds, num_real_keys=TEXT)
    return probs.mean(0).reshape(2, *GRID)[:, 1:].numpy()  # [word, frame, y, x], the leading frame dropped


def test_each_pass_reads_its_own_batch_item() -> None:
    gen = torch.Generator().manual_seed(0)
    query = torch.randn(2, 12, HEADS * DIM, generator=gen)  # [batch, video_token, channel]
    key = torch.randn(2, TEXT, HEADS * DIM, generator=gen)  # [batch, text_token, channel]: the items differ
    recorder = _run(CaptureSettings(guidance_pass="both"), query, key)
    records = {r.pass_name: r for r in recorder.records}
    assert sorted(records) == ["cond", "uncond"]
    for name, item in (("uncond", 0), ("cond", 1)):
        got = records[name].array[:, 0, 0]  # [word, frame, y, x]
        assert got.shape == (2, 1, 2, 3)
        np.testing.assert_allclose(got, _expected(query, key, item), rtol=0, atol=1e-6)
    assert not np.allclose(records["cond"].array, records["uncond"].array)
    only_cond = _run(CaptureSettings(), query, key).records
    assert [r.pass_name for r in only_cond] == ["cond"]
    np.testing.assert_allclose(only_cond[0].array[:, 0, 0], _expected(query, key, 1), rtol=0, atol=1e-6)


def test_a_batch_that_is_not_one_item_per_pass_is_refused() -> None:
    query, key = torch.zeros(4, 12, HEADS * DIM), torch.zeros(4, TEXT, HEADS * DIM)
    with pytest.raises(CaptureError, match="got a batch of 4 for 2 guidance pass"):
        _run(CaptureSettings(), query, key, batch=4)


@pytest.mark.parametrize("padding", ["include", "exclude"])
def test_attended_padding_keys_are_distinct_keys_or_left_out(padding: str) -> None:
    """A family whose padding keys are real, distinct keys (no mask): ``include`` keeps them in the softmax
    as the model does, ``exclude`` renormalises over the 4 real tokens; checked against float64."""
    gen = torch.Generator().manual_seed(1)
    query = torch.randn(2, 12, HEADS * DIM, generator=gen, dtype=torch.float64).float()
    key = torch.randn(2, TEXT, HEADS * DIM, generator=gen, dtype=torch.float64).float()
    recorder = CaptureRecorder(
        CaptureSettings(padding=padding), WordColumns.from_words([(1, 2), (3,)]), HEADS, {0: 0}, PROBE,
        text_padding="attended",
    )  # fmt: skip
    recorder.num_real_keys["cond"] = 4
    clock = PassClock(fake_pipe(), order_from_calls=False, guidance="batched")
    context = SimpleNamespace(name="cond_uncond", step_index=None, sigma=None, num_inference_steps=None)
    recorder.begin(clock.next(context, torch.tensor([999.0, 999.0])), None, TransformerCall(2, GRID, None))
    recorder.on_slot(0, "query", query)
    recorder.on_slot(0, "key", key)
    recorder.end()
    got = recorder.records[0].array[:, 0, 0]  # [word, frame, y, x] of the cond pass (item 1)
    q = query[1].double().view(12, HEADS, DIM).transpose(0, 1)  # [head, video_token, d]
    k = key[1].double().view(TEXT, HEADS, DIM).transpose(0, 1)  # [head, text_token, d]
    keys = TEXT if padding == "include" else 4
    probs = torch.softmax(q @ k[:, :keys].transpose(1, 2) / DIM**0.5, dim=-1).mean(0)  # [video_token, key]
    expected = torch.stack([probs[:, 1] + probs[:, 2], probs[:, 3]]).reshape(2, *GRID)
    np.testing.assert_allclose(got, expected.numpy(), rtol=0, atol=1e-6)
