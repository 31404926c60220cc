"""SIGINT and SIGTERM as a request to stop at the next step, not a kill."""

from __future__ import annotations

import signal
import threading


class StopSignals:
    """While active, SIGINT/SIGTERM set `received` (the signal's name) for the loop to see."""

    def __init__(self):
        self.received: str | None = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.received = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
