"""The live calls of this process, by call id."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.session.call import Call


class CallRegistry:
    """The process's live calls. A plain dict: one gevent worker, one loop."""

    def __init__(self, max_calls: int) -> None:
        self.max_calls = max_calls
        self._calls: dict[str, Call] = {}

    def get(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    def add(self, call: Call) -> None:
        self._calls[call.call_id] = call

    def remove(self, call: Call) -> None:
        if self._calls.get(call.call_id) is call:
            del self._calls[call.call_id]

    def full(self) -> bool:
        return len(self._calls) >= self.max_calls

    def all(self) -> list[Call]:
        return list(self._calls.values())

    def ids(self) -> list[str]:
        return list(self._calls)

    def __len__(self) -> int:
        return len(self._calls)
