"""The official svix SDK replays and reads stats against ringhook:
`endpoint.replay_missing`, `endpoint.bulk_replay`, `endpoint.get_stats`
(with `since`/`until`), `endpoint.get_attempt_stats`,
`statistics.aggregate_app_stats` / `aggregate_event_types`, and the
background tasks they start.

Usage: replay_sdk.py SERVER_URL TOKEN SINK_URL; prints "ok" or fails
naming the expectation.
"""
import json
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone

from checks import expect, sdk
from svix.api import (ApplicationIn, EndpointGetAttemptStatsOptions, EndpointGetStatsOptions, EndpointIn,
                      MessageIn)
from svix.models import AppPortalAccessIn, ApplicationTokenExpireIn, AppUsageStatsIn, BulkReplayIn, ReplayIn


def finished(svix, task_id):
    deadline = time.time() + 20
    while True:
        t = svix.background_task.get(task_id)
        if t.status.value != "running":
            expect(t.status.value == "finished", f"task: {t}")
            return t.data
        expect(time.time() < deadline, f"task {task_id} still running")
        time.sleep(0.1)


def delivered(svix, app, ep, n):
    deadline = time.time() + 20
    while svix.endpoint.get_stats(app, ep).success < n:
        expect(time.time() < deadline, f"{n} deliveries to {ep}")
        time.sleep(0.1)


def main() -> int:
    server, token, sink = sys.argv[1], sys.argv[2], sys.argv[3]
    svix = sdk(server, token)
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    app = svix.application.create(ApplicationIn(name="replayed")).id
    a = svix.endpoint.create(app, EndpointIn(url=f"{sink}/a", event_types=["order.paid"])).id
    for n in range(3):
        svix.message.create(app, MessageIn(event_type="order.paid", payload={"n": n}))
    svix.message.create(app, MessageIn(event_type="user.deleted", payload={"n": 9}))
    delivered(svix, app, a, 3)
    # A new endpoint missed them: replay_missing sends those it takes.
    b = svix.endpoint.create(app, EndpointIn(url=f"{sink}/b", event_types=["order.paid"])).id
    task = svix.endpoint.replay_missing(app, b, ReplayIn(since=start))
    expect(task.task.value == "endpoint.replay" and task.id.startswith("qtask_"), f"replay task: {task}")
    expect(finished(svix, task.id) == {"messagesSent": 3}, "three missing")
    delivered(svix, app, b, 3)
    again = svix.endpoint.replay_missing(app, b, ReplayIn(since=start))
    expect(finished(svix, again.id) == {"messagesSent": 0}, "none missing any more")
    # bulk_replay resends what was sent, narrowed by filters.
    bulk = svix.endpoint.bulk_replay(app, a, BulkReplayIn(since=start, status=0))
    expect(bulk.task.value == "endpoint.bulk-replay", f"bulk task: {bulk}")
    expect(finished(svix, bulk.id) == {"messagesSent": 3}, "three replayed")
    none = svix.endpoint.bulk_replay(app, a, BulkReplayIn(since=start, event_types=["user.deleted"]))
    expect(finished(svix, none.id) == {"messagesSent": 0}, "none of that type")
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    later = svix.endpoint.bulk_replay(app, a, BulkReplayIn(since=future))
    expect(finished(svix, later.id) == {"messagesSent": 0}, "none after since")
    # Stats: deliveries by status within a range, attempts by outcome.
    deadline = time.time() + 20
    while svix.endpoint.get_attempt_stats(app, a).success < 6:
        expect(time.time() < deadline, "six successful attempts to a")
        time.sleep(0.1)
    stats = svix.endpoint.get_stats(app, a, EndpointGetStatsOptions(since=start))
    expect(stats.success == 3 and stats.fail == 0, f"stats since start: {stats}")
    empty = svix.endpoint.get_stats(app, a, EndpointGetStatsOptions(since=future))
    expect(empty.success == 0, f"stats since the future: {empty}")
    attempts = svix.endpoint.get_attempt_stats(app, a, EndpointGetAttemptStatsOptions(since=start))
    expect(attempts.success == 6 and attempts.fail == 0, f"attempt stats: {attempts}")
    # ringhook's addition: the same counts per UTC day (the SDK ignores it).
    req = urllib.request.Request(f"{server}/api/v1/app/{app}/endpoint/{a}/attempt-stats",
                                 headers={"Authorization": f"Bearer {token}"})
    days = json.load(urllib.request.urlopen(req, timeout=10))["days"]
    today = datetime.now(timezone.utc).date().isoformat()
    expect(sum(d["success"] for d in days) == 6 and days[-1]["date"] in (today, start.date().isoformat()),
           f"per-day attempt stats: {days}")
    # Usage statistics, as (finished) background tasks.
    usage = svix.statistics.aggregate_app_stats(AppUsageStatsIn(since=start, until=future, app_ids=[app, "app_nope"]))
    expect(usage.unresolved_app_ids == ["app_nope"], f"usage: {usage}")
    data = finished(svix, usage.id)
    expect(data["appStats"] == [{"appId": app, "appUid": None, "messageDestinations": 6}], f"app stats: {data}")
    kinds = svix.statistics.aggregate_event_types()
    data = finished(svix, kinds.id)
    mine = [e for e in data["event_types"] if e["appId"] == app]
    expect(mine == [{"appId": app, "explicitlySubscribedEventTypes": ["order.paid"], "hasCatchAllEndpoint": False}],
           f"event types: {data}")
    # Portal sessions through the SDK: access, logout, expire-all.
    access = svix.authentication.app_portal_access(app, AppPortalAccessIn(capabilities=["ViewBase"]))
    expect(access.url and access.token, f"portal access: {access}")
    portal = sdk(server, access.token)
    expect([e.id for e in portal.endpoint.list(app).data] == [a, b], "the portal reads its application")
    portal.authentication.logout()
    try:
        portal.endpoint.list(app)
        expect(False, "a logged-out portal token still works")
    except Exception as e:  # the SDK raises its HTTP error type
        expect("401" in str(e) or "authentication" in str(e).lower(), f"after logout: {e}")
    other = svix.authentication.app_portal_access(app, AppPortalAccessIn())
    svix.authentication.expire_all(app, ApplicationTokenExpireIn())
    try:
        sdk(server, other.token).endpoint.list(app)
        expect(False, "an expired portal token still works")
    except Exception as e:
        expect("401" in str(e) or "authentication" in str(e).lower(), f"after expire-all: {e}")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
