"""The shipped real-checkpoint architectures and the full-width random transformers built from them."""

from __future__ import annotations

import pytest
import torch

from attention_visual.errors import ConfigError
from attention_visual.models.public_checkpoints import architecture_names, build_transformer, load_architecture

# name: (width, heads, layers, ffn, in_channels, out_channels, pixels per token, experts, image branch)
EXPECTED = {
    "wan2.1-t2v-1.3b": (1536, 12, 30, 8960, 16, 16, 16, 1, False),
    "wan2.1-t2v-14b": (5120, 40, 40, 13824, 16, 16, 16, 1, False),
    "wan2.1-i2v-14b-480p": (5120, 40, 40, 13824, 36, 16, 16, 1, True),
    "wan2.1-i2v-14b-720p": (5120, 40, 40, 13824, 36, 16, 16, 1, True),
    "wan2.1-flf2v-14b-720p": (5120, 40, 40, 13824, 36, 16, 16, 1, True),
    "wan2.1-vace-1.3b": (1536, 12, 30, 8960, 16, 16, 16, 1, False),
    "wan2.1-vace-14b": (5120, 40, 40, 13824, 16, 16, 16, 1, False),
    "wan2.2-t2v-a14b": (5120, 40, 40, 13824, 16, 16, 16, 2, False),
    "wan2.2-i2v-a14b": (5120, 40, 40, 13824, 36, 16, 16, 2, False),
    "wan2.2-ti2v-5b": (3072, 24, 30, 14336, 48, 48, 32, 1, False),
    "skyreels-v2-t2v-14b-540p": (5120, 40, 40, 13824, 16, 16, 16, 1, False),
    "skyreels-v2-t2v-14b-720p": (5120, 40, 40, 13824, 16, 16, 16, 1, False),
    "skyreels-v2-i2v-1.3b-540p": (1536, 12, 30, 8960, 36, 16, 16, 1, True),
    "skyreels-v2-i2v-14b-540p": (5120, 40, 40, 13824, 36, 16, 16, 1, True),
    "skyreels-v2-i2v-14b-720p": (5120, 40, 40, 13824, 36, 16, 16, 1, True),
    "skyreels-v2-df-1.3b-540p": (1536, 12, 30, 8960, 16, 16, 16, 1, False),
    "skyreels-v2-df-14b-540p": (5120, 40, 40, 13824, 16, 16, 16, 1, False),
    "skyreels-v2-df-14b-720p": (5120, 40, 40, 13824, 16, 16, 16, 1, False),
    "chronoedit-14b": (5120, 40, 40, 13824, 36, 16, 16, 1, True),
    "lucy-edit-dev": (3072, 24, 30, 14336, 96, 48, 32, 1, False),
    "lucy-edit-1.1-dev": (3072, 24, 30, 14336, 96, 48, 32, 1, False),
}


# name: (hub id, pipeline class, width, heads, layers, cross_attention_dim, VAE timestep conditioning, dynamic shift)
LTX_EXPECTED = {
    "ltx-video-0.9.0": ("Lightricks/LTX-Video", "LTXPipeline", 2048, 32, 28, 2048, False, True),
    "ltx-video-0.9.1": ("Lightricks/LTX-Video-0.9.1", "LTXPipeline", 2048, 32, 28, 2048, True, True),
    "ltx-video-0.9.5": ("Lightricks/LTX-Video-0.9.5", "LTXPipeline", 2048, 32, 28, 2048, True, False),
    "ltx-video-0.9.7-dev": ("Lightricks/LTX-Video-0.9.7-dev", "LTXConditionPipeline", 4096, 32, 48, 4096, True, False),
    "ltx-video-0.9.7-distilled": (
        "Lightricks/LTX-Video-0.9.7-distilled", "LTXConditionPipeline", 4096, 32, 48, 4096, True, False,
    ),
    "ltx-video-0.9.8-13b-distilled": (
        "Lightricks/LTX-Video-0.9.8-13B-distilled", "LTXConditionPipeline", 4096, 32, 48, 4096, True, False,
    ),
}  # fmt: skip


