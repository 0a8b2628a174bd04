"""Multi-turn chat sessions kept in memory: a bounded, thread-safe LRU of recent turns per session id."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict

from ragchat.errors import BadInput
from ragchat.generation.types import Turn

MAX_SESSION_ID = 128


class SessionStore:
    def __init__(self, *, max_sessions: int = 1000, max_turns: int = 6) -> None:
        if max_sessions <= 0:
            raise ValueError(f"max_sessions must be > 0, got {max_sessions}")
        self.max_sessions = max_sessions
        self.max_turns = max_turns
        self._sessions: OrderedDict[str, list[Turn]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    @staticmethod
    def check_id(session_id: str) -> str:
        if not session_id.strip() or len(session_id) > MAX_SESSION_ID:
            raise BadInput(f"session_id must be 1-{MAX_SESSION_ID} characters, got {len(session_id)}")
        return session_id

    def history(self, session_id: str) -> list[Turn]:
        with self._lock:
            turns = self._sessions.get(session_id)
            if turns is None:
                return []
            self._sessions.move_to_end(session_id)
            return list(turns)

    def append(self, session_id: str, turn: Turn) -> None:
        with self._lock:
            turns = self._sessions.setdefault(session_id, [])
            turns.append(turn)
            del turns[: max(0, len(turns) - self.max_turns)]
            self._sessions.move_to_end(session_id)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)

    def clear(self, session_id: str) -> bool:
        with self._lock:
            return self._sessions.pop(session_id, None) is not None
