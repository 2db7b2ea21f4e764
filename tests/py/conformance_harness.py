"""Harness of the conformance suite: the sink, the shared context, the check registry.

The sink is a real HTTP/1.1 server on 127.0.0.1 that records every delivery
and can be told to fail a path; the context holds the SDK clients and creates
fixtures only through operations every ringhook version serves (create app,
create endpoint, create message), so any check can run alone with `--only`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple

from svix.api import ApplicationIn, EndpointIn, MessageIn, Svix, SvixOptions
from svix.exceptions import HttpError, HTTPValidationError
from svix.webhooks import Webhook


# How long any one wait may take before the check fails.
DEADLINE_S = 20.0
# Most pages any pagination loop follows, so a server that never says `done`
# fails the check instead of hanging it.
PAGES_MAX = 100


class CheckFailed(AssertionError):
    """A check's expectation did not hold."""


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


def wait_for(what: str, f: Callable[[], Any], timeout: float = DEADLINE_S) -> Any:
    """Polls `f` until it returns something truthy; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        v = f()
        if v:
            return v
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


def status_of(e: BaseException) -> Optional[int]:
    """The HTTP status of an SDK error, if it is one."""
    if isinstance(e, (HttpError, HTTPValidationError)):
        return e.status_code
    return None


def expect_status(status: int, f: Callable[[], Any], what: str) -> Any:
    """Runs `f`, which must raise an SDK error with `status`."""
    try:
        f()
    except (HttpError, HTTPValidationError) as e:
        expect(e.status_code == status, f"{what}: expected {status}, got {e.status_code} ({e})")
        return e
    raise CheckFailed(f"{what}: expected HTTP {status}, but the call succeeded")


# ---------------------------------------------------------------------------
# The sink: a real HTTP server on 127.0.0.1 that records every delivery.


class Delivery:
    def __init__(self, method: str, path: str, headers: Dict[str, str], body: bytes, status: int):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.status = status

    @property
    def msg_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


class Sink:
    """Answers 200 on every path, or 500 on paths in `failing`; records all."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: List[Delivery] = []
        self.failing: set = set()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else b""
                path = self.path
                with sink.lock:
                    status = 500 if path in sink.failing else 200
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    sink.deliveries.append(Delivery(self.command, path, headers, body, status))
                reply = b"ok" if status == 200 else b"failing on purpose"
                self.send_response(status)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = do_PUT = do_PATCH = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str, ok_only: bool = True) -> List[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.path == path and (d.status == 200 or not ok_only)]

    def wait_msg(
        self, path: str, msg_id: str, count: int = 1, ok_only: bool = True, timeout: float = DEADLINE_S
    ) -> List[Delivery]:
        """Waits until `path` got `msg_id` at least `count` times."""
        return wait_for(
            f"{count} delivery(ies) of {msg_id} at {path}",
            lambda: (lambda ds: ds if len(ds) >= count else None)(
                [d for d in self.at(path, ok_only) if d.msg_id == msg_id]
            ),
            timeout,
        )

    def set_failing(self, path: str, failing: bool) -> None:
        with self.lock:
            (self.failing.add if failing else self.failing.discard)(path)


# ---------------------------------------------------------------------------
# Shared context: the client, the sink and helpers that create fixtures using
# only operations every ringhook version serves (create app / endpoint).


class Ctx:
    def __init__(self, server_url: str, token: str, attempts: int) -> None:
        opts = SvixOptions(server_url=server_url, retry_schedule=[], timeout=10.0)
        self.svix = Svix(token, opts)
        self.bad = Svix(token + "-wrong", opts)
        self.sink = Sink()
        self.attempts = attempts
        self.started = datetime.now(timezone.utc)

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    def app(self, name: str, **kw: Any) -> Any:
        return self.svix.application.create(ApplicationIn(name=f"conformance {name}", **kw))

    def endpoint(self, app_id: str, **kw: Any) -> Tuple[Any, str]:
        """Creates an endpoint pointing at its own sink path; returns (endpoint, path)."""
        path = "/" + self.unique("ep")
        ep = self.svix.endpoint.create(app_id, EndpointIn(url=self.sink.url(path), **kw))
        return ep, path

    def send(self, app_id: str, event_type: str = "conformance.test", **kw: Any) -> Any:
        payload = kw.pop("payload", {"n": uuid.uuid4().hex})
        return self.svix.message.create(app_id, MessageIn(event_type=event_type, payload=payload, **kw))

    def verify(self, secret: str, d: Delivery) -> None:
        """Verifies a delivery the way a Svix receiver does."""
        Webhook(secret).verify(d.body, d.headers)

    def paginate(self, what: str, fetch: Callable[[Optional[str]], Any], limit: int) -> List[List[Any]]:
        """Follows `iterator` until `done`; returns the pages."""
        pages: List[List[Any]] = []
        iterator: Optional[str] = None
        for _ in range(PAGES_MAX):
            page = fetch(iterator)
            expect(len(page.data) <= limit, f"{what}: page of {len(page.data)} over limit {limit}")
            pages.append(page.data)
            if page.done:
                return pages
            expect(page.iterator is not None, f"{what}: not done but no iterator")
            expect(page.iterator != iterator, f"{what}: iterator did not advance")
            iterator = page.iterator
        raise CheckFailed(f"{what}: not done after {PAGES_MAX} pages")

    def list_all(self, what: str, fetch: Callable[[Optional[str]], Any], limit: int = 50) -> List[Any]:
        return [x for page in self.paginate(what, fetch, limit) for x in page]


CHECKS: List[Tuple[str, Callable[[Ctx], None]]] = []


def check(name: str) -> Callable[[Callable[[Ctx], None]], Callable[[Ctx], None]]:
    def register(f: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        CHECKS.append((name, f))
        return f

    return register