# name: (width, heads, layers, in_channels, pixels per token, RoPE, patch_size_t, ofs, learned positions)
COGVIDEOX = {
    "cogvideox-2b": (1920, 30, 30, 16, 16, False, None, None, False),
    "cogvideox-5b": (3072, 48, 42, 16, 16, True, None, None, False),
    "cogvideox-5b-i2v": (3072, 48, 42, 32, 16, True, None, None, True),
    "cogvideox1.5-5b": (3072, 48, 42, 16, 16, True, 2, None, False),
    "cogvideox1.5-5b-i2v": (3072, 48, 42, 32, 16, True, 2, 512, False),
}


# name: (class, target_size): every HunyuanVideo-1.5 checkpoint is 2048 wide (16 x 128), 54 dual-stream blocks
HUNYUAN15 = {
    "hunyuanvideo1.5-480p-t2v": ("HunyuanVideo15Pipeline", 640),
    "hunyuanvideo1.5-480p-i2v": ("HunyuanVideo15ImageToVideoPipeline", 640),
    "hunyuanvideo1.5-720p-t2v": ("HunyuanVideo15Pipeline", 960),
    "hunyuanvideo1.5-720p-i2v": ("HunyuanVideo15ImageToVideoPipeline", 960),
}


# name: (class, in_channels, guidance embedding): HunyuanVideo is 3072 wide (24 x 128), 20 + 40 blocks
HUNYUAN10 = {"hunyuanvideo": ("HunyuanVideoPipeline", 16, True)}


# name: (hub id, connector layers, video connector width, per-stream text projections, LTX-2.3 layout)
LTX2_EXPECTED = {
    "ltx-2": ("Lightricks/LTX-2", 2, 30 * 128, False, False),
    "ltx-2.3": ("diffusers/LTX-2.3-Diffusers", 8, 32 * 128, True, True),
}


def test_every_checkpoint_is_shipped() -> None:
    assert set(architecture_names()) == (
        set(EXPECTED) | set(COGVIDEOX) | set(HUNYUAN15) | set(HUNYUAN10) | set(LTX_EXPECTED) | set(LTX2_EXPECTED)
    )


@pytest.mark.parametrize("name", sorted(HUNYUAN15))
def test_hunyuan15_architecture_facts(name: str) -> None:
    """The diffusers transformer's defaults and scripts/convert_hunyuan_video1_5_to_diffusers.py's target sizes."""
    arch = load_architecture(name)
    t = arch.transformer
    cls, target = HUNYUAN15[name]
    assert (arch.width, t["num_layers"], t["in_channels"], t["out_channels"], t["target_size"]) == (
        2048,
        54,
        65,
        32,
        target,
    )
    assert (t["text_embed_dim"], t["text_embed_2_dim"], t["image_embed_dim"], t["rope_axes_dim"]) == (
        3584,
        1472,
        1152,
        [16, 56, 56],
    )
    assert arch.pixels_per_cell == 16 and arch.vae["scale_factor_temporal"] == 4 and arch.vae["latent_channels"] == 32
    assert arch.model_index["_class_name"] == cls and arch.hub_id.startswith("hunyuanvideo-community/HunyuanVideo-1.5-")
    model = build_transformer(name, num_layers=1, device="meta")
    assert type(model).__name__ == "HunyuanVideo15Transformer3DModel"
    assert model.transformer_blocks[0].attn.to_q.in_features == 2048


