"""Digests of the maps of every tiny Wan variant, to prove that a refactoring changes no bit.

``tests/capture/data/wan_map_digests.json`` was written by ``python tests/capture/map_digests.py``
on main *before* the Wan pipelines moved into the model-family layer (``attention_visual.families``);
``test_map_digests.py`` recomputes every case and requires the same digests. A case is one tiny model,
one :class:`CaptureSettings` and the call arguments of :mod:`capture.variant_support`; for each of its
words it records

* ``array``: sha256 of the ``[step, *leading, frame, y, x]`` array (dtype, shape and bytes);
* ``metadata``: per step and for the step average, sha256 of the metadata's *recorded fields*
  (``FIELDS``: every field the metadata had when the digests were made, less the volatile
  ``storage_timestamp`` and ``attention_storage_version``), so fields added later do not count but
  a changed value of an old one does.

Run with torch on one thread (as the test suite does): the digests are of float32 bytes.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from attention_visual.capture import AttentionCapture, CaptureSettings
from capture.variant_support import PROMPT, call_kwargs, num_reference, pipe_of

DIGESTS = Path(__file__).with_name("data") / "wan_map_digests.json"
VOLATILE = ("storage_timestamp", "attention_storage_version")

#: (case name, tiny model id, CaptureSettings keyword arguments)
CASES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("tiny", "tiny", {}),
    ("tiny-both", "tiny", {"guidance_pass": "both"}),
    ("tiny-uncond", "tiny", {"guidance_pass": "uncond"}),
    ("tiny-per-head-block", "tiny", {"guidance_pass": "both", "store_per_head": True, "store_per_block": True}),
    ("tiny-exclude-mean", "tiny", {"padding": "exclude", "token_reduction": "mean"}),
    ("tiny-max-f16-block1", "tiny", {"token_reduction": "max", "storage_dtype": "float16", "blocks": (1,)}),
    ("tiny-v2v-both", "tiny-v2v", {"guidance_pass": "both"}),
    ("tiny-wan22-a14b-both", "tiny-wan22-a14b", {"guidance_pass": "both"}),
    ("tiny-wan22-i2v-a14b-both", "tiny-wan22-i2v-a14b", {"guidance_pass": "both"}),
    ("tiny-ti2v-5b-both", "tiny-ti2v-5b", {"guidance_pass": "both"}),
    ("tiny-ti2v-5b-i2v-both", "tiny-ti2v-5b-i2v", {"guidance_pass": "both", "store_per_head": True}),
    ("tiny-i2v-both", "tiny-i2v", {"guidance_pass": "both"}),
    ("tiny-i2v-image-both", "tiny-i2v", {"guidance_pass": "both", "image_map": True}),
    ("tiny-i2v-image-per-head", "tiny-i2v", {"image_map": True, "store_per_head": True, "store_per_block": True}),
    ("tiny-flf2v-image-both", "tiny-flf2v", {"guidance_pass": "both", "image_map": True}),
    ("tiny-vace-both", "tiny-vace", {"guidance_pass": "both", "store_per_block": True}),
    ("tiny-vace-vace-blocks", "tiny-vace", {"guidance_pass": "both", "block_list": "vace_blocks"}),
    ("tiny-vace-vace-blocks-head", "tiny-vace", {"block_list": "vace_blocks", "store_per_head": True}),
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def array_digest(array: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and C-ordered bytes."""
    header = f"{array.dtype.str}{tuple(array.shape)}".encode()
    return _sha(header + np.ascontiguousarray(array).tobytes())


def metadata_digest(metadata: dict[str, Any], fields: list[str]) -> str:
    """sha256 of the JSON of ``fields`` of a metadata dict (sorted keys)."""
    chosen = {name: metadata.get(name) for name in fields}
    return _sha(json.dumps(chosen, sort_keys=True, ensure_ascii=False).encode())


def run_case(model_id: str, settings: dict[str, Any]) -> AttentionCapture:
    """Generate once under capture (the call arguments of :mod:`capture.variant_support`)."""
    pipe = pipe_of(model_id)
    kwargs = call_kwargs(model_id, output_type="latent")
    with AttentionCapture(
        pipe,
        PROMPT,
        CaptureSettings(**settings),
        kwargs["max_sequence_length"],
        num_reference_images=num_reference(kwargs),
    ) as cap:
        pipe(prompt=cap.prompt, generator=torch.Generator().manual_seed(0), **kwargs)
    return cap


def case_digests(model_id: str, settings: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Digests of one case: ``word_maps`` (arrays, per-step metadata) and every file ``save`` writes."""
    cap = run_case(model_id, settings)
    maps = cap.word_maps(video_id="digest", model_id=model_id, seed=0)
    words = {
        word: {
            "array": array_digest(maps[word]),
            "shape": list(maps[word].shape),
            "steps": [metadata_digest(m.to_dict(), fields) for m in maps.metadata[word]],
        }
        for word in maps
    }
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cap.save(root, "digest", model_id=model_id, seed=0)
        for path in sorted(root.rglob("*")):
            name = path.relative_to(root).as_posix()
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as data:
                    files[name] = _sha("".join(array_digest(data[k]) for k in sorted(data.files)).encode())
            elif path.name == "_complete.json":  # its checksums cover the timestamps: keep the stable keys
                summary = json.loads(path.read_text(encoding="utf-8"))
                files[name] = metadata_digest(summary, ["files", "passes", "steps", "video_id", "words"])
            elif path.suffix == ".json":
                files[name] = metadata_digest(json.loads(path.read_text(encoding="utf-8")), fields)
    return {"words": words, "files": files}


def compute(fields: list[str] | None = None) -> dict[str, Any]:
    """Every case's digests; ``fields``: the metadata fields to digest (default: all but the volatile ones)."""
    torch.set_num_threads(1)
    if fields is None:
        from attention_visual.storage import MapMetadata

        fields = sorted(f for f in MapMetadata.__dataclass_fields__ if f not in VOLATILE)
    cases = {name: {"model_id": model, "settings": settings} for name, model, settings in CASES}
    for name, model, settings in CASES:
        cases[name].update(case_digests(model, settings, fields))
    return {"fields": fields, "torch": torch.__version__, "cases": cases}


def main() -> None:
    data = compute()
    DIGESTS.parent.mkdir(exist_ok=True)
    DIGESTS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(data['cases'])} cases to {DIGESTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
