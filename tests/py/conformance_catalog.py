"""Conformance checks of the catalog: auth and errors, applications, endpoints
(secrets, headers, stats, send-example) and event types.

Each check registers itself with `@check(name)`; the order here is the order
of the report.
"""

from __future__ import annotations

import uuid
from typing import Any

from svix.api import (
    ApplicationCreateOptions,
    ApplicationIn,
    ApplicationListOptions,
    ApplicationPatch,
    EndpointHeadersIn,
    EndpointHeadersPatchIn,
    EndpointIn,
    EndpointListOptions,
    EndpointPatch,
    EndpointSecretRotateIn,
    EndpointUpsertIn,
    EventExampleIn,
    EventTypeIn,
    EventTypeListOptions,
    EventTypePatch,
    EventTypeUpsertIn,
    Ordering,
)
from svix.exceptions import HttpError, HTTPValidationError

from conformance_harness import Ctx, check, expect, expect_status, wait_for

# ---------------------------------------------------------------------------
# Basics: health, authentication, errors.


@check("health")
def _health(c: Ctx) -> None:
    c.svix.health.get()


@check("bad_token_401")
def _bad_token(c: Ctx) -> None:
    expect_status(401, lambda: c.bad.application.list(), "list apps with a wrong token")
    expect_status(401, lambda: c.bad.application.create(ApplicationIn(name="x")), "create app with a wrong token")


@check("unknown_app_404")
def _unknown_app(c: Ctx) -> None:
    expect_status(404, lambda: c.svix.application.get(c.unique("no-such-app")), "get a missing app")
    expect_status(404, lambda: c.send(c.unique("no-such-app")), "send to a missing app")


@check("validation_error_422")
def _validation(c: Ctx) -> None:
    app = c.app("validation")
    e = expect_status(
        422, lambda: c.svix.endpoint.create(app.id, EndpointIn(url="not a url")), "endpoint with a bad url"
    )
    expect(isinstance(e, HTTPValidationError) and len(e.detail) >= 1, f"422 detail parses as a list: {e!r}")


# ---------------------------------------------------------------------------
# Applications.


@check("app_create")
def _app_create(c: Ctx) -> None:
    uid = c.unique("app")
    app = c.app("create", uid=uid, metadata={"team": "conformance"})
    expect(app.id.startswith("app_"), f"id {app.id!r} has the app_ prefix")
    expect(app.uid == uid, f"uid round-trips: {app.uid!r}")
    expect(app.metadata == {"team": "conformance"}, f"metadata round-trips: {app.metadata!r}")
    expect(app.name == "conformance create", f"name round-trips: {app.name!r}")
    expect_status(409, lambda: c.app("create again", uid=uid), "a second app with the same uid")


@check("app_throttle_rate")
def _app_throttle(c: Ctx) -> None:
    app = c.app("throttle", throttle_rate=100)
    expect(app.throttle_rate == 100, f"throttleRate round-trips on create: {app.throttle_rate!r}")
    expect(c.svix.application.get(app.id).throttle_rate == 100, "throttleRate round-trips on get")


@check("app_get")
def _app_get(c: Ctx) -> None:
    uid = c.unique("app")
    app = c.app("get", uid=uid)
    by_id = c.svix.application.get(app.id)
    by_uid = c.svix.application.get(uid)
    expect(by_id.id == app.id and by_uid.id == app.id, "get by id and by uid return the app")
    expect(by_id.created_at == app.created_at, "createdAt is stable")


@check("app_get_or_create")
def _app_get_or_create(c: Ctx) -> None:
    uid = c.unique("app")
    first = c.svix.application.get_or_create(ApplicationIn(name="conformance goc", uid=uid))
    second = c.svix.application.get_or_create(ApplicationIn(name="conformance goc", uid=uid))
    expect(first.id == second.id, f"get_or_create returns the existing app: {first.id} vs {second.id}")


