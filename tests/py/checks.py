"""What the SDK scripts run by the Rust tests share: a failed expectation
ends the script with exit code 1 (the Rust test prints its stderr), polls
wait with a deadline, and clients are the official `svix` SDK with no
retries (a retry would hide a refused request)."""

import sys
import time

from svix.api import Svix, SvixOptions

# How long one wait may take before the script fails.
DEADLINE_S = 20.0


def expect(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def wait(what, f, timeout=DEADLINE_S):
    """Polls `f` until it returns something truthy; fails after `timeout`."""
    deadline = time.time() + timeout
    while True:
        v = f()
        if v:
            return v
        expect(time.time() < deadline, what)
        time.sleep(0.1)


def sdk(server, token):
    """The svix SDK against `server` with `token`, without retries."""
    return Svix(token, SvixOptions(server_url=server, retry_schedule=[], timeout=10.0))
