"""Install and remove the capture hooks, through diffusers' and torch's own extension points.

* A stateful diffusers ``ModelHook`` on each transformer (both experts where there are two) receives
  the pipeline's ``cache_context(...)`` where there is one and brackets each transformer call; the
  model family reads the call (:meth:`~attention_visual.families.interface.FamilyRuntime.read_call`: batch,
  token grid, timestep) and :class:`~.steps.PassClock` names its guidance passes and step (counting
  them where the pipeline does not say).
* On every captured attention module, the hook points of the family's probe
  (:class:`~attention_visual.families.interface.Probe`): forward hooks on submodules (e.g.
  ``attn2.norm_q`` / ``norm_k``, which receive the exact query and key the attention consumes) and
  forward pre-hooks with kwargs on the module itself (which see e.g. RoPE tables and masks).
* A forward pre-hook on the text encoder sees the token ids the pipeline encodes, to check that
  the pipeline was called with the capture's prompt and to learn each pass's real token count.

No library class is patched and no processor replaced; :meth:`CaptureHooks.remove` restores every
module as it was.
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
from attention_visual.families.interface import AttentionSite, CallArgs, FamilyRuntime, Probe
from attention_visual.families.spec import Variant

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
        owner = self.owner
        call = owner.runtime.read_call(owner.variant, module, args, kwargs)
        info = owner.clock.next(context, call.timestep)
        if info is None:  # an extra call of the step that is no guidance pass: nothing to record
            return args, kwargs
        owner.check_prompt()
        owner.recorder.begin(info, self.expert, call)
        return args, kwargs

    def post_forward(self, module: nn.Module, output: Any) -> Any:
        self.owner.recorder.end()
        return output

    def reset_state(self, module: nn.Module) -> nn.Module:
        return module


@dataclass(frozen=True)
class HookedModel:
    """One transformer to hook: its expert label and its captured attention sites."""

    expert: str | None  # the expert's label with two experts ("high_noise" | "low_noise"), else None
    transformer: nn.Module
    sites: list[AttentionSite]


class CaptureHooks:
    """Owns every hook of one capture; ``install()`` once, ``remove()`` always.

    Args:
        models: the transformers to hook (one, or both experts), each with its captured sites.
        text_encoder: the pipeline's text encoder (``None`` to skip the prompt check).
        recorder: receives the events.
        expected_ids: the capture prompt's token ids (``[max_sequence_length]``).
        clock: names each pass and step.
        runtime: the model family's torch side (reads each transformer call).
        variant: the pipeline's variant.
        probe: where to hook each site.
        pad_token_id: the tokenizer's padding id: where the pipeline encodes without an attention mask
            (CogVideoX), the real tokens are those before the trailing run of padding ids.
        cut_tokens: leading template tokens the pipeline cuts off the encoder's output (HunyuanVideo-1.5's
            chat template: 108): the text keys' real tokens are the encoded real tokens less these.
    """

    def __init__(
        self,
        models: list[HookedModel],
        text_encoder: nn.Module | None,
        recorder: CaptureRecorder,
        expected_ids: tuple[int, ...],
        clock: PassClock,
        *,
        runtime: FamilyRuntime,
        variant: Variant,
        probe: Probe,
        pad_token_id: int | None = None,
        cut_tokens: int = 0,
    ) -> None:
        self.models = models
        self.text_encoder = text_encoder
        self.recorder = recorder
        self.expected_ids = expected_ids
        self.clock = clock
        self.runtime = runtime
        self.variant = variant
        self.probe = probe
        self.pad_token_id = pad_token_id
        self.cut_tokens = cut_tokens
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
                for site in m.sites:
                    self._hook_site(site)
            if self.text_encoder is not None:
                self._handles.append(
                    self.text_encoder.register_forward_pre_hook(self._text_encoder_hook, with_kwargs=True)
                )
        except BaseException:
            self.remove()
            raise

    def _hook_site(self, site: AttentionSite) -> None:
        for point in self.probe.points:
            module = site.module.get_submodule(point.path)
            if point.when == "call":
                handle = module.register_forward_pre_hook(self._call_hook(site.index, point.slot), with_kwargs=True)
            else:
                handle = module.register_forward_hook(self._output_hook(site.index, point.slot))
            self._handles.append(handle)

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

    def _output_hook(self, index: int, slot: str) -> Any:
        recorder = self.recorder

        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if recorder.wants(index):
                recorder.on_slot(index, slot, output)

        return hook

    def _call_hook(self, index: int, slot: str) -> Any:
        recorder = self.recorder

        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if recorder.wants(index):
                recorder.on_slot(index, slot, CallArgs(args, dict(kwargs)))

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
                f"(or with a max_sequence_length other than the capture's {len(self.expected_ids) - self.cut_tokens})"
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
        tokens = ids[0].tolist()
        if isinstance(mask, torch.Tensor):
            real = int(mask.sum().item())
        else:  # no mask: the padding is the trailing run of padding ids
            real = len(tokens)
            while self.pad_token_id is not None and real and tokens[real - 1] == self.pad_token_id:
                real -= 1
        self.encoder_calls.append((tuple(tokens) == self.expected_ids, max(real - self.cut_tokens, 0)))
        return None


__all__ = ["HOOK_NAME", "CaptureHooks", "HookedModel"]
