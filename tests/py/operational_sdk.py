"""The official svix SDK drives ringhook's operational endpoints:
create, get, list, upsert, secret, rotate, headers, delete.

Usage: operational_sdk.py SERVER_URL TOKEN; prints "ok" or fails naming
the expectation.
"""
import sys

from checks import expect, sdk
from svix.models import (OperationalWebhookEndpointHeadersIn, OperationalWebhookEndpointIn,
                         OperationalWebhookEndpointSecretIn, OperationalWebhookEndpointUpsertIn)


def main() -> int:
    server, token = sys.argv[1], sys.argv[2]
    api = sdk(server, token).operational_webhook.endpoint
    ep = api.create(OperationalWebhookEndpointIn(url="http://127.0.0.1:9/hook", uid="pager",
                                                  event_types=["endpoint.disabled"], metadata={"team": "sre"}))
    expect(ep.id.startswith("ep_") and ep.uid == "pager", f"create: {ep}")
    expect(ep.event_types == ["endpoint.disabled"], f"filter: {ep.event_types}")
    expect(api.get("pager").id == ep.id, "get by uid")
    expect([e.id for e in api.list().data] == [ep.id], "list")
    up = api.upsert(ep.id, OperationalWebhookEndpointUpsertIn(url="http://127.0.0.1:9/v2", description="v2"))
    expect(up.url.endswith("/v2") and up.description == "v2", f"update: {up}")
    first = api.get_secret(ep.id).key
    api.rotate_secret(ep.id, OperationalWebhookEndpointSecretIn())
    expect(api.get_secret(ep.id).key != first, "rotate")
    api.set_headers(ep.id, OperationalWebhookEndpointHeadersIn(headers={"x-team": "sre"}))
    expect(api.get_headers(ep.id).headers.get("x-team") == "sre", "headers")
    api.delete(ep.id)
    expect(api.list().data == [], "delete")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
