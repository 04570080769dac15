"""pack → unpack round trips for every storage option; the analyzer and the tables read packed batches."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attention_visual.analysis import batch_stats
from attention_visual.analysis.pack import pack_batch, unpack_batch
from attention_visual.cli.main import main
from attention_visual.storage import read_array
from attention_visual.visualization import AttentionAnalyzer
from support.synthetic import GRID, random_batch, random_maps, save_video

VID = "prompt_001_vid_001"

OPTIONS: dict[str, dict[str, object]] = {
    "npz-float32": {},
    "npz-float16-uncompressed": {"dtype": "float16", "compress": False},
    "pt-float16": {"storage_format": "torch", "dtype": "float16"},
    "per-head": {"axes": ("head", "frame", "y", "x"), "leading": (3,), "num_heads": 3},
    "per-block": {"axes": ("block", "frame", "y", "x"), "leading": (2,),
                  "blocks": ("blocks.0.attn2", "blocks.1.attn2")},
    "both-passes": {"axes": ("pass", "frame", "y", "x"), "leading": (2,), "passes": ("cond", "uncond"),
                    "guidance_pass": "both"},
    "downsampled": {"grid": (3, 1, 3), "spatial_downsample_factor": 2},
    "no-aggregate": {"aggregated": False},
}  # fmt: skip


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def _write(batch: Path, options: dict[str, object]) -> None:
    opts = dict(options)
    leading = tuple(opts.pop("leading", ()))  # type: ignore[arg-type]
    grid = tuple(opts.pop("grid", GRID))  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    for v, complete in ((1, True), (2, False)):  # an unfinished video keeps its missing completion mark
        maps = {w: random_maps(rng, 3, (*leading, *grid)) for w in ("dog", "red car")}
        save_video(batch / "attention_maps", f"prompt_001_vid_{v:03d}", maps, seed=v, complete=complete, **opts)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_round_trip_restores_every_file(tmp_path: Path, name: str) -> None:
    _write(tmp_path, OPTIONS[name])
    original = tmp_path / "original"
    shutil.copytree(tmp_path / "attention_maps", original)
    before = _files(original)
    packed = pack_batch(tmp_path)
    assert not (tmp_path / "attention_maps").exists()
    assert packed.videos == 2 and packed.words == 4
    unpacked = unpack_batch(tmp_path)
    assert not (tmp_path / "attention_maps.zarr").exists()
    after = _files(unpacked.path)
    assert sorted(after) == sorted(before)
    for rel, path in before.items():
        if rel.endswith(".json"):
            assert after[rel].read_bytes() == path.read_bytes(), rel
        else:
            a, b = read_array(path), read_array(after[rel])
            assert a.dtype == b.dtype and np.array_equal(a, b), rel
            if path.suffix == ".npz":
                assert (after[rel].stat().st_size < 1000) == (path.stat().st_size < 1000), "compression kept"


def test_packed_batch_is_one_file_per_video_word(tmp_path: Path) -> None:
    random_batch(tmp_path, videos=2, steps=3)
    pack_batch(tmp_path)
    assert not (tmp_path / "attention_maps").exists()
    data = [p for p in (tmp_path / "attention_maps.zarr").rglob("*") if p.is_file() and p.name != "zarr.json"]
    # one shard per video × word (its steps) + one per word (its step averages); the rest is zarr.json metadata
    assert len(data) == 2 * 2 + 2


def test_analyzer_reads_packed_like_seed(tmp_path: Path) -> None:
    seed_batch, packed_batch = tmp_path / "seed", tmp_path / "packed"
    _write(seed_batch, OPTIONS["both-passes"])
    shutil.copytree(seed_batch, packed_batch)
    pack_batch(packed_batch)
    seed = AttentionAnalyzer(seed_batch / "attention_maps")
    for packed in (
        AttentionAnalyzer(packed_batch / "attention_maps"),
        AttentionAnalyzer(packed_batch / "attention_maps.zarr"),
    ):
        assert packed.get_available_videos() == seed.get_available_videos()
        assert packed.get_available_videos(include_incomplete=False) == [VID]
        assert packed.get_incomplete_videos() == ["prompt_001_vid_002"]
        assert packed.get_available_words(VID) == seed.get_available_words(VID) == ["dog", "red car"]
        assert packed.get_available_steps(VID, "red car") == [0, 1, 2]
        a, b = seed.load_step(VID, "red car", 1), packed.load_step(VID, "red car", 1)
        assert a.metadata == b.metadata and np.array_equal(a.attention_map, b.attention_map)
        a, b = seed.load_aggregated(VID, "dog"), packed.load_aggregated(VID, "dog")
        assert a.metadata == b.metadata and np.array_equal(a.attention_map, b.attention_map)
        for pass_name in ("cond", "uncond"):
            (sa, ma), (sb, mb) = seed.step_stack(VID, "dog", pass_name), packed.step_stack(VID, "dog", pass_name)
            assert ma == mb and np.array_equal(sa, sb)
        with pytest.raises(KeyError, match="available steps: 0, 1, 2"):
            packed.load_step(VID, "dog", 7)
        with pytest.raises(KeyError, match="available words: dog, red car"):
            packed.load_step(VID, "cat", 0)


def test_stats_same_on_packed(tmp_path: Path) -> None:
    random_batch(tmp_path, videos=2, steps=3)
    before = batch_stats(tmp_path)
    pack_batch(tmp_path)
    pd.testing.assert_frame_equal(batch_stats(tmp_path), before)


def test_cli_pack_unpack_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    (tmp_path / "empty").mkdir()
    assert main(["pack", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "has no attention_maps to pack" in err and err.count("\n") == 1
    random_batch(tmp_path, videos=1)
    assert main(["unpack", str(tmp_path)]) == 0  # unpacked already: nothing to do, as for a rerun
    assert "nothing to unpack" in caplog.text
    assert capsys.readouterr().out.strip() == str((tmp_path / "attention_maps").absolute())
    assert main(["pack", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str((tmp_path / "attention_maps.zarr").absolute())
    assert main(["pack", str(tmp_path)]) == 0
    assert "nothing to pack" in caplog.text and not (tmp_path / "attention_maps").exists()
    assert main(["unpack", str(tmp_path)]) == 0
    assert (tmp_path / "attention_maps" / VID / "dog" / "step_000.npz").is_file()
    assert not (tmp_path / "attention_maps.zarr").exists() and not (tmp_path / ".layout-transaction.json").exists()


def test_report_of_packed_batch_equals_seed(tmp_path: Path) -> None:
    from attention_visual.report import write_report
    from support.batch import build_batch

    build_batch(tmp_path / "seed", videos_per_prompt=1)
    shutil.copytree(tmp_path / "seed", tmp_path / "packed")
    pack_batch(tmp_path / "packed")
    pages = {}
    for name in ("seed", "packed"):
        index = write_report(tmp_path / name, comparison_plots=False)
        # the images and the page (less its time of writing); the sidecars differ only in the maps' mtimes
        pages[name] = {rel: p.read_bytes() for rel, p in _files(index.parent).items() if p.suffix != ".json"}
        pages[name]["index.html"] = re.sub(rb"\d{4}-\d\d-\d\dT[0-9:]+\+00:00", b"", pages[name]["index.html"])
    assert any(rel.endswith(".png") for rel in pages["seed"])
    assert pages["packed"] == pages["seed"]


def test_step_averages_across_several_shards(tmp_path: Path) -> None:
    from attention_visual.storage.packed.reader import PackedReader
    from attention_visual.storage.packed.writer import PackedWriter
    from support.synthetic import make_metadata

    rng = np.random.default_rng(0)
    writer = PackedWriter(tmp_path / "store.zarr", aggregate_shard=2)
    maps = {f"v{i}": rng.random(GRID, dtype=np.float32) for i in range(5)}
    writer.write_aggregates("dog", sorted(maps), lambda v: (make_metadata(step=None, video_id=v, seed=7), maps[v]))
    shards = list((tmp_path / "store.zarr" / "_aggregated" / "dog").glob("c.*"))
    assert len(shards) == 3  # 2 + 2 + 1 videos
    aggregates = PackedReader(tmp_path / "store.zarr").aggregates("dog")
    assert aggregates is not None
    for video_id, arr in maps.items():
        info = aggregates.read(video_id)
        assert info is not None and np.array_equal(info.attention_map, arr)
        assert info.metadata.video_id == video_id and info.metadata.seed == 7
    assert aggregates.read("v9") is None
    ids, whole = aggregates.read_all()  # straight from the shard files
    assert ids == sorted(maps) and np.array_equal(whole, np.asarray(aggregates.array[...]))


def test_analysis_never_imports_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    random_batch(tmp_path, videos=1)
    code = (
        "import sys; from attention_visual.analysis import batch_stats, open_batch, pack_batch, pair_stats;"
        f"pack_batch({str(tmp_path)!r}); batch_stats({str(tmp_path)!r}); pair_stats({str(tmp_path)!r});"
        f"open_batch({str(tmp_path)!r}).attention.values; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
