"""Bad input is refused before any model loads, with one line and exit status 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from attention_visual.cli.main import main
from attention_visual.errors import ConfigError, PromptError
from attention_visual.pipeline import BatchOptions, run_batch
from attention_visual.pipeline import batch as batch_module
from attention_visual.pipeline.validation import load_tokenizer
from pipeline.pipeline_support import tiny_config, tiny_data, write_config


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to load a model."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(batch_module, "load_pipeline", refuse)


def test_a_cut_off_marked_word_fails_the_batch_naming_the_prompt(tmp_path: Path, no_model: None) -> None:
    long_prompt = "a dog runs on the beach and a cat sleeps on a red chair near the (window)"
    config = tiny_config(tmp_path / "out", prompts=["a (dog)", long_prompt], generation={"max_sequence_length": 8})
    with pytest.raises(PromptError, match=r"^prompts\[1\] \(prompt 2, 'a dog runs.*'\): word 'window' is cut off"):
        run_batch(config, Path("t.yaml"), BatchOptions(progress=False))
    assert not (tmp_path / "out").exists()  # nothing was created either


def test_the_cli_prints_one_line_and_exits_2(
    tmp_path: Path, no_model: None, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_data(tmp_path / "out", prompts=["a (dog)", "a (cat)", "a cat " * 10 + "and a (sofa)"])
    data["generation"]["max_sequence_length"] = 12
    path = write_config(tmp_path / "bad.yaml", data)
    assert main(["generate", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("attention-visual: error: prompts[2] (prompt 3, ")
    assert main(["generate", str(path), "--set", "generation.height=30"]) == 2
    assert "generation.height must be a multiple of 16" in capsys.readouterr().err


def test_options_that_cannot_run_here_are_refused_before_loading(tmp_path: Path, no_model: None) -> None:
    config = tiny_config(tmp_path, attention_analysis={"spatial_downsample_factor": 2})  # grid 2 x 3
    with pytest.raises(ConfigError, match="spatial_downsample_factor 2 must divide the latent grid 2x3"):
        run_batch(config, Path("t.yaml"), BatchOptions(progress=False))
    if not __import__("torch").cuda.is_available():
        offload = tiny_config(tmp_path, generation={"device": "auto", "enable_model_cpu_offload": True})
        with pytest.raises(ConfigError, match="enable_model_cpu_offload needs a CUDA device"):
            run_batch(offload, Path("t.yaml"), BatchOptions(progress=False))


def test_an_explicit_batch_name_holding_another_config_is_refused(
    tmp_path: Path, fresh_tiny_pipe: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_data(tmp_path / "out", prompts=["a (dog)"], batch_name="mine")
    data["generation"]["videos_per_prompt"] = 1
    run_batch(tiny_config(tmp_path / "out", **{k: data[k] for k in ("prompts", "batch_name", "generation")}),
              Path("t.yaml"), BatchOptions(progress=False), pipe=fresh_tiny_pipe)  # fmt: skip
    path = write_config(tmp_path / "other.yaml", data)
    assert main(["generate", str(path), "--set", "generation.seed=1", "--no-progress"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err


def test_the_tokenizer_of_an_unavailable_model_is_a_clean_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"cannot load the tokenizer of 'nobody/no-such-model' \(offline"):
        load_tokenizer("nobody/no-such-model")
    assert load_tokenizer("tiny").is_fast


# A config that `config` accepts must not fail at the start of `generate`: both refuse these, with one
# line naming the dotted key and what is allowed, before any folder exists or any model loads.
# The tiny config: 2 prompts x 2 videos, 2 denoising steps, a 2-block transformer, max_sequence_length 32.
UNRUNNABLE = [
    pytest.param(
        ["attention_analysis.visualization_params.fps=500"],
        "attention_analysis.visualization_params.fps must be in [1, 240], got 500",
        id="render-fps-500",
    ),
    pytest.param(
        ["generation.seed=99999999999999999999"],
        "generation.seed must be in [0, 9223372036854775804] so that every video's seed (seed + index, 4 videos)",
        id="seed-overflow",
    ),
    pytest.param(
        [f"generation.seed={2**63 - 3}"],  # fits alone, but video 4 would get 2**63
        "generation.seed must be in [0, 9223372036854775804]",
        id="seed-plus-index-overflow",
    ),
    pytest.param(
        ["attention_analysis.blocks=[5]"],
        "attention_analysis.blocks must be block indices in [0, 1] ('tiny' has 2 blocks (num_layers)), got [5]",
        id="block-out-of-range",
    ),
    pytest.param(
        ["generation.device=cuda:3"],
        "generation.device must be one of 'auto', 'cpu'",
        id="missing-cuda-device",
    ),
    pytest.param(
        ["generation.max_sequence_length=8"],
        "prompts[0] (prompt 1, 'A romantic (kiss) between a man and woman with (flowers)'): word 'flowers' is cut off",
        id="cut-off-word",
    ),
    pytest.param(
        ["attention_analysis.steps=[2, 3]", "attention_analysis.storage_interval=2"],
        "attention_analysis.steps must be < generation.num_inference_steps (2), got [2, 3]",
        id="steps-capture-nothing",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), UNRUNNABLE)
def test_config_and_generate_refuse_the_same_unrunnable_configs(
    overrides: list[str], message: str, tmp_path: Path, no_model: None, capsys: pytest.CaptureFixture[str]
) -> None:
    if "cuda:3" in overrides[0] and __import__("torch").cuda.device_count() > 3:
        pytest.skip("this machine has a cuda:3")
    out_dir = tmp_path / "out"
    path = write_config(tmp_path / "c.yaml", tiny_data(out_dir))
    sets = [arg for text in overrides for arg in ("--set", text)]
    for command in (["config"], ["generate", "--no-progress"]):
        assert main([*command, str(path), *sets]) == 2, command
        out, err = capsys.readouterr()
        assert out == ""
        assert err.startswith(f"attention-visual: error: {message}") and err.count("\n") == 1, err
        assert "Traceback" not in err
        assert not out_dir.exists()  # no batch folder, and `no_model` saw no model load


def test_an_unavailable_mps_device_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if __import__("torch").backends.mps.is_available():
        pytest.skip("this machine has MPS")
    path = write_config(tmp_path / "c.yaml", tiny_data(tmp_path / "out"))
    assert main(["config", str(path), "--set", "generation.device=mps"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attention-visual: error: generation.device must be one of 'auto', 'cpu'")
    assert err.rstrip().endswith("got 'mps'")


def test_config_accepts_what_generate_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = ["attention_analysis.blocks=[1]", "attention_analysis.steps=[0, 1]", "attention_analysis.storage_interval=2"]
    path = write_config(tmp_path / "c.yaml", tiny_data(tmp_path / "out"))
    assert main(["config", str(path), *[a for s in sets for a in ("--set", s)]]) == 0
    assert capsys.readouterr().err == ""


def test_config_skips_only_what_it_cannot_read_offline(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = tiny_data(tmp_path / "out", attention_analysis={"blocks": [40]})
    data["generation"]["model_id"] = "nobody/no-such-model"
    path = write_config(tmp_path / "c.yaml", data)
    with caplog.at_level("INFO", logger="attention_visual"):
        assert main(["config", str(path)]) == 0
    logged = caplog.text
    assert "transformer/config.json of 'nobody/no-such-model' is not available offline" in logged
    assert "marked words not checked against the tokenizer: cannot load the tokenizer of 'nobody/" in logged
    assert capsys.readouterr().out.startswith("prompts:")
    # generate needs the tokenizer: the same config is refused (before any model load)
    assert main(["generate", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err  # its model_index.json (read first, for the pipeline class) or its tokenizer
    assert "hf download nobody/no-such-model" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