@pytest.mark.parametrize("name", sorted(HUNYUAN10))
def test_hunyuanvideo_architecture_facts(name: str) -> None:
    """diffusers' scripts/convert_hunyuan_video_to_diffusers.py (``HYVideo-T/2-cfgdistill``) and the VAE's defaults."""
    arch = load_architecture(name)
    t = arch.transformer
    cls, in_channels, guidance = HUNYUAN10[name]
    assert (arch.width, t["num_layers"], t["num_single_layers"], t["in_channels"], t["guidance_embeds"]) == (
        3072, 20, 40, in_channels, guidance,
    )  # fmt: skip
    assert (t["text_embed_dim"], t["pooled_projection_dim"], t["rope_axes_dim"], t["patch_size_t"]) == (
        4096, 768, [16, 56, 56], 1,
    )  # fmt: skip
    assert arch.pixels_per_cell == 16 and arch.vae["scale_factor_temporal"] == 4 and arch.vae["latent_channels"] == 16
    assert arch.model_index["_class_name"] == cls and arch.hub_id.startswith("hunyuanvideo-community/HunyuanVideo")
    model = build_transformer(name, num_layers=1, device="meta")  # one block of each stream
    assert type(model).__name__ == "HunyuanVideoTransformer3DModel"
    assert len(model.transformer_blocks) == len(model.single_transformer_blocks) == 1
    assert model.single_transformer_blocks[0].attn.to_q.in_features == 3072


@pytest.mark.parametrize("name", sorted(COGVIDEOX))
def test_cogvideox_architecture_facts(name: str) -> None:
    """The values of diffusers' scripts/convert_cogvideox_to_diffusers.py for each published checkpoint."""
    arch = load_architecture(name)
    t = arch.transformer
    width, heads, layers, c_in, px, rope, p_t, ofs, learned = COGVIDEOX[name]
    assert (arch.width, t["num_attention_heads"], t["attention_head_dim"], t["num_layers"]) == (
        width,
        heads,
        64,
        layers,
    )
    assert (t["in_channels"], t["out_channels"], t["text_embed_dim"], t["max_text_seq_length"]) == (c_in, 16, 4096, 226)
    assert arch.pixels_per_cell == px and arch.vae["scale_factor_temporal"] == 4
    assert (t["use_rotary_positional_embeddings"], t["patch_size_t"], t["ofs_embed_dim"]) == (rope, p_t, ofs)
    assert t["use_learned_positional_embeddings"] == learned
    assert t["patch_bias"] == (p_t is None)
    assert arch.hub_id.startswith("THUDM/") and arch.model_index["_class_name"].startswith("CogVideoX")
    model = build_transformer(name, num_layers=1, device="meta")
    assert type(model).__name__ == "CogVideoXTransformer3DModel"
    assert model.transformer_blocks[0].attn1.to_q.in_features == width


@pytest.mark.parametrize("name", sorted(LTX2_EXPECTED))
def test_ltx2_architecture_facts(name: str) -> None:
    arch = load_architecture(name)
    t, c = arch.transformer, arch.connectors
    hub, connector_layers, connector_width, per_stream, later = LTX2_EXPECTED[name]
    assert (arch.hub_id, arch.checkpoint.class_name, arch.width, t["num_layers"]) == (hub, "LTX2Pipeline", 4096, 48)
    assert (t["_class_name"], t["num_attention_heads"], t["cross_attention_dim"]) == (
        "LTX2VideoTransformer3DModel", 32, 4096,
    )  # fmt: skip
    assert (t["gated_attn"], t["cross_attn_mod"], t["perturbed_attn"], t["use_prompt_embeddings"]) == (
        later, later, later, not later,
    )  # fmt: skip
    assert arch.pixels_per_cell == 32 and arch.vae["temporal_compression_ratio"] == 8
    assert (c["caption_channels"], c["text_proj_in_factor"], c["video_connector_num_learnable_registers"]) == (
        3840, 49, 128,
    )  # fmt: skip  # Gemma-3-12B: 48 layers + embeddings
    assert c["video_connector_num_layers"] == connector_layers and c["per_modality_projections"] == per_stream
    assert c["video_connector_num_attention_heads"] * c["video_connector_attention_head_dim"] == connector_width
    assert arch.scheduler["use_dynamic_shifting"] and arch.checkpoint.experts == 1


