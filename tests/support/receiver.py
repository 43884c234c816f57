"""A local HTTP receiver for alert tests: collects the JSON bodies POSTed to 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    port: int
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """apprise's json:// schema, posting to this receiver."""
        return f"json://127.0.0.1:{self.port}/alerts"

    def titles(self) -> list[str]:
        return [str(m.get("title", "")) for m in self.messages]


@contextmanager
def alert_receiver() -> Iterator[Receiver]:
    """Start an HTTP server on an ephemeral loopback port; stop it on exit."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            try:
                received.append(json.loads(body))
            except ValueError:
                received.append({"raw": body.decode("utf-8", "replace")})
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(server.server_address[1], received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