@check("app_list")
def _app_list(c: Ctx) -> None:
    ids = {c.app(f"list {i}").id for i in range(2)}
    listed = c.list_all(
        "apps", lambda it: c.svix.application.list(ApplicationListOptions(iterator=it, limit=250)), 250
    )
    expect(ids <= {a.id for a in listed}, "both new apps are listed")


@check("app_pagination")
def _app_pagination(c: Ctx) -> None:
    mine = [c.app(f"page {i}").id for i in range(7)]
    pages = c.paginate("apps", lambda it: c.svix.application.list(ApplicationListOptions(iterator=it, limit=3)), 3)
    ids = [a.id for page in pages for a in page]
    expect(len(ids) == len(set(ids)), "no app is listed twice across pages")
    expect(len(pages) >= 3, f"7 apps at limit 3 take at least 3 pages, got {len(pages)}")
    found = [i for i in ids if i in set(mine)]
    # Either direction is Svix-compatible (`order` picks one); ringhook lists oldest first.
    expect(found in (mine, mine[::-1]), f"the new apps are listed once each, in creation order: {found}")


@check("app_update")
def _app_update(c: Ctx) -> None:
    app = c.app("update")
    out = c.svix.application.upsert(app.id, ApplicationIn(name="conformance updated", metadata={"v": "2"}))
    expect(out.id == app.id and out.name == "conformance updated", f"PUT renames the app: {out.name!r}")
    got = c.svix.application.get(app.id)
    expect(got.name == "conformance updated" and got.metadata == {"v": "2"}, "get sees the PUT")


@check("app_patch")
def _app_patch(c: Ctx) -> None:
    app = c.app("patch", metadata={"keep": "yes"})
    out = c.svix.application.patch(app.id, ApplicationPatch(name="conformance patched"))
    expect(out.name == "conformance patched", f"PATCH renames: {out.name!r}")
    expect(out.metadata == {"keep": "yes"}, f"PATCH keeps fields it was not given: {out.metadata!r}")


@check("app_delete")
def _app_delete(c: Ctx) -> None:
    app = c.app("delete")
    c.svix.application.delete(app.id)
    expect_status(404, lambda: c.svix.application.get(app.id), "get a deleted app")


@check("app_idempotency_key")
def _app_idempotency(c: Ctx) -> None:
    key = c.unique("idem")
    body = ApplicationIn(name="conformance idempotent")
    a = c.svix.application.create(body, ApplicationCreateOptions(idempotency_key=key))
    b = c.svix.application.create(body, ApplicationCreateOptions(idempotency_key=key))
    expect(a.id == b.id, f"the same idempotency-key returns the first result: {a.id} vs {b.id}")


# ---------------------------------------------------------------------------
# Endpoints.


@check("endpoint_create")
def _endpoint_create(c: Ctx) -> None:
    app = c.app("endpoint create")
    uid = c.unique("ep")
    ep, path = c.endpoint(
        app.id, uid=uid, description="conformance", event_types=["a.b"], channels=["eu"], metadata={"k": "v"}
    )
    expect(ep.id.startswith("ep_"), f"id {ep.id!r} has the ep_ prefix")
    expect(ep.url == c.sink.url(path), f"url round-trips: {ep.url!r}")
    expect(ep.uid == uid and ep.description == "conformance", "uid and description round-trip")
    expect(ep.event_types == ["a.b"] and ep.channels == ["eu"], f"filters round-trip: {ep.event_types} {ep.channels}")
    expect(ep.metadata == {"k": "v"}, f"metadata round-trips: {ep.metadata!r}")
    expect(not ep.disabled, "a new endpoint is enabled")


@check("endpoint_get")
def _endpoint_get(c: Ctx) -> None:
    app = c.app("endpoint get")
    uid = c.unique("ep")
    ep, _ = c.endpoint(app.id, uid=uid)
    expect(c.svix.endpoint.get(app.id, ep.id).id == ep.id, "get by id")
    expect(c.svix.endpoint.get(app.id, uid).id == ep.id, "get by uid")
    expect_status(404, lambda: c.svix.endpoint.get(app.id, c.unique("nope")), "get a missing endpoint")


