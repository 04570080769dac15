"""``models:``: one batch through several models (entries, names, shared keys, each model checked as its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from attention_visual.config import config_from_dict, load_config
from attention_visual.config.loader import dump_config
from attention_visual.config.models import COMPARISON_MODEL_ID, parse_models
from attention_visual.errors import ConfigError
from attention_visual.pipeline.plan import plan_batch

REPO = Path(__file__).resolve().parents[2]
COMPARE = REPO / "configs" / "compare_families.yaml"
SIZES = {"height": 64, "width": 96, "num_frames": 17, "num_inference_steps": 2}


def _config(models: list[object], **generation: object) -> dict[str, object]:
    return {"prompts": ["a (dog) on the (beach)"], "models": models, "generation": {**SIZES, **generation}}


def test_entries_read_naturally_and_name_their_models() -> None:
    entries = parse_models("models", ["tiny", {"model_id": "Lightricks/LTX-Video", "guidance_scale": 3.0}])
    assert [(e.name, e.model_id, e.settings) for e in entries] == [
        ("tiny", "tiny", ()),
        ("LTX-Video", "Lightricks/LTX-Video", (("guidance_scale", 3.0),)),
    ]


def test_each_model_gets_the_shared_section_with_its_own_keys() -> None:
    cfg = config_from_dict(_config(["tiny", {"model_id": "tiny-ltx", "name": "ltx", "guidance_scale": 3.0}]))
    assert cfg.generation.model_id == COMPARISON_MODEL_ID and cfg.model_names == ("tiny", "ltx")
    ltx = cfg.for_model("ltx")
    assert ltx.generation.model_id == "tiny-ltx" and ltx.generation.guidance_scale == 3.0 and not ltx.models
    assert cfg.for_model("tiny").generation.guidance_scale == cfg.generation.guidance_scale
    assert cfg.for_model(None) is cfg
    with pytest.raises(KeyError, match="no model named 'wan'"):
        cfg.for_model("wan")


def test_the_resolved_config_reads_back_equal() -> None:
    cfg = load_config(COMPARE)
    again = config_from_dict(cfg.to_dict())
    assert again == cfg and "model_id" not in cfg.to_dict()["generation"]
    assert list(cfg.to_dict())[:2] == ["prompts", "models"]
    assert "models:" in dump_config(cfg)


def test_plan_is_model_major_with_the_same_seeds_in_every_model() -> None:
    cfg = config_from_dict(_config(["tiny", "tiny-ltx"], videos_per_prompt=2, seed=7))
    jobs = plan_batch(cfg)
    assert [j.video_id for j in jobs] == [
        "tiny_prompt_001_vid_001",
        "tiny_prompt_001_vid_002",
        "tiny-ltx_prompt_001_vid_001",
        "tiny-ltx_prompt_001_vid_002",
    ]
    assert [j.seed for j in jobs] == [7, 8, 7, 8] and [j.index for j in jobs] == [0, 1, 2, 3]
    assert jobs[2].video_path == "videos/tiny-ltx/prompt_001/video_001.mp4"
    assert jobs[2].status_path == "status/tiny-ltx_prompt_001_vid_001.json"
    assert {(j.model, j.model_id) for j in jobs} == {("tiny", "tiny"), ("tiny-ltx", "tiny-ltx")}


def test_one_model_keeps_its_plain_ids() -> None:
    [job] = plan_batch(config_from_dict({"prompts": ["a (dog)"], "generation": {"model_id": "tiny"}}))
    assert (job.video_id, job.model, job.model_id) == ("prompt_001_vid_001", None, "tiny")


@pytest.mark.parametrize(
    ("models", "generation", "message"),
    [
        ([], {}, "models must be a non-empty list of model ids or mappings with model_id"),
        ([{"name": "x"}], {}, "models[0] is a mapping without model_id"),
        ([{"model_id": "tiny", "seed": 3}], {}, "models[0].seed is shared by every model"),
        ([{"model_id": "tiny", "videos_per_prompt": 2}], {}, "models[0].videos_per_prompt is shared by every model"),
        ([{"model_id": "tiny", "guidance_scal": 3}], {}, "unknown key models[0].guidance_scal (did you mean guidance"),
        (["tiny", "tiny"], {}, "models[1]: the name 'tiny' is already models[0]'s"),
        ([{"model_id": "tiny", "name": "../up"}], {}, "models[0].name must be 1-64 letters"),
        ([7], {}, "models[0] must be a model id or a mapping with model_id"),
        (["tiny"], {"model_id": "tiny"}, "set the models either in models: or in generation.model_id, not both"),
        # each model's section is checked against its own family, and the message names its entry
        (["tiny", {"model_id": "tiny-ltx", "num_frames": 16}], {}, "models[1].num_frames must be of the form 8k+1"),
        (["tiny", "tiny-ltx"], {"num_frames": 13}, "models[1] (tiny-ltx): generation.num_frames must be of the form"),
        ([{"model_id": "tiny-ltx", "flow_shift": 3.0}], {}, "models[0].flow_shift is not used by LTX-Video"),
    ],
)  # fmt: skip
def test_bad_models_are_one_line_naming_the_entry(
    models: list[object], generation: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        config_from_dict(_config(models, **generation))
    assert message in str(raised.value) and "\n" not in str(raised.value)
