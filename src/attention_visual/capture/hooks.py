"""Install and remove the capture hooks, through diffusers' and torch's own extension points.

* A stateful diffusers ``ModelHook`` on the transformer receives the pipeline's
  ``cache_context("cond" | "uncond", step_index=..., sigma=...)`` (so it knows the guidance
  pass and step) and brackets each transformer pass.
* Torch forward hooks on every captured ``blocks.N.attn2.norm_q`` / ``norm_k`` receive the exact
  query and key tensors the attention consumes.
* A forward pre-hook on the text encoder sees the token ids the pipeline encodes, to check that
  the pipeline was called with the capture's prompt and to learn each pass's real token count.

No library class is patched; :meth:`CaptureHooks.remove` restores every module as it was.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from diffusers.hooks.hooks import BaseState, HookRegistry, ModelHook, StateManager
from torch import nn
from torch.utils.hooks import RemovableHandle

from attention_visual.capture.recorder import CaptureRecorder
from attention_visual.errors import CaptureError

log = logging.getLogger(__name__)

HOOK_NAME = "attention_visual_capture"


class _NoState(BaseState):
    def reset(self, *args: Any, **kwargs: Any) -> None:
        return None


class _PassContextHook(ModelHook):
    """Brackets each transformer pass and learns from the pipeline which pass and step it is."""

    _is_stateful = True  # so that diffusers hands it the pipeline's cache context

    def __init__(self, owner: CaptureHooks) -> None:
        super().__init__()
        self.state = StateManager(_NoState)  # type: ignore[arg-type]  # diffusers annotates the class as an instance
        self.owner = owner

    def pre_forward(self, module: nn.Module, *args: Any, **kwargs: Any) -> tuple[tuple[Any], dict[str, Any]]:
        try:
            context = self.state.context
        except ValueError:
            raise CaptureError(
                "the transformer ran outside the pipeline's cache_context: call the WanPipeline itself "
                "(pipe(prompt=capture.prompt, ...)) inside `with AttentionCapture(...)`"
            ) from None
        if context.step_index is None:
            raise CaptureError("the pipeline's cache_context carries no step_index; diffusers 0.42 is required")
        hidden = kwargs.get("hidden_states", args[0] if args else None)
        timestep = kwargs.get("timestep", args[1] if len(args) > 1 else None)
        if not isinstance(hidden, torch.Tensor):
            raise CaptureError("the transformer was called without hidden_states")
        self.owner.check_prompt()
        self.owner.recorder.begin(
            context.name,
            context.step_index,
            context.num_inference_steps,
            context.sigma,
            hidden,
            timestep if isinstance(timestep, torch.Tensor) else None,
        )
        return args, kwargs

    def post_forward(self, module: nn.Module, output: Any) -> Any:
        self.owner.recorder.end()
        return output

    def reset_state(self, module: nn.Module) -> nn.Module:
        return module


class CaptureHooks:
    """Owns every hook of one capture; ``install()`` once, ``remove()`` always.

    Args:
        transformer: the pipeline's ``WanTransformer3DModel``.
        text_encoder: the pipeline's text encoder (``None`` to skip the prompt check).
        blocks: ``(block index, attn2 module)`` of the captured blocks.
        recorder: receives the events.
        expected_ids: the capture prompt's token ids (``[max_sequence_length]``).
    """

    def __init__(
        self,
        transformer: nn.Module,
        text_encoder: nn.Module | None,
        blocks: list[tuple[int, nn.Module]],
        recorder: CaptureRecorder,
        expected_ids: tuple[int, ...],
    ) -> None:
        self.transformer = transformer
        self.text_encoder = text_encoder
        self.blocks = blocks
        self.recorder = recorder
        self.expected_ids = expected_ids
        self._handles: list[RemovableHandle] = []
        self._had_forward_attr = False
        self._had_registry = False
        self.installed = False
        #: (token ids match the capture prompt, real token count) of each text-encoder call
        self.encoder_calls: list[tuple[bool, int]] = []
        self._prompt_checked = False

    def install(self) -> None:
        if self.installed:
            raise CaptureError("capture hooks are already installed")
        registry = getattr(self.transformer, "_diffusers_hook", None)
        if registry is not None and registry.get_hook(HOOK_NAME) is not None:
            raise CaptureError("another AttentionCapture is already active on this pipeline")
        self._had_forward_attr = "forward" in vars(self.transformer)
        self._had_registry = registry is not None
        try:
            HookRegistry.check_if_exists_or_initialize(self.transformer).register_hook(
                _PassContextHook(self), HOOK_NAME
            )
            for index, attn2 in self.blocks:
                norm_q, norm_k = attn2.get_submodule("norm_q"), attn2.get_submodule("norm_k")
                self._handles.append(norm_q.register_forward_hook(self._query_hook(index)))
                self._handles.append(norm_k.register_forward_hook(self._key_hook(index)))
            if self.text_encoder is not None:
                self._handles.append(
                    self.text_encoder.register_forward_pre_hook(self._text_encoder_hook, with_kwargs=True)
                )
        except BaseException:
            self.installed = True
            self.remove()
            raise
        self.installed = True

    def remove(self) -> None:
        """Remove every hook and restore the modules' attributes exactly."""
        if not self.installed:
            return
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        registry = getattr(self.transformer, "_diffusers_hook", None)
        others = False  # hooks registered after ours (e.g. a cache enabled inside the `with`) stay chained
        if registry is not None:
            registry.remove_hook(HOOK_NAME, recurse=False)
            others = bool(registry.hooks)
            if not self._had_registry and not others:
                del self.transformer._diffusers_hook
        if not self._had_forward_attr and not others and "forward" in vars(self.transformer):
            del self.transformer.forward  # back to the class's forward
        self.installed = False

    def _query_hook(self, index: int) -> Any:
        recorder = self.recorder

        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if recorder.wants(index):
                recorder.on_query(index, output)

        return hook

    def _key_hook(self, index: int) -> Any:
        recorder = self.recorder

        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if recorder.wants(index):
                recorder.on_key(index, output)

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


__all__ = ["HOOK_NAME", "CaptureHooks"]