@check("endpoint_list")
def _endpoint_list(c: Ctx) -> None:
    app = c.app("endpoint list")
    ids = [c.endpoint(app.id)[0].id for _ in range(2)]
    listed = c.svix.endpoint.list(app.id)
    expect(sorted(e.id for e in listed.data) == sorted(ids), "both endpoints are listed")
    expect(listed.done, "a short list is done")


@check("endpoint_pagination")
def _endpoint_pagination(c: Ctx) -> None:
    app = c.app("endpoint pages")
    ids = [c.endpoint(app.id)[0].id for _ in range(7)]
    pages = c.paginate("endpoints", lambda it: c.svix.endpoint.list(app.id, EndpointListOptions(iterator=it, limit=3)), 3)
    got = [e.id for page in pages for e in page]
    expect(len(pages) == 3, f"7 endpoints at limit 3 are 3 pages, got {len(pages)}")
    expect(sorted(got) == sorted(ids) and len(got) == len(set(got)), f"every endpoint exactly once: {got}")


@check("pagination_prev_iterator")
def _prev_iterator(c: Ctx) -> None:
    app = c.app("prev iterator")
    for _ in range(7):
        c.endpoint(app.id)
    lst = lambda it: c.svix.endpoint.list(app.id, EndpointListOptions(iterator=it, limit=3))
    first = lst(None)
    second = lst(first.iterator)
    expect(second.prev_iterator is not None, "a second page has a prevIterator")
    back = lst(second.prev_iterator)
    # Compared as sets: which way a backwards page is ordered varies.
    expect(
        sorted(e.id for e in back.data) == sorted(e.id for e in first.data),
        f"prevIterator of page 2 leads back to page 1: {[e.id for e in back.data]} vs {[e.id for e in first.data]}",
    )


@check("list_order")
def _list_order(c: Ctx) -> None:
    app = c.app("order")
    ids = [c.endpoint(app.id)[0].id for _ in range(3)]
    asc = c.svix.endpoint.list(app.id, EndpointListOptions(order=Ordering.ASCENDING))
    desc = c.svix.endpoint.list(app.id, EndpointListOptions(order=Ordering.DESCENDING))
    expect([e.id for e in asc.data] == ids, f"order=ascending is oldest first: {[e.id for e in asc.data]}")
    expect([e.id for e in desc.data] == ids[::-1], f"order=descending is newest first: {[e.id for e in desc.data]}")


@check("endpoint_update")
def _endpoint_update(c: Ctx) -> None:
    app = c.app("endpoint update")
    ep, _ = c.endpoint(app.id, description="before")
    new_path = "/" + c.unique("moved")
    out = c.svix.endpoint.upsert(
        app.id, ep.id, EndpointUpsertIn(url=c.sink.url(new_path), description="after", event_types=["x.y"])
    )
    expect(out.id == ep.id and out.url == c.sink.url(new_path), f"PUT changes the url: {out.url}")
    got = c.svix.endpoint.get(app.id, ep.id)
    expect(got.description == "after" and got.event_types == ["x.y"], "get sees the PUT")
    msg = c.send(app.id, "x.y")
    c.sink.wait_msg(new_path, msg.id)


@check("endpoint_patch")
def _endpoint_patch(c: Ctx) -> None:
    app = c.app("endpoint patch")
    ep, path = c.endpoint(app.id, description="before", metadata={"keep": "yes"})
    out = c.svix.endpoint.patch(app.id, ep.id, EndpointPatch(description="after"))
    expect(out.description == "after", f"PATCH changes the description: {out.description!r}")
    expect(out.url == c.sink.url(path) and out.metadata == {"keep": "yes"}, "PATCH keeps other fields")


@check("endpoint_delete")
def _endpoint_delete(c: Ctx) -> None:
    app = c.app("endpoint delete")
    ep, _ = c.endpoint(app.id)
    c.svix.endpoint.delete(app.id, ep.id)
    expect_status(404, lambda: c.svix.endpoint.get(app.id, ep.id), "get a deleted endpoint")


