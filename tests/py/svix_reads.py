"""Drives the read-path routes with the official `svix` Python SDK.

Usage: svix_reads.py SERVER_URL TOKEN APP_ID ENDPOINT_ID MSG_ID

Every response is parsed by the SDK's pydantic models, so a missing or
mistyped field fails here. Prints one JSON object summarising what it saw.
"""

import json
import sys
import time
from datetime import datetime, timedelta, timezone

from svix.api import (
    EventExampleIn,
    MessageAttemptListByEndpointOptions,
    MessageListOptions,
    RecoverIn,
    Svix,
    SvixOptions,
)


def main() -> None:
    url, token, app, ep, msg = sys.argv[1:6]
    svix = Svix(token, SvixOptions(server_url=url))
    out = {}
    msgs = svix.message.list(app, MessageListOptions(limit=2, with_content=True))
    out["msgs"] = [m.id for m in msgs.data]
    out["msgs_done"] = msgs.done
    out["payload"] = msgs.data[0].payload
    out["get"] = svix.message.get(app, msg).id
    attempts = svix.message_attempt.list_by_endpoint(
        app, ep, MessageAttemptListByEndpointOptions(limit=50, with_msg=True)
    )
    out["attempt_statuses"] = sorted({int(a.status) for a in attempts.data})
    out["attempt_msgs"] = sorted({a.msg_id for a in attempts.data})
    by_msg = svix.message_attempt.list_by_msg(app, msg)
    out["by_msg"] = len(by_msg.data)
    one = svix.message_attempt.get(app, msg, by_msg.data[0].id)
    out["one_trigger"] = int(one.trigger_type)
    dests = svix.message_attempt.list_attempted_destinations(app, msg)
    out["dest_status"] = [d.status_text.value for d in dests.data]
    sent = svix.message_attempt.list_attempted_messages(app, ep)
    out["attempted_messages"] = len(sent.data)
    stats = svix.endpoint.get_stats(app, ep)
    out["stats"] = {"success": stats.success, "fail": stats.fail}
    svix.message_attempt.resend(app, msg, ep)
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    task = svix.endpoint.recover(app, ep, RecoverIn(since=since))
    out["task"] = task.task.value
    for _ in range(500):
        got = svix.background_task.get(task.id)
        if got.status.value != "running":
            break
        time.sleep(0.01)
    out["task_status"] = got.status.value
    out["tasks_listed"] = any(t.id == task.id for t in svix.background_task.list().data)
    example = svix.endpoint.send_example(app, ep, EventExampleIn(event_type="sdk.example"))
    out["example_type"] = example.event_type
    print(json.dumps(out))


if __name__ == "__main__":
    main()
