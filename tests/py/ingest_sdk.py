"""Incoming webhooks driven by clients others wrote: the official `svix`
SDK manages sources and ingest endpoints; `standardwebhooks` and
`slack_sdk` sign requests the way Svix and Slack do.

Usage: ingest_sdk.py SERVER_URL TOKEN SINK_URL
Prints one JSON object: what was created and sent, for the Rust test
(tests/incoming.rs) to check against its sink. Exits non-zero on the first
failed expectation, naming it.
"""
import json
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

from slack_sdk.signature import SignatureVerifier
from standardwebhooks.webhooks import Webhook
from checks import expect, sdk
from svix.models import (IngestEndpointHeadersIn, IngestEndpointIn, IngestEndpointSecretIn,
                         IngestEndpointUpsertIn, IngestSourceIn)


def post(url, body: bytes, headers):
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main() -> int:
    server, token, sink = sys.argv[1], sys.argv[2], sys.argv[3]
    svix = sdk(server, token)
    src_api, ep_api = svix.ingest.source, svix.ingest.endpoint
    whsec = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    # Sources: create, get, list, upsert, rotate, delete.
    src = src_api.create(IngestSourceIn(name="from svix", uid="svix-in", type="svix", config={"secret": whsec}))
    expect(src.id.startswith("src_") and src.uid == "svix-in", f"create: {src}")
    expect(src.ingest_url and "/ingest/" in src.ingest_url, f"ingestUrl: {src.ingest_url}")
    expect(src_api.get("svix-in").id == src.id, "get by uid")
    expect(src.id in [s.id for s in src_api.list().data], "list")
    upd = src_api.upsert(src.id, IngestSourceIn(name="renamed", uid="svix-in", type="svix", config={"secret": whsec}))
    expect(upd.name == "renamed" and upd.ingest_url == src.ingest_url, "upsert keeps the URL")
    old_url = src.ingest_url
    new_url = src_api.rotate_token(src.id).ingest_url
    expect(new_url != old_url, "rotate gives a new URL")
    status, _ = post(old_url, b"{}", {"content-type": "application/json"})
    expect(status == 404, f"the old URL stops at once: {status}")
    gone = src_api.create(IngestSourceIn(name="gone", type="github", config={}))
    src_api.delete(gone.id)
    try:
        src_api.get(gone.id)
        expect(False, "deleted source still readable")
    except Exception as e:  # the SDK raises on 404
        expect("404" in repr(e) or getattr(e, "code", None) == 404 or "not found" in repr(e).lower(), f"delete: {e!r}")

    # Ingest endpoints: create, get, list, secret, rotate, headers, update, delete.
    ep = ep_api.create(src.id, IngestEndpointIn(url=sink + "/svix", uid="to-sink", metadata={"k": "v"}))
    expect(ep.url.endswith("/svix") and ep.metadata == {"k": "v"}, f"endpoint create: {ep}")
    expect(ep_api.get(src.id, "to-sink").id == ep.id, "endpoint get by uid")
    expect([e.id for e in ep_api.list(src.id).data] == [ep.id], "endpoint list")
    first_secret = ep_api.get_secret(src.id, ep.id).key
    ep_api.rotate_secret(src.id, ep.id, IngestEndpointSecretIn())
    secret = ep_api.get_secret(src.id, ep.id).key
    expect(secret != first_secret and secret.startswith("whsec_"), "secret rotate")
    ep_api.set_headers(src.id, ep.id, IngestEndpointHeadersIn(headers={"x-forwarded-by": "ringhook"}))
    expect(ep_api.get_headers(src.id, ep.id).headers.get("x-forwarded-by") == "ringhook", "headers")
    up = ep_api.upsert(src.id, ep.id, IngestEndpointUpsertIn(url=sink + "/svix", description="to the sink"))
    expect(up.description == "to the sink" and up.id == ep.id, f"endpoint upsert: {up}")
    spare = ep_api.create(src.id, IngestEndpointIn(url=sink + "/spare"))
    ep_api.delete(src.id, spare.id)
    expect([e.id for e in ep_api.list(src.id).data] == [ep.id], "endpoint delete")

    # Standard Webhooks, signed by the reference library.
    wh = Webhook(whsec)
    body = json.dumps({"type": "user.created", "data": {"n": 1}})
    now = datetime.now(tz=timezone.utc)
    sig = wh.sign("msg_in_1", now, body)
    ts = str(int(now.timestamp()))
    good = {"webhook-id": "msg_in_1", "webhook-timestamp": ts, "webhook-signature": sig, "content-type": "application/json"}
    status, _ = post(new_url, body.encode(), good)
    expect(status == 200, f"signed request accepted: {status}")
    status, _ = post(new_url, body.encode(), good)
    expect(status == 200, f"a repeat is answered 2xx: {status}")
    status, answer = post(new_url, body.replace("1", "2").encode(), good)
    expect(status == 401 and b"bad_signature" in answer, f"tampered body: {status} {answer}")
    stale = datetime.fromtimestamp(now.timestamp() - 3600, tz=timezone.utc)
    old = dict(good, **{"webhook-timestamp": str(int(stale.timestamp())), "webhook-signature": wh.sign("msg_in_1", stale, body)})
    status, answer = post(new_url, body.encode(), old)
    expect(status == 401 and b"stale_timestamp" in answer, f"stale: {status} {answer}")
    status, _ = post(new_url, body.encode(), {"content-type": "application/json"})
    expect(status == 401, f"unsigned: {status}")

    # Slack, signed by slack_sdk.
    slack_secret = "8f742231b10e8888abcd99yyyzzz85a5"
    slack = src_api.create(IngestSourceIn(name="slack", type="slack", config={"secret": slack_secret}))
    ep_api.create(slack.id, IngestEndpointIn(url=sink + "/slack"))
    signer = SignatureVerifier(slack_secret)

    def slack_post(payload: dict, ts_offset: int = 0, tamper: bool = False):
        raw = json.dumps(payload)
        ts = str(int(time.time()) + ts_offset)
        sig = signer.generate_signature(timestamp=ts, body=raw)
        sent = raw + (" " if tamper else "")
        return post(slack.ingest_url, sent.encode(), {
            "x-slack-request-timestamp": ts, "x-slack-signature": sig, "content-type": "application/json"})

    status, answer = slack_post({"type": "url_verification", "challenge": "c-123"})
    expect(status == 200 and json.loads(answer).get("challenge") == "c-123", f"challenge: {status} {answer}")
    event = {"type": "event_callback", "event_id": "Ev01", "event": {"type": "app_mention", "text": "hi"}}
    status, _ = slack_post(event)
    expect(status == 200, f"slack event: {status}")
    status, _ = slack_post(event, tamper=True)
    expect(status == 401, f"slack tampered: {status}")
    status, _ = slack_post(event, ts_offset=-600)
    expect(status == 401, f"slack stale: {status}")

    print(json.dumps({"svix_source": src.id, "endpoint_secret": secret, "slack_source": slack.id}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