@check("endpoint_disable_enable")
def _endpoint_disable(c: Ctx) -> None:
    app = c.app("endpoint disable")
    ep, path = c.endpoint(app.id)
    out = c.svix.endpoint.patch(app.id, ep.id, EndpointPatch(disabled=True))
    expect(out.disabled is True, "PATCH disabled=true disables")
    skipped = c.send(app.id)
    out = c.svix.endpoint.patch(app.id, ep.id, EndpointPatch(disabled=False))
    expect(not out.disabled, "PATCH disabled=false enables")
    delivered = c.send(app.id)
    c.sink.wait_msg(path, delivered.id)
    expect(
        all(d.msg_id != skipped.id for d in c.sink.at(path, ok_only=False)),
        "a message sent while the endpoint was disabled is not delivered",
    )


@check("endpoint_secret_get")
def _secret_get(c: Ctx) -> None:
    app = c.app("secret")
    generated, _ = c.endpoint(app.id)
    key = c.svix.endpoint.get_secret(app.id, generated.id).key
    expect(key.startswith("whsec_"), f"a generated secret is whsec_-prefixed: {key[:8]}")
    given_key = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    given, _ = c.endpoint(app.id, secret=given_key)
    expect(c.svix.endpoint.get_secret(app.id, given.id).key == given_key, "a given secret round-trips")


@check("endpoint_secret_rotate")
def _secret_rotate(c: Ctx) -> None:
    app = c.app("rotate")
    ep, path = c.endpoint(app.id)
    old = c.svix.endpoint.get_secret(app.id, ep.id).key
    c.svix.endpoint.rotate_secret(app.id, ep.id, EndpointSecretRotateIn())
    new = c.svix.endpoint.get_secret(app.id, ep.id).key
    expect(new != old and new.startswith("whsec_"), "rotation changes the secret")
    msg = c.send(app.id)
    d = c.sink.wait_msg(path, msg.id)[0]
    c.verify(new, d)
    c.verify(old, d)  # the old secret still verifies during the grace period


@check("endpoint_custom_header")
def _custom_header(c: Ctx) -> None:
    app = c.app("header")
    ep, path = c.endpoint(app.id, headers={"x-conformance": "yes"})
    msg = c.send(app.id)
    d = c.sink.wait_msg(path, msg.id)[0]
    expect(d.headers.get("x-conformance") == "yes", f"the custom header arrives: {d.headers}")


@check("endpoint_headers_get")
def _headers_get(c: Ctx) -> None:
    app = c.app("headers get")
    ep, _ = c.endpoint(app.id, headers={"x-one": "1", "Authorization": "Bearer hidden"})
    out = c.svix.endpoint.get_headers(app.id, ep.id)
    # As in Svix, credentials-bearing headers are redacted: named in
    # `sensitive`, their values never returned.
    expect(out.headers == {"x-one": "1"}, f"headers round-trip, minus sensitive ones: {out.headers}")
    expect([h.lower() for h in out.sensitive] == ["authorization"], f"sensitive names the redacted: {out.sensitive}")


@check("endpoint_headers_update")
def _headers_update(c: Ctx) -> None:
    app = c.app("headers put")
    ep, path = c.endpoint(app.id, headers={"x-old": "1"})
    c.svix.endpoint.set_headers(app.id, ep.id, EndpointHeadersIn(headers={"x-new": "2"}))
    out = c.svix.endpoint.get_headers(app.id, ep.id)
    expect(out.headers == {"x-new": "2"}, f"PUT replaces the headers: {out.headers}")
    msg = c.send(app.id)
    d = c.sink.wait_msg(path, msg.id)[0]
    expect(d.headers.get("x-new") == "2" and "x-old" not in d.headers, f"delivery carries the new set: {d.headers}")


