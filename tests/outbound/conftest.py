"""A local webhook subscriber: an HTTP server on a free port that can be down, refuse, or take."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conveyor.core.settings import Settings


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Subscriber:
    """Records every POST; answers `status` (503: "down") while running, nothing while stopped."""

    port: int
    status: int = 200
    delay: float = 0.0  # seconds before it answers (a slow subscriber)
    hold: threading.Event | None = None  # set: each answer waits until the event is set
    holding: threading.Event = field(default_factory=threading.Event)  # a POST is being held
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with subscriber._lock:
                    subscriber.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                time.sleep(subscriber.delay)
                if subscriber.hold is not None and not subscriber.hold.is_set():
                    subscriber.holding.set()
                    subscriber.hold.wait(60)
                try:
                    self.send_response(subscriber.status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender is gone (killed while the answer was held)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def requests(self) -> list[Received]:
        """Every POST so far, in order of arrival."""
        with self._lock:
            return list(self.received)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    """A subscriber on a free port, not started (its port refuses connections until `start`)."""
    running = Subscriber(free_port())
    yield running
    running.stop()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Quick retries: from 0.2 s doubling to 1 s, polling every 0.1 s, 3 s per POST."""
    return settings.model_copy(
        update={
            "outbound_poll_seconds": 0.1,
            "outbound_first_retry_seconds": 0.2,
            "outbound_retry_max_seconds": 1.0,
            "outbound_timeout_seconds": 3.0,
        }
    )