def test_build_full_width_ltx2_transformer() -> None:
    model = build_transformer("ltx-2.3", num_layers=1, device="meta")
    attn2 = model.transformer_blocks[0].attn2
    assert len(model.transformer_blocks) == 1
    assert (attn2.heads, attn2.to_q.in_features, attn2.to_k.in_features) == (32, 4096, 4096)
    assert attn2.to_gate_logits is not None and not hasattr(model, "caption_projection")  # LTX-2.3's layout


@pytest.mark.parametrize("name", sorted(LTX_EXPECTED))
def test_ltx_architecture_facts(name: str) -> None:
    arch = load_architecture(name)
    t = arch.transformer
    hub, cls, width, heads, layers, cross, timestep_vae, dynamic = LTX_EXPECTED[name]
    assert (arch.hub_id, arch.checkpoint.class_name, arch.width) == (hub, cls, width)
    assert (t["_class_name"], t["num_attention_heads"], t["num_layers"]) == (
        "LTXVideoTransformer3DModel",
        heads,
        layers,
    )
    assert t["cross_attention_dim"] == width == cross  # the caption is projected to the model width first
    assert (t["patch_size"], t["patch_size_t"], t["caption_channels"]) == (1, 1, 4096)
    assert arch.pixels_per_cell == 32 and arch.vae["temporal_compression_ratio"] == 8
    assert arch.vae["timestep_conditioning"] == timestep_vae
    assert arch.scheduler["use_dynamic_shifting"] == dynamic  # LTXConditionPipeline passes no mu
    assert arch.checkpoint.experts == 1


def test_build_full_width_ltx_transformer() -> None:
    model = build_transformer("ltx-video-0.9.7-dev", num_layers=1, device="meta")
    attn2 = model.transformer_blocks[0].attn2
    assert len(model.transformer_blocks) == 1
    assert (attn2.heads, attn2.to_q.in_features, attn2.to_k.in_features) == (32, 4096, 4096)
    assert model.caption_projection.linear_1.in_features == 4096


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_architecture_facts(name: str) -> None:
    arch = load_architecture(name)
    t = arch.transformer
    width, heads, layers, ffn, c_in, c_out, px, experts, image = EXPECTED[name]
    assert arch.name == name
    assert (arch.width, t["num_attention_heads"], t["attention_head_dim"]) == (width, heads, 128)
    assert (t["num_layers"], t["ffn_dim"], t["in_channels"], t["out_channels"]) == (layers, ffn, c_in, c_out)
    assert t["text_dim"] == 4096 and t["patch_size"] == [1, 2, 2]
    assert arch.pixels_per_cell == px
    assert arch.checkpoint.experts == experts
    assert (t["image_dim"], t["added_kv_proj_dim"]) == ((1280, width) if image else (None, None))
    assert arch.checkpoint.has_image_encoder == image
    assert arch.vae["z_dim"] == (48 if px == 32 else 16)


def test_pipeline_level_facts() -> None:
    assert load_architecture("wan2.2-t2v-a14b").checkpoint.boundary_ratio == 0.875
    assert load_architecture("wan2.2-i2v-a14b").checkpoint.boundary_ratio == 0.9
    assert load_architecture("wan2.2-ti2v-5b").checkpoint.expand_timesteps
    assert load_architecture("wan2.1-flf2v-14b-720p").transformer["pos_embed_seq_len"] == 2 * 257
    assert load_architecture("wan2.1-vace-14b").transformer["vace_layers"] == [0, 5, 10, 15, 20, 25, 30, 35]


