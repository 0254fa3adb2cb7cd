"""The live calls of this process, by call id, and the ids of those that ended here lately."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.session.call import Call


class CallRegistry:
    """The process's live calls. A plain dict: one gevent worker, one loop."""

    REMEMBERED = 10000  # ended ids kept: a redial of one is refused even before its stored state says ended

    def __init__(self, max_calls: int | None) -> None:
        self.max_calls = max_calls
        self._calls: dict[str, Call] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()

    def get(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    def add(self, call: Call) -> None:
        self._calls[call.call_id] = call

    def remove(self, call: Call) -> None:
        if self._calls.get(call.call_id) is call:
            del self._calls[call.call_id]
            self._ended[call.call_id] = None
            while len(self._ended) > self.REMEMBERED:
                self._ended.popitem(last=False)

    def ended(self, call_id: str) -> bool:
        """True when a call with this id ended in this process (a redial of it must not open a new call)."""
        return call_id in self._ended

    def full(self) -> bool:
        """At the hard cap, MAX_CALLS (none when unset: measured load decides, app/runtime/load.py)."""
        return self.max_calls is not None and len(self._calls) >= self.max_calls

    def all(self) -> list[Call]:
        return list(self._calls.values())

    def ids(self) -> list[str]:
        return list(self._calls)

    def __len__(self) -> int:
        return len(self._calls)
