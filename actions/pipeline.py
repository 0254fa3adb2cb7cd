"""The v3 pipeline builder (the v3 SDK's ``PipelineBuilder`` methods).

The vocabulary lives next door: fields in ``pipeline_fields``, action schemas and
``validate_pipeline`` in ``pipeline_schemas``, REST request bodies in
``pipeline_requests``. The names other packages import from here are re-exported.
"""

from __future__ import annotations

from typing import Any

from actions.pipeline_fields import InputModes, Number, UUIDStr, V3Phone, Variables
from actions.pipeline_requests import (
    CallOptionsV3Schema,
    HangupRequestSchema,
    PcmoCallRequestSchema,
    PipelineField,
    TransferRequestSchema,
)
from actions.pipeline_schemas import V3_ACTIONS, V3_SCHEMAS, validate_pipeline

__all__ = [
    "V3_ACTIONS",
    "V3_SCHEMAS",
    "CallOptionsV3Schema",
    "HangupRequestSchema",
    "InputModes",
    "Number",
    "PcmoCallRequestSchema",
    "Pipeline",
    "PipelineField",
    "TransferRequestSchema",
    "UUIDStr",
    "V3Phone",
    "Variables",
    "validate_pipeline",
]


class Pipeline:
    """A v3 pipeline under construction, with the v3 SDK's ``PipelineBuilder`` methods."""

    def __init__(self) -> None:
        self._actions: list[dict[str, Any]] = []

    def connect(self, params: dict[str, Any], endpoints: list[dict[str, Any]]) -> Pipeline:
        return self._add({"action": "connect", "params": params, "endpoints": endpoints})

    def play(self, file_name: str) -> Pipeline:
        return self._add({"action": "play", "file_name": file_name})

    def play_get_input(
        self,
        prompt: dict[str, Any],
        input_modes: list[str],
        on_result: dict[str, Any],
        dtmf: dict[str, Any] | None = None,
        retries: dict[str, Any] | None = None,
    ) -> Pipeline:
        action: dict[str, Any] = {
            "action": "play_get_input",
            "prompt": prompt,
            "input": input_modes,
            "on_result": on_result,
        }
        if dtmf is not None:
            action["dtmf"] = dtmf
        if retries is not None:
            action["retries"] = retries
        return self._add(action)

    def param(self, data: dict[str, Any]) -> Pipeline:
        return self._add({"action": "param", "data": data})

    def record(self, fmt: str | None = None, channels: str | None = None) -> Pipeline:
        action: dict[str, Any] = {"action": "record"}
        if fmt is not None:
            action["format"] = fmt
        if channels is not None:
            action["channels"] = channels
        return self._add(action)

    def hangup(self) -> Pipeline:
        return self._add({"action": "hangup"})

    def input(self, on_result: dict[str, Any], dtmf: dict[str, Any] | None = None) -> Pipeline:
        action: dict[str, Any] = {"action": "input", "on_result": on_result}
        if dtmf is not None:
            action["dtmf"] = dtmf
        return self._add(action)

    def build(self) -> list[dict[str, Any]]:
        return [dict(a) for a in self._actions]

    def clear(self) -> Pipeline:
        self._actions = []
        return self

    def _add(self, action: dict[str, Any]) -> Pipeline:
        self._actions.extend(validate_pipeline([action]))
        return self