# name: (transformer class, pipeline class, the variant ``auto`` runs, the tasks the checkpoint runs)
DERIVED = {
    "skyreels-v2-t2v-14b-720p": ("SkyReelsV2Transformer3DModel", "SkyReelsV2Pipeline", "skyreels-v2-t2v", ("t2v",)),
    "skyreels-v2-i2v-14b-540p": (
        "SkyReelsV2Transformer3DModel", "SkyReelsV2ImageToVideoPipeline", "skyreels-v2-i2v", ("i2v",),
    ),
    "skyreels-v2-df-1.3b-540p": (
        "SkyReelsV2Transformer3DModel", "SkyReelsV2DiffusionForcingPipeline", "skyreels-v2-df-t2v", ("t2v", "i2v"),
    ),
    "chronoedit-14b": ("ChronoEditTransformer3DModel", "ChronoEditPipeline", "chronoedit", ("image_edit",)),
    "lucy-edit-dev": ("WanTransformer3DModel", "LucyEditPipeline", "lucy-edit", ("video_edit",)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_wan_derivatives_read_as_wan_variants(name: str) -> None:
    from attention_visual.families import checkpoint_rules, family_named

    arch = load_architecture(name)
    transformer_class, pipeline_class, variant, tasks = DERIVED[name]
    rules = checkpoint_rules(family_named("wan"))
    spec = arch.checkpoint
    assert (arch.transformer["_class_name"], spec.class_name) == (transformer_class, pipeline_class)
    assert rules.variant_for(spec, "auto").name == variant and rules.tasks_of(spec) == tasks
    assert rules.variant_for(spec, "auto").pixels_per_cell == arch.pixels_per_cell
    assert arch.hub_id in rules.variant_for(spec, "auto").checkpoints
    assert arch.checkpoint.experts == 1 and arch.checkpoint.expand_timesteps == name.startswith("lucy")


def test_unknown_name_lists_the_shipped_ones() -> None:
    shipped = r"shipped: chronoedit-14b, cogvideox-2b, .*ltx-2, ltx-2\.3, .*ltx-video-0\.9\.0, .*wan2\.1-flf2v"
    with pytest.raises(ConfigError, match=rf"unknown model config 'wan3'; {shipped}"):
        load_architecture("wan3")


@pytest.mark.parametrize(
    ("name", "cross_in", "added_kv"),
    [
        ("wan2.2-ti2v-5b", 3072, False),
        ("wan2.1-i2v-14b-480p", 5120, True),
        ("wan2.1-vace-1.3b", 1536, False),
        ("skyreels-v2-i2v-1.3b-540p", 1536, True),
        ("skyreels-v2-df-14b-720p", 5120, False),
        ("chronoedit-14b", 5120, True),
        ("lucy-edit-dev", 3072, False),
    ],
)
def test_build_full_width_transformer(name: str, cross_in: int, added_kv: bool) -> None:
    model = build_transformer(name, num_layers=1, device="meta")
    arch = load_architecture(name)
    assert len(model.blocks) == 1
    attn2 = model.blocks[0].attn2
    assert attn2.to_q.in_features == cross_in == arch.width
    assert attn2.to_k.in_features == cross_in  # the text is projected to the model width first
    assert model.condition_embedder.text_embedder.linear_1.in_features == 4096
    assert (getattr(attn2, "add_k_proj", None) is not None) == added_kv
    assert model.config.in_channels == arch.transformer["in_channels"]
    assert not model.training and next(model.parameters()).dtype == torch.float32
    assert next(model.parameters()).device.type == "meta"
    if name.startswith("wan2.1-vace"):
        assert list(model.config.vace_layers) == [0]


def test_build_is_deterministic_and_validates() -> None:
    a = build_transformer("wan2.1-t2v-1.3b", num_layers=1, seed=3)
    b = build_transformer("wan2.1-t2v-1.3b", num_layers=1, seed=3)
    torch.testing.assert_close(a.blocks[0].attn2.to_q.weight, b.blocks[0].attn2.to_q.weight, rtol=0, atol=0)
    with pytest.raises(ConfigError, match="num_layers must be >= 1"):
        build_transformer("wan2.1-t2v-1.3b", num_layers=0)
