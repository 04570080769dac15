"""Install and remove the capture hooks, through diffusers' and torch's own extension points.

* A stateful diffusers ``ModelHook`` on each transformer (both experts of Wan2.2 A14B) receives the
  pipeline's ``cache_context("cond" | "uncond", step_index=..., sigma=...)`` where there is one and
  brackets each transformer pass; :class:`~.steps.PassClock` names the pass and step (counting
  them where the pipeline does not say).
* Torch forward hooks on every captured ``blocks.N.attn2.norm_q`` / ``norm_k`` receive the exact
  query and key tensors the attention consumes; with ``image_map`` also ``to_v``, ``add_v_proj``
  and ``norm_added_k`` (the image branch, see :mod:`.image_share`).
* A forward pre-hook on the text encoder sees the token ids the pipeline encodes, to check that
  the pipeline was called with the capture's prompt and to learn each pass's real token count.

No library class is patched; :meth:`CaptureHooks.remove` restores every module as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from diffusers.hooks.hooks import BaseState, HookRegistry, ModelHook, StateManager
from torch import nn
from torch.utils.hooks import RemovableHandle

from attention_visual.capture.recorder import CaptureRecorder
from attention_visual.capture.steps import PassClock
from attention_visual.errors import CaptureError

log = logging.getLogger(__name__)

HOOK_NAME = "attention_visual_capture"


class _NoState(BaseState):
    def reset(self, *args: Any, **kwargs: Any) -> None:
        return None


class _PassContextHook(ModelHook):
    """Brackets each pass of one transformer and learns from the pipeline which pass and step it is."""

    _is_stateful = True  # so that diffusers hands it the pipeline's cache context

    def __init__(self, owner: CaptureHooks, expert: str | None) -> None:
        super().__init__()
        self.state = StateManager(_NoState)  # type: ignore[arg-type]  # diffusers annotates the class as an instance
        self.owner = owner
        self.expert = expert

    def pre_forward(self, module: nn.Module, *args: Any, **kwargs: Any) -> tuple[tuple[Any], dict[str, Any]]:
        try:
            context = self.state.context
        except ValueError:
            context = None
        hidden = kwargs.get("hidden_states", args[0] if args else None)
        timestep = kwargs.get("timestep", args[1] if len(args) > 1 else None)
        if not isinstance(hidden, torch.Tensor):
            raise CaptureError("the transformer was called without hidden_states")
        info = self.owner.clock.next(context, timestep if isinstance(timestep, torch.Tensor) else None)
        self.owner.check_prompt()
        self.owner.recorder.begin(info, self.expert, hidden)
        return args, kwargs

    def post_forward(self, module: nn.Module, output: Any) -> Any:
        self.owner.recorder.end()
        return output

    def reset_state(self, module: nn.Module) -> nn.Module:
        return module


@dataclass(frozen=True)
class HookedModel:
    """One transformer to hook: its expert label and its captured ``(block index, attn2)`` modules."""

    expert: str | None  # "high_noise" | "low_noise" with two experts, else None
    transformer: nn.Module
    blocks: list[tuple[int, nn.Module]]


class CaptureHooks:
    """Owns every hook of one capture; ``install()`` once, ``remove()`` always.

    Args:
        models: the transformers to hook (one, or both experts), each with its captured blocks.
        text_encoder: the pipeline's text encoder (``None`` to skip the prompt check).
        recorder: receives the events.
        expected_ids: the capture prompt's token ids (``[max_sequence_length]``).
        clock: names each pass and step.
        image_branch: also hook ``to_v``, ``add_v_proj`` and ``norm_added_k`` (the ``<image>`` map).
    """

    def __init__(
        self,
        models: list[HookedModel],
        text_encoder: nn.Module | None,
        recorder: CaptureRecorder,
        expected_ids: tuple[int, ...],
        clock: PassClock,
        *,
        image_branch: bool = False,
    ) -> None:
        self.models = models
        self.text_encoder = text_encoder
        self.recorder = recorder
        self.expected_ids = expected_ids
        self.clock = clock
        self.image_branch = image_branch
        self._handles: list[RemovableHandle] = []
        self._had_forward_attr: dict[int, bool] = {}
        self._had_registry: dict[int, bool] = {}
        self.installed = False
        #: (token ids match the capture prompt, real token count) of each text-encoder call
        self.encoder_calls: list[tuple[bool, int]] = []
        self._prompt_checked = False

    def install(self) -> None:
        if self.installed:
            raise CaptureError("capture hooks are already installed")
        for m in self.models:
            registry = getattr(m.transformer, "_diffusers_hook", None)
            if registry is not None and registry.get_hook(HOOK_NAME) is not None:
                raise CaptureError("another AttentionCapture is already active on this pipeline")
        self.installed = True
        try:
            for m in self.models:
                key = id(m.transformer)
                self._had_forward_attr[key] = "forward" in vars(m.transformer)
                self._had_registry[key] = getattr(m.transformer, "_diffusers_hook", None) is not None
                HookRegistry.check_if_exists_or_initialize(m.transformer).register_hook(
                    _PassContextHook(self, m.expert), HOOK_NAME
                )
                for index, attn2 in m.blocks:
                    self._hook_block(index, attn2)
            if self.text_encoder is not None:
                self._handles.append(
                    self.text_encoder.register_forward_pre_hook(self._text_encoder_hook, with_kwargs=True)
                )
        except BaseException:
            self.remove()
            raise

    def _hook_block(self, index: int, attn2: nn.Module) -> None:
        recorder = self.recorder
        points = [("norm_q", recorder.on_query), ("norm_k", recorder.on_key)]
        if self.image_branch:
            points += [
                ("to_v", recorder.on_value),
                ("add_v_proj", recorder.on_image_value),
                ("norm_added_k", recorder.on_image_key),
            ]
        for name, callback in points:
            module = attn2.get_submodule(name)
            self._handles.append(module.register_forward_hook(self._forward_hook(index, callback)))

    def remove(self) -> None:
        """Remove every hook and restore the modules' attributes exactly."""
        if not self.installed:
            return
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for m in self.models:
            key = id(m.transformer)
            if key not in self._had_registry:
                continue  # install stopped before this model
            registry = getattr(m.transformer, "_diffusers_hook", None)
            others = False  # hooks registered after ours (e.g. a cache enabled inside the `with`) stay chained
            if registry is not None:
                if registry.get_hook(HOOK_NAME) is not None:
                    registry.remove_hook(HOOK_NAME, recurse=False)
                others = bool(registry.hooks)
                if not self._had_registry[key] and not others:
                    del m.transformer._diffusers_hook
            if not self._had_forward_attr[key] and not others and "forward" in vars(m.transformer):
                del m.transformer.forward  # back to the class's forward
        self._had_registry.clear()
        self._had_forward_attr.clear()
        self.installed = False

    def _forward_hook(self, index: int, callback: Any) -> Any:
        recorder = self.recorder

        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if recorder.wants(index):
                callback(index, output)

        return hook

    def check_prompt(self) -> None:
        """Before the first pass: the pipeline must have encoded the capture's prompt.

        Also learns the real (non-pad) token count of the prompt and negative prompt. When the
        caller passed ``prompt_embeds`` the text encoder does not run and nothing can be checked.
        """
        if self._prompt_checked:
            return
        self._prompt_checked = True
        if not self.encoder_calls:
            log.info("the text encoder did not run (prompt_embeds given): the prompt cannot be checked")
            return
        matches = [i for i, (same, _) in enumerate(self.encoder_calls) if same]
        if not matches:
            raise CaptureError(
                "the pipeline was called with a prompt other than capture.prompt "
                f"(or with a max_sequence_length other than the capture's {len(self.expected_ids)})"
            )
        self.recorder.num_real_keys["cond"] = self.encoder_calls[matches[0]][1]
        others = [real for i, (_, real) in enumerate(self.encoder_calls) if i != matches[0]]
        if others:
            self.recorder.num_real_keys["uncond"] = others[0]

    def _text_encoder_hook(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)
        if not isinstance(ids, torch.Tensor) or ids.ndim != 2:
            return None
        if ids.shape[0] != 1:
            raise CaptureError(
                f"AttentionCapture records one video per pipeline call, got {ids.shape[0]} prompts; "
                "call the pipeline once per prompt"
            )
        real = int(mask.sum().item()) if isinstance(mask, torch.Tensor) else int(ids.shape[1])
        self.encoder_calls.append((tuple(ids[0].tolist()) == self.expected_ids, real))
        return None


__all__ = ["HOOK_NAME", "CaptureHooks", "HookedModel"]