@check("endpoint_headers_patch")
def _headers_patch(c: Ctx) -> None:
    app = c.app("headers patch")
    ep, _ = c.endpoint(app.id, headers={"x-a": "1", "x-b": "2"})
    c.svix.endpoint.patch_headers(
        app.id, ep.id, EndpointHeadersPatchIn(headers={"x-c": "3"}, delete_headers=["x-a"])
    )
    out = c.svix.endpoint.get_headers(app.id, ep.id)
    expect(out.headers == {"x-b": "2", "x-c": "3"}, f"PATCH merges and deletes: {out.headers}")


@check("endpoint_stats")
def _stats(c: Ctx) -> None:
    app = c.app("stats")
    ep, path = c.endpoint(app.id)
    msg = c.send(app.id)
    c.sink.wait_msg(path, msg.id)
    stats = wait_for(
        "stats to count the success",
        lambda: (lambda s: s if s.success >= 1 else None)(c.svix.endpoint.get_stats(app.id, ep.id)),
    )
    expect(stats.fail == 0, f"no failures counted: {stats}")


@check("send_example")
def _send_example(c: Ctx) -> None:
    # `svix.ping` is the example type Svix always has, with no event type created.
    app = c.app("example")
    ep, path = c.endpoint(app.id)
    secret = c.svix.endpoint.get_secret(app.id, ep.id).key
    msg = c.svix.endpoint.send_example(app.id, ep.id, EventExampleIn(event_type="svix.ping"))
    expect(msg.event_type == "svix.ping", f"the example has the asked type: {msg.event_type}")
    d = c.sink.wait_msg(path, msg.id)[0]
    c.verify(secret, d)
    expect(d.json() == {"success": True}, f"the ping payload is Svix's: {d.body!r}")


# ---------------------------------------------------------------------------
# Event types.


def new_event_type(c: Ctx, description: str = "made by conformance") -> Any:
    return c.svix.event_type.create(EventTypeIn(name="conformance." + uuid.uuid4().hex[:10], description=description))


@check("event_type_create")
def _et_create(c: Ctx) -> None:
    et = new_event_type(c)
    expect(et.name.startswith("conformance.") and et.description == "made by conformance", f"round-trips: {et}")
    expect_status(409, lambda: c.svix.event_type.create(EventTypeIn(name=et.name, description="d")), "duplicate name")


@check("event_type_get")
def _et_get(c: Ctx) -> None:
    et = new_event_type(c)
    expect(c.svix.event_type.get(et.name).name == et.name, "get by name")


@check("event_type_list")
def _et_list(c: Ctx) -> None:
    names = {new_event_type(c).name for _ in range(3)}
    listed = c.list_all("event types", lambda it: c.svix.event_type.list(EventTypeListOptions(iterator=it, limit=2)), 2)
    expect(names <= {e.name for e in listed}, "new event types are listed across pages")


@check("event_type_update")
def _et_update(c: Ctx) -> None:
    et = new_event_type(c)
    out = c.svix.event_type.upsert(et.name, EventTypeUpsertIn(description="updated"))
    expect(out.description == "updated", "PUT changes the description")
    expect(c.svix.event_type.get(et.name).description == "updated", "get sees the PUT")


@check("event_type_patch")
def _et_patch(c: Ctx) -> None:
    et = new_event_type(c)
    out = c.svix.event_type.patch(et.name, EventTypePatch(description="patched"))
    expect(out.description == "patched", "PATCH changes the description")


@check("event_type_delete")
def _et_delete(c: Ctx) -> None:
    et = new_event_type(c)
    c.svix.event_type.delete(et.name)
    # Svix archives on delete: get either 404s or shows archived.
    try:
        got = c.svix.event_type.get(et.name)
        expect(bool(got.archived), "a deleted event type is archived")
    except HttpError as e:
        expect(e.status_code == 404, f"get a deleted event type: {e.status_code}")
    listed = c.list_all("event types", lambda it: c.svix.event_type.list(EventTypeListOptions(iterator=it, limit=250)), 250)
    expect(et.name not in {e.name for e in listed}, "a deleted event type is not listed")
