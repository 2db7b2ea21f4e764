"""Conformance checks of messages and deliveries: signatures, filtering,
deduplication, idempotency keys, message and attempt listings, resend, recover.

Every delivery is checked at the sink with `svix.webhooks.Webhook.verify`.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any, Tuple

from svix.api import (
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageCreateOptions,
    MessageIn,
    MessageListOptions,
    MessageStatus,
    RecoverIn,
)
from svix.webhooks import Webhook

from conformance_harness import DEADLINE_S, CheckFailed, Ctx, check, expect, expect_status, wait_for

# ---------------------------------------------------------------------------
# Messages and deliveries.


@check("message_create_delivery")
def _message_delivery(c: Ctx) -> None:
    app = c.app("delivery")
    ep, path = c.endpoint(app.id)
    secret = c.svix.endpoint.get_secret(app.id, ep.id).key
    payload = {"hello": "world", "nested": {"list": [1, 2.5, "three"]}, "unicode": "h\u00e9"}
    msg = c.send(app.id, "invoice.paid", payload=payload)
    expect(msg.id.startswith("msg_") and msg.event_type == "invoice.paid", f"message out: {msg}")
    d = c.sink.wait_msg(path, msg.id)[0]
    c.verify(secret, d)
    expect(d.json() == payload, f"the body is the payload: {d.body[:200]!r}")
    expect(d.headers.get("content-type", "").startswith("application/json"), "content-type is JSON")
    try:
        Webhook("whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").verify(d.body, d.headers)
    except Exception:
        pass
    else:
        raise CheckFailed("a wrong secret must not verify")


@check("message_filter_event_types")
def _filter_types(c: Ctx) -> None:
    app = c.app("filter types")
    paid, paid_path = c.endpoint(app.id, event_types=["invoice.paid"])
    everything, all_path = c.endpoint(app.id)
    other = c.send(app.id, "user.created")
    wanted = c.send(app.id, "invoice.paid")
    c.sink.wait_msg(all_path, other.id)
    c.sink.wait_msg(all_path, wanted.id)
    c.sink.wait_msg(paid_path, wanted.id)
    # `other` was dispatched before `wanted`; had it been routed to the
    # filtered endpoint it would have been attempted by now.
    expect(
        all(d.msg_id != other.id for d in c.sink.at(paid_path, ok_only=False)),
        "an endpoint does not receive event types it does not subscribe to",
    )


@check("message_filter_channels")
def _filter_channels(c: Ctx) -> None:
    app = c.app("filter channels")
    eu, eu_path = c.endpoint(app.id, channels=["eu"])
    us = c.send(app.id, channels=["us"])
    none = c.send(app.id)
    both = c.send(app.id, channels=["us", "eu"])
    c.sink.wait_msg(eu_path, both.id)
    got = {d.msg_id for d in c.sink.at(eu_path, ok_only=False)}
    expect(us.id not in got and none.id not in got, f"only messages on a subscribed channel arrive: {got}")


@check("message_duplicate_event_id_409")
def _dup_event_id(c: Ctx) -> None:
    app = c.app("dedup")
    event_id = c.unique("evt")
    first = c.send(app.id, event_id=event_id)
    expect(first.event_id == event_id, f"eventId round-trips: {first.event_id}")
    expect_status(409, lambda: c.send(app.id, event_id=event_id), "a second message with the same eventId")


@check("message_idempotency_key")
def _message_idempotency(c: Ctx) -> None:
    app = c.app("msg idempotency")
    key = c.unique("idem")
    body = MessageIn(event_type="conformance.test", payload={"n": 1})
    a = c.svix.message.create(app.id, body, MessageCreateOptions(idempotency_key=key))
    b = c.svix.message.create(app.id, body, MessageCreateOptions(idempotency_key=key))
    expect(a.id == b.id, f"the same idempotency-key returns the first message: {a.id} vs {b.id}")


@check("message_get")
def _message_get(c: Ctx) -> None:
    app = c.app("msg get")
    msg = c.send(app.id, "order.shipped", payload={"order": 7}, channels=["eu"])
    got = c.svix.message.get(app.id, msg.id)
    expect(got.id == msg.id and got.event_type == "order.shipped", f"get returns the message: {got}")
    expect(got.channels == ["eu"], f"channels round-trip: {got.channels}")
    expect_status(404, lambda: c.svix.message.get(app.id, "msg_" + "0" * 27), "get a missing message")


@check("message_list")
def _message_list(c: Ctx) -> None:
    app = c.app("msg list")
    a = c.send(app.id, "type.a")
    b = c.send(app.id, "type.b")
    other = c.send(app.id, "type.c")
    want = {a.id, b.id, other.id}
    # A listing may trail the 202 by a moment; it must catch up by the deadline.
    wait_for("all three messages listed", lambda: {m.id for m in c.svix.message.list(app.id).data} == want)
    got = {m.id for m in c.svix.message.list(app.id).data}
    expect(got == want, f"all messages listed, and nothing else: {got}")
    # The SDK sends a list filter comma-joined: `event_types=type.a,type.b`.
    some = c.svix.message.list(app.id, MessageListOptions(event_types=["type.a", "type.b"]))
    got = {m.id for m in some.data}
    expect(got == {a.id, b.id}, f"event_types filters the list: {got}")


@check("message_pagination")
def _message_pagination(c: Ctx) -> None:
    app = c.app("msg pages")
    ids = [c.send(app.id).id for _ in range(5)]
    wait_for("all five messages listed", lambda: len(c.svix.message.list(app.id).data) == 5)
    pages = c.paginate("messages", lambda it: c.svix.message.list(app.id, MessageListOptions(iterator=it, limit=2)), 2)
    got = [m.id for page in pages for m in page]
    expect(len(pages) == 3, f"5 messages at limit 2 are 3 pages, got {len(pages)}")
    expect(sorted(got) == sorted(ids) and len(got) == len(set(got)), f"every message exactly once: {got}")


# ---------------------------------------------------------------------------
# Attempts, resend, recover.


def delivered(c: Ctx, name: str) -> Tuple[Any, Any, Any, str]:
    """An app with one endpoint and one message already delivered to it, as
    the engine records it: the receiver has the request a moment before the
    engine has recorded its answer, so wait for the recorded success too."""
    app = c.app(name)
    ep, path = c.endpoint(app.id)
    msg = c.send(app.id)
    c.sink.wait_msg(path, msg.id)
    wait_for(
        "the delivery recorded as successful",
        lambda: any(
            e.id == ep.id and e.status == MessageStatus.SUCCESS
            for e in c.svix.message_attempt.list_attempted_destinations(app.id, msg.id).data
        ) or None,
    )
    return app, ep, msg, path


@check("attempts_by_endpoint")
def _attempts_by_endpoint(c: Ctx) -> None:
    app, ep, msg, _ = delivered(c, "attempts ep")
    page = wait_for(
        "an attempt listed for the endpoint",
        lambda: (lambda p: p if any(a.msg_id == msg.id for a in p.data) else None)(
            c.svix.message_attempt.list_by_endpoint(app.id, ep.id)
        ),
    )
    a = next(a for a in page.data if a.msg_id == msg.id)
    expect(a.endpoint_id == ep.id and a.id.startswith("atmpt_"), f"attempt ids: {a.id} {a.endpoint_id}")
    expect(a.status == MessageStatus.SUCCESS and a.response_status_code == 200, f"status: {a.status} {a.response_status_code}")
    ok = c.svix.message_attempt.list_by_endpoint(app.id, ep.id, MessageAttemptListByEndpointOptions(status=MessageStatus.SUCCESS))
    expect(any(x.id == a.id for x in ok.data), "filtering by status=success keeps it")


@check("attempts_by_msg")
def _attempts_by_msg(c: Ctx) -> None:
    app, ep, msg, _ = delivered(c, "attempts msg")
    page = wait_for(
        "an attempt listed for the message",
        lambda: (lambda p: p if p.data else None)(
            c.svix.message_attempt.list_by_msg(app.id, msg.id, MessageAttemptListByMsgOptions(endpoint_id=ep.id))
        ),
    )
    a = page.data[0]
    expect(a.msg_id == msg.id and a.endpoint_id == ep.id, f"the attempt is for this message: {a}")
    got = c.svix.message_attempt.get(app.id, msg.id, a.id)
    expect(got.id == a.id and got.response_status_code == 200, f"get the attempt: {got}")


@check("attempted_messages")
def _attempted_messages(c: Ctx) -> None:
    app, ep, msg, _ = delivered(c, "attempted messages")
    page = wait_for(
        "the message listed for the endpoint",
        lambda: (lambda p: p if any(m.id == msg.id for m in p.data) else None)(
            c.svix.message_attempt.list_attempted_messages(app.id, ep.id)
        ),
    )
    m = next(m for m in page.data if m.id == msg.id)
    expect(m.status == MessageStatus.SUCCESS and m.event_type == msg.event_type, f"endpoint message: {m}")


@check("attempted_destinations")
def _attempted_destinations(c: Ctx) -> None:
    app, ep, msg, _ = delivered(c, "attempted destinations")
    # The receiver has the request a moment before the engine has recorded
    # its answer: wait for the recorded outcome, not just the listing.
    page = wait_for(
        "the endpoint listed for the message, delivered",
        lambda: (lambda p: p if any(e.id == ep.id and e.status == MessageStatus.SUCCESS for e in p.data) else None)(
            c.svix.message_attempt.list_attempted_destinations(app.id, msg.id)
        ),
    )
    e = next(e for e in page.data if e.id == ep.id)
    expect(e.status == MessageStatus.SUCCESS and e.url == ep.url, f"message endpoint: {e}")


@check("resend")
def _resend(c: Ctx) -> None:
    app, ep, msg, path = delivered(c, "resend")
    secret = c.svix.endpoint.get_secret(app.id, ep.id).key
    c.svix.message_attempt.resend(app.id, msg.id, ep.id)
    ds = c.sink.wait_msg(path, msg.id, count=2)
    c.verify(secret, ds[1])


@check("recover")
def _recover(c: Ctx) -> None:
    app = c.app("recover")
    ep, path = c.endpoint(app.id)
    secret = c.svix.endpoint.get_secret(app.id, ep.id).key
    c.sink.set_failing(path, True)
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    msg = c.send(app.id)
    # Every scheduled attempt fails; after the last one the message has
    # failed for good and only a recover delivers it.
    c.sink.wait_msg(path, msg.id, count=c.attempts, ok_only=False)
    c.sink.set_failing(path, False)
    # The engine records the last failure just after the sink answers it, so
    # a recover issued in between may find nothing failed yet: retry the call
    # (at most every second) until the message arrives.
    deadline = time.monotonic() + DEADLINE_S
    while True:
        out = c.svix.endpoint.recover(app.id, ep.id, RecoverIn(since=since))
        expect(out.task.value == "endpoint.recover", f"recover returns a task: {out}")
        try:
            d = c.sink.wait_msg(path, msg.id, timeout=1.0)[0]
            break
        except CheckFailed:
            if time.monotonic() > deadline:
                raise
    c.verify(secret, d)
