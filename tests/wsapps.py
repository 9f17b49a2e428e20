"""Tiny workflow apps on loopback for the sandbox's tests: a WebSocket server (``websockets``' threaded server)
whose behaviour is chosen by the URL path. Each connection records what it received.

- ``/terminate``: on START, says one line (``log_analytics_event``) and terminates.
- ``/hold``: on START, does nothing: the conversation lasts until the server ends it (a STOP) or the step times out.
- ``/hostile``: on START, logs a line and sends a request whose ``_type`` hold an ANSI escape and a bidi override
  (``HOSTILE``), then terminates.
- any other path is refused with HTTP 404 at the handshake (as an SDK refuses a path it serves no workflow on).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

BEHAVIOURS = ("/terminate", "/hold", "/hostile")
#: what /hostile puts in its log line and in a request's name: a colour change and a right-to-left override
HOSTILE = "\x1b[31mred\u202eevil"


class Apps:
    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.received: list[tuple[str, dict[str, Any]]] = []  # (path, message), in arrival order
        self.lock = threading.Lock()

        def process_request(conn: Any, request: Any) -> Any:
            return None if request.path in BEHAVIOURS else conn.respond(404, "no workflow here\n")

        quiet = logging.getLogger("test-sandbox-apps")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        self.server = serve(
            self._handle, "127.0.0.1", 0, process_request=process_request, compression=None, logger=quiet
        )
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handle(self, conn: Any) -> None:
        path = conn.request.path
        try:
            for frame in conn:
                message = json.loads(frame)
                with self.lock:
                    self.received.append((path, message))
                if message.get("_type") == "wf_api_start_event" and path == "/terminate":
                    log = {"_id": uuid.uuid4().hex, "_type": "wf_api_log_analytics_event_request"}
                    conn.send(
                        json.dumps(
                            {**log, "content": "hello from the app", "content_type": "text/plain", "category": "log"}
                        )
                    )
                    conn.send(json.dumps({"_id": uuid.uuid4().hex, "_type": "wf_api_terminate_request"}))
                if message.get("_type") == "wf_api_start_event" and path == "/hostile":
                    log = {"_id": uuid.uuid4().hex, "_type": "wf_api_log_analytics_event_request"}
                    conn.send(json.dumps({**log, "content": HOSTILE, "content_type": "text/plain", "category": "x"}))
                    conn.send(json.dumps({"_id": uuid.uuid4().hex, "_type": f"wf_api_{HOSTILE}_request"}))
                    conn.send(json.dumps({"_id": uuid.uuid4().hex, "_type": "wf_api_terminate_request"}))
        except Exception:  # noqa: BLE001 - the sandbox closed the connection
            pass

    def uri(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def types(self, path: str) -> list[str]:
        with self.lock:
            return [m["_type"] for p, m in self.received if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@contextmanager
def serving() -> Iterator[Apps]:
    apps = Apps()
    try:
        yield apps
    finally:
        apps.close()
