"""Live call sessions of this process, by call id."""

from __future__ import annotations

from typing import Any, Protocol


class LiveSession(Protocol):
    call_id: str

    def perform(self, action: dict[str, Any]) -> dict[str, Any]:
        """Carry out a supervisor/REST action on the live call; return what was done."""
        ...


class SessionRegistry:
    """The process's live sessions. Plain dict: one gevent worker, one loop."""

    def __init__(self, max_calls: int) -> None:
        self.max_calls = max_calls
        self._sessions: dict[str, LiveSession] = {}

    def get(self, call_id: str) -> LiveSession | None:
        return self._sessions.get(call_id)

    def add(self, session: LiveSession) -> None:
        self._sessions[session.call_id] = session

    def remove(self, session: LiveSession) -> None:
        if self._sessions.get(session.call_id) is session:
            del self._sessions[session.call_id]

    def full(self) -> bool:
        return len(self._sessions) >= self.max_calls

    def all(self) -> list[LiveSession]:
        return list(self._sessions.values())

    def ids(self) -> list[str]:
        return list(self._sessions)

    def __len__(self) -> int:
        return len(self._sessions)
