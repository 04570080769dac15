"""The tiny HunyuanVideo-1.5 pipelines: real classes, a 108-token chat prefix, non-square grids, saved checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from attention_visual.families import family_named, tiny_model_variant
from attention_visual.families.runtime import describe_pipeline
from attention_visual.models import load_pipeline, resolve_variant, tiny_tokenizer
from attention_visual.models.tiny_qwen_tokenizer import build_tiny_qwen_tokenizer
from attention_visual.models.tiny_variants import TINY_MODELS
from attention_visual.prompts import tokenize_marked
from families.hunyuan15.support import GRID, HUNYUAN15_IDS, MARKED, call_kwargs, pipe_of

TEMPLATE = family_named("hunyuan15").text.template


def test_both_tiny_models_are_listed_with_their_variant() -> None:
    assert set(HUNYUAN15_IDS) == set(family_named("hunyuan15").tiny_models) == {"tiny-hunyuan15", "tiny-hunyuan15-i2v"}
    for model_id in HUNYUAN15_IDS:
        variant = tiny_model_variant(model_id)
        assert variant is not None and variant.name == TINY_MODELS[model_id].variant
        assert type(pipe_of(model_id)).__name__ == variant.pipeline_class
        assert type(tiny_tokenizer(model_id)).__name__ == "Qwen2Tokenizer"


def test_the_chat_before_the_prompt_is_the_108_tokens_the_pipeline_cuts() -> None:
    """As with Qwen2.5-VL's own tokenizer: the pipelines' hard-coded cut lands on the prompt's first token."""
    tok = build_tiny_qwen_tokenizer()
    assert TEMPLATE is not None
    pipe = pipe_of("tiny-hunyuan15")
    assert (pipe.system_message, pipe.prompt_template_encode_start_idx) == (TEMPLATE.system_message, TEMPLATE.cut)
    chat = tok.apply_chat_template(
        TEMPLATE.messages("a dog"), add_generation_prompt=True, tokenize=True, return_dict=True
    )
    pieces = tok.convert_ids_to_tokens(chat["input_ids"])
    assert pieces[105:110] == ["<|im_start|>", "user", "Ċ", "a", "Ġdog"]  # the prompt starts at token 108
    assert pieces[110:] == ["<|im_end|>", "Ċ", "<|im_start|>", "assistant", "Ċ"]
    assert tok.padding_side == "right" and tok.pad_token == "<|endoftext|>"
    assert build_tiny_qwen_tokenizer().get_vocab() == tok.get_vocab()  # deterministic


def test_the_marked_words_are_counted_after_the_cut() -> None:
    tokens = tokenize_marked(build_tiny_qwen_tokenizer(), MARKED, 1000, TEMPLATE)
    assert tokens.cut == 108 and len(tokens.input_ids) == 1108
    assert [(t.word, t.token_pieces) for t in tokens.targets] == [("dog", ("Ġdog",)), ("flowers", ("Ġflow", "ers"))]
    for t in tokens.targets:
        assert [tokens.input_ids[108 + i] for i in t.token_indices] == list(t.token_ids)
    assert tokens.pieces[-5:] == ("<|im_end|>", "Ċ", "<|im_start|>", "assistant", "Ċ")
    assert tokens.num_real_tokens == len(tokens.pieces) == sum(tokens.attention_mask) - 108


@pytest.mark.parametrize("model_id", HUNYUAN15_IDS)
def test_grid_frames_and_passes(model_id: str) -> None:
    pipe = pipe_of(model_id)
    seen: list[tuple[int, ...]] = []
    handle = pipe.transformer.register_forward_pre_hook(
        lambda m, a, kw: seen.append(tuple(kw["hidden_states"].shape)), with_kwargs=True
    )
    try:
        video = pipe(
            prompt="a cat", generator=torch.Generator().manual_seed(0), **call_kwargs(model_id, output_type="pt")
        )
    finally:
        handle.remove()
    assert seen == [(1, 9, *GRID)] * 4  # [batch, 2 x 4 latent channels + mask, frame, y, x]: 2 steps x 2 passes
    assert tuple(video.frames.shape) == (1, 9, 3, 32, 48)  # [batch, frame, rgb, height, width]: 16 px per cell


@pytest.mark.parametrize("model_id", HUNYUAN15_IDS)
def test_save_pretrained_and_load_pipeline_by_model_index(model_id: str, tmp_path: Path) -> None:
    """Written as a real diffusers checkpoint and read back by load_pipeline (model_index.json picks the class)."""
    pipe_of(model_id).save_pretrained(tmp_path)
    loaded = load_pipeline(str(tmp_path), device="cpu", dtype="float32")
    assert type(loaded).__name__ == type(pipe_of(model_id)).__name__
    assert describe_pipeline(loaded).name == TINY_MODELS[model_id].variant == resolve_variant(str(tmp_path)).name
    assert loaded.tokenizer.chat_template == pipe_of(model_id).tokenizer.chat_template
    assert loaded.tokenizer.get_vocab() == pipe_of(model_id).tokenizer.get_vocab()
    loaded.set_progress_bar_config(disable=True)
    with AttentionCapture(loaded, MARKED, CaptureSettings(glyph_map=True)) as cap:
        loaded(
            prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **call_kwargs(model_id, output_type="latent")
        )
    with AttentionCapture(pipe_of(model_id), MARKED, CaptureSettings(glyph_map=True)) as original:
        pipe_of(model_id)(prompt=original.prompt, generator=torch.Generator().manual_seed(0),
                          **call_kwargs(model_id, output_type="latent"))  # fmt: skip
    for word, maps in cap.word_maps().items():  # the loaded text encoder may pick another attention kernel
        torch.testing.assert_close(
            torch.from_numpy(maps), torch.from_numpy(original.word_maps()[word]), rtol=0, atol=1e-6
        )
