"""The official svix SDK polls ringhook (`svix.message.poller`): an
endpoint's messages in order, a named consumer whose position survives a
`kill -9`, and seek; and `svix.message.precheck`.

Usage: poller_sdk.py SERVER_URL TOKEN first
       poller_sdk.py SERVER_URL TOKEN after-restart APP_ID ENDPOINT_ID
Prints "ok APP_ID ENDPOINT_ID" (first) or "ok", or fails naming the
expectation.
"""
import sys
import time
from datetime import datetime, timezone

from checks import expect, sdk
from svix.api import (ApplicationIn, EndpointIn, MessageIn, MessagePollerConsumerPollOptions,
                      MessagePollerPollOptions)
from svix.models import MessagePrecheckIn, PollingEndpointConsumerSeekIn


def send(svix, app, kind, n):
    return svix.message.create(app, MessageIn(event_type=kind, payload={"n": n})).id


def first(svix):
    app = svix.application.create(ApplicationIn(name="polled")).id
    # Disabled: polled only, never pushed to.
    ep = svix.endpoint.create(app, EndpointIn(url="http://127.0.0.1:9/never", event_types=["order.paid"],
                                              disabled=True)).id
    sent = []
    for n in range(5):
        sent.append(send(svix, app, "order.paid", n))
        send(svix, app, "user.deleted", n)  # not the endpoint's type
    poller = svix.message.poller
    page = poller.poll(app, ep, MessagePollerPollOptions(limit=3))
    expect([m.id for m in page.data] == sent[:3], f"the first three, in order: {page}")
    expect(not page.done, "more to come")
    expect(all(m.event_type == "order.paid" for m in page.data), "the endpoint's filter")
    expect(page.data[0].payload == {"n": 0}, f"payload: {page.data[0].payload}")
    rest = poller.poll(app, ep, MessagePollerPollOptions(iterator=page.iterator))
    expect([m.id for m in rest.data] == sent[3:] and rest.done, f"the rest: {rest}")
    again = poller.poll(app, ep, MessagePollerPollOptions(iterator=rest.iterator))
    expect(again.data == [] and again.done and again.iterator == rest.iterator, f"nothing new: {again}")
    # A named consumer: the server keeps its position.
    c1 = poller.consumer_poll(app, ep, "billing", MessagePollerConsumerPollOptions(limit=2))
    expect([m.id for m in c1.data] == sent[:2], f"consumer, first page: {c1}")
    c2 = poller.consumer_poll(app, ep, "billing")
    expect([m.id for m in c2.data] == sent[2:], f"consumer goes on: {c2}")
    c3 = poller.consumer_poll(app, ep, "billing")
    expect(c3.data == [], f"consumer at the end: {c3}")
    print(f"ok {app} {ep}")


def after_restart(svix, app, ep):
    poller = svix.message.poller
    c = poller.consumer_poll(app, ep, "billing")
    expect(c.data == [], f"the position survived the crash: {c}")
    mark = datetime.now(timezone.utc)
    time.sleep(0.01)
    late = [send(svix, app, "order.paid", 10 + n) for n in range(2)]
    c = poller.consumer_poll(app, ep, "billing")
    expect([m.id for m in c.data] == late, f"only what came since: {c}")
    seek = poller.consumer_seek(app, ep, "billing", PollingEndpointConsumerSeekIn(after=datetime(2000, 1, 1, tzinfo=timezone.utc)))
    expect(seek.iterator.startswith("msg_"), f"seek: {seek}")
    c = poller.consumer_poll(app, ep, "billing", MessagePollerConsumerPollOptions(limit=250))
    expect(len(c.data) == 7, f"all seven again after seeking back: {len(c.data)}")
    poller.consumer_seek(app, ep, "billing", PollingEndpointConsumerSeekIn(after=mark))
    c = poller.consumer_poll(app, ep, "billing")
    expect([m.id for m in c.data] == late, f"after a seek to a time: {c}")
    since = poller.poll(app, ep, MessagePollerPollOptions(after=mark))
    expect([m.id for m in since.data] == late, f"poll after a time: {since}")
    # precheck: would a message reach an enabled endpoint? (The polled one
    # is disabled.)
    expect(not svix.message.precheck(app, MessagePrecheckIn(event_type="order.paid")).active, "precheck: none active")
    svix.endpoint.create(app, EndpointIn(url="http://127.0.0.1:9/users", event_types=["user.deleted"],
                                         channels=["eu"]))
    expect(svix.message.precheck(app, MessagePrecheckIn(event_type="user.deleted", channels=["eu"])).active,
           "precheck: an active endpoint")
    expect(not svix.message.precheck(app, MessagePrecheckIn(event_type="user.deleted", channels=["us"])).active,
           "precheck: another channel")
    print("ok")


def main() -> int:
    server, token, phase = sys.argv[1], sys.argv[2], sys.argv[3]
    svix = sdk(server, token)
    if phase == "first":
        first(svix)
    else:
        after_restart(svix, sys.argv[4], sys.argv[5])
    return 0


if __name__ == "__main__":
    sys.exit(main())
