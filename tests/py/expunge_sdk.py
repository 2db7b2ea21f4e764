"""The official svix SDK removes content from ringhook:
`message.expunge_content`, `bulk_expunge_content`, `expunge_all_contents`
and `message_attempt.expunge_content`.

Usage: expunge_sdk.py SERVER_URL TOKEN SINK_URL first
       expunge_sdk.py SERVER_URL TOKEN SINK_URL after-restart APP MSG
Prints "ok APP MSG" (first) or "ok", or fails naming the expectation.
"""
import sys

from checks import expect, sdk, wait
from svix.api import ApplicationIn, EndpointIn, MessageCreateOptions, MessageGetOptions, MessageIn
from svix.models import BulkExpungeContentsIn


def payload(svix, app, msg):
    # SDK 2.x asks for no content unless told (`with_content=false`).
    return svix.message.get(app, msg, MessageGetOptions(with_content=True)).payload


def first(svix, sink):
    app = svix.application.create(ApplicationIn(name="forgetful")).id
    ok_ep = svix.endpoint.create(app, EndpointIn(url=f"{sink}/ok")).id
    svix.endpoint.create(app, EndpointIn(url=f"{sink}/fail"))
    m1 = svix.message.create(app, MessageIn(event_type="user.created", payload={"email": "a@example.com"})).id
    m2 = svix.message.create(app, MessageIn(event_type="user.created", payload={"email": "b@example.com"})).id
    m3 = svix.message.create(app, MessageIn(event_type="user.created", payload={"email": "c@example.com"}),
                             MessageCreateOptions(idempotency_key="create-c")).id
    attempt = wait("m1 delivered to ok", lambda: [a for a in svix.message_attempt.list_by_msg(app, m1).data
                                                   if a.endpoint_id == ok_ep and a.status.value == 0])[0]
    expect(attempt.response != "", "a response body to expunge")
    svix.message.expunge_content(app, m1)
    expect(payload(svix, app, m1) == {}, "the payload is gone")
    expect(payload(svix, app, m2) == {"email": "b@example.com"}, "the others stay")
    svix.message_attempt.expunge_content(app, m1, attempt.id)
    expect(svix.message_attempt.get(app, m1, attempt.id).response == "", "the response body is gone")
    out = svix.message.bulk_expunge_content(app, BulkExpungeContentsIn(ids=[m2, "msg_nope"]))
    expect({k: v.value for k, v in out.results.items()} == {m2: "expunged", "msg_nope": "not-found"},
           f"bulk: {out.results}")
    expect(payload(svix, app, m2) == {}, "m2 gone")
    expect(payload(svix, app, m3) == {"email": "c@example.com"}, "m3 stays")
    print(f"ok {app} {m1} {m3}")


def after_restart(svix, app, m1, m3):
    expect(payload(svix, app, m1) == {}, "still gone after kill -9")
    task = svix.message.expunge_all_contents(app)
    expect(task.task.value == "application.purge_content", f"task: {task}")
    done = wait("the purge", lambda: (lambda t: t if t.status.value != "running" else None)(svix.background_task.get(task.id)))
    expect(done.status.value == "finished" and done.data == {"messagesPurged": 3}, f"purge: {done}")
    expect(payload(svix, app, m3) == {}, "m3 gone too")
    # A retry with m3's idempotency-key answers m3 again, without its payload.
    again = svix.message.create(app, MessageIn(event_type="user.created", payload={"email": "c@example.com"}),
                                MessageCreateOptions(idempotency_key="create-c"))
    expect(again.id == m3 and again.payload == {}, f"the replayed answer: {again}")
    print("ok")


def main() -> int:
    server, token, sink, phase = sys.argv[1:5]
    svix = sdk(server, token)
    if phase == "first":
        first(svix, sink)
    else:
        after_restart(svix, sys.argv[5], sys.argv[6], sys.argv[7])
    return 0


if __name__ == "__main__":
    sys.exit(main())
