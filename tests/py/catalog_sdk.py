"""Drives the catalog routes through the official `svix` Python SDK.

Usage: catalog_sdk.py SERVER_URL TOKEN SINK_URL. Every call parses the
engine's answer with the SDK's own models, so a wrong status, path or field
name fails here. Prints "ok" and exits 0 when every step passed.
"""
import sys

from svix.api import (
    ApplicationIn,
    ApplicationPatch,
    EndpointHeadersIn,
    EndpointHeadersPatchIn,
    EndpointIn,
    EndpointPatch,
    EndpointSecretRotateIn,
    EndpointUpsertIn,
    EventTypeIn,
    EventTypePatch,
    EventTypeUpsertIn,
    MessageIn,
    Svix,
    SvixOptions,
)
from svix.api.application import ApplicationListOptions
from svix.api.event_type import EventTypeDeleteOptions, EventTypeListOptions
from svix.exceptions import HttpError


def main() -> int:
    server, token, sink = sys.argv[1], sys.argv[2], sys.argv[3]
    svix = Svix(token, SvixOptions(server_url=server, retry_schedule=[]))

    app = svix.application.create(ApplicationIn(name="SDK", uid="sdk-app", throttle_rate=5))
    assert app.uid == "sdk-app" and app.throttle_rate == 5, app
    same = svix.application.get_or_create(ApplicationIn(name="SDK", uid="sdk-app"))
    assert same.id == app.id
    up = svix.application.upsert("sdk-up", ApplicationIn(name="Upserted"))
    assert up.uid == "sdk-up", up
    patched = svix.application.patch(app.id, ApplicationPatch(name="SDK 2"))
    assert patched.name == "SDK 2" and patched.throttle_rate == 5, patched
    page = svix.application.list(ApplicationListOptions(limit=1))
    assert len(page.data) == 1 and not page.done and page.iterator, page

    ep = svix.endpoint.create(app.id, EndpointIn(url=sink, event_types=["a.b"], uid="ep-1"))
    assert ep.event_types == ["a.b"], ep
    ep2 = svix.endpoint.upsert(app.id, "ep-2", EndpointUpsertIn(url=sink, description="two"))
    assert ep2.uid == "ep-2" and ep2.description == "two", ep2
    ep2 = svix.endpoint.patch(app.id, "ep-2", EndpointPatch(disabled=True))
    assert ep2.disabled and ep2.description == "two", ep2
    assert len(svix.endpoint.list(app.id).data) == 2
    old = svix.endpoint.get_secret(app.id, ep.id).key
    rotated = svix.endpoint.rotate_secret(app.id, ep.id, EndpointSecretRotateIn())
    assert rotated.key != old and svix.endpoint.get_secret(app.id, ep.id).key == rotated.key
    svix.endpoint.set_headers(app.id, ep.id, EndpointHeadersIn(headers={"x-a": "1"}))
    svix.endpoint.patch_headers(
        app.id, ep.id, EndpointHeadersPatchIn(headers={"x-b": "2"}, delete_headers=["x-a"])
    )
    h = svix.endpoint.get_headers(app.id, ep.id)
    assert h.headers == {"x-b": "2"} and h.sensitive == [], h
    svix.endpoint.delete(app.id, "ep-2")
    try:
        svix.endpoint.get(app.id, "ep-2")
        raise AssertionError("deleted endpoint still there")
    except HttpError as e:
        assert e.status_code == 404, e

    msg = svix.message.create(
        "sdk-inline",
        MessageIn(event_type="a.b", payload={"x": 1}, application=ApplicationIn(name="Inline", uid="sdk-inline")),
    )
    assert msg.id.startswith("msg_"), msg
    assert svix.application.get("sdk-inline").name == "Inline"

    et = svix.event_type.create(EventTypeIn(name="sdk.created", description="d"))
    assert et.name == "sdk.created" and not et.deprecated, et
    assert svix.event_type.upsert("sdk.other", EventTypeUpsertIn(description="o")).description == "o"
    assert svix.event_type.patch("sdk.created", EventTypePatch(description="e")).description == "e"
    svix.event_type.delete("sdk.created")
    assert svix.event_type.get("sdk.created").archived
    names = [t.name for t in svix.event_type.list(EventTypeListOptions(include_archived=True)).data]
    assert names == ["sdk.created", "sdk.other"], names
    svix.event_type.delete("sdk.other", EventTypeDeleteOptions(expunge=True))
    assert [t.name for t in svix.event_type.list().data] == []

    svix.application.delete(app.id)
    try:
        svix.application.get(app.id)
        raise AssertionError("deleted application still there")
    except HttpError as e:
        assert e.status_code == 404, e
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
