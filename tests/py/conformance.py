"""Conformance suite: drives a ringhook server with the official Svix Python SDK.

Integrators point code written against Svix at ringhook, so every operation of
the Svix `/api/v1` dialect that ringhook serves is exercised here through the
real `svix` package (2.9.1), and every delivery is checked the way a receiver
would check it: at a local HTTP sink, with `svix.webhooks.Webhook.verify`.
This file is the runner; the sink and fixtures are in `conformance_harness`,
the checks in `conformance_catalog` and `conformance_delivery`.

Usage:
    conformance.py --server-url http://127.0.0.1:8071 --token TOKEN
                   [--only name,...] [--allow-missing]
                   [--expect-missing name,...] [--attempts N] [--list]

Each check is a small named function; the output has one line per check:
    PASS     name
    FAIL     name: reason
    MISSING  name: reason     (--allow-missing, and the failure was a 404/405)
    EXPECTED name: reason     (listed in --expect-missing, and it failed)
    XPASS    name             (listed in --expect-missing, but it passed)
The exit status is 0 when no check FAILed. `--attempts` must equal the number
of entries in the server's retry schedule (the Rust driver starts ringhook
with three), so the recover check knows when a message has failed for good.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

# Importing the check modules registers their checks, in report order.
import conformance_catalog  # noqa: F401
import conformance_delivery  # noqa: F401
from conformance_harness import CHECKS, CheckFailed, Ctx, status_of
from svix.exceptions import HttpError, HTTPValidationError

# ---------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server-url", required=False)
    p.add_argument("--token", required=False)
    p.add_argument("--only", default="", help="comma-separated check names to run")
    p.add_argument("--allow-missing", action="store_true", help="report 404/405 failures as MISSING, not FAIL")
    p.add_argument("--expect-missing", default="", help="comma-separated checks allowed to fail")
    p.add_argument("--attempts", type=int, default=3, help="entries in the server's retry schedule")
    p.add_argument("--list", action="store_true", help="print the check names and exit")
    args = p.parse_args()

    names = [n for n, _ in CHECKS]
    if args.list:
        print("\n".join(names))
        return 0
    if not args.server_url or not args.token:
        p.error("--server-url and --token are required")
    only = [n for n in args.only.split(",") if n]
    expected = {n for n in args.expect_missing.split(",") if n}
    unknown = [n for n in only + sorted(expected) if n not in names]
    if unknown:
        print(f"unknown check(s): {', '.join(unknown)}; known: {', '.join(names)}", file=sys.stderr)
        return 2

    ctx = Ctx(args.server_url, args.token, args.attempts)
    counts = {"PASS": 0, "FAIL": 0, "MISSING": 0, "EXPECTED": 0, "XPASS": 0}
    for name, f in CHECKS:
        if only and name not in only:
            continue
        started = time.monotonic()
        try:
            f(ctx)
            verdict, reason = ("XPASS", "passes but is listed as expected missing") if name in expected else ("PASS", "")
        except Exception as e:  # every failure is reported, then the run goes on
            status = status_of(e)
            reason = f"HTTP {status}: {e}" if status is not None else f"{type(e).__name__}: {e}"
            if name in expected:
                verdict = "EXPECTED"
            elif args.allow_missing and status in (404, 405):
                verdict = "MISSING"
            else:
                verdict = "FAIL"
                if not isinstance(e, (CheckFailed, HttpError, HTTPValidationError)):
                    reason += "\n" + "".join(traceback.format_exception(e)).rstrip()
        counts[verdict] += 1
        ms = (time.monotonic() - started) * 1000
        line = f"{verdict:<9}{name} ({ms:.0f} ms)"
        print(line + (f": {reason}" if reason else ""), flush=True)
    print("summary: " + ", ".join(f"{v} {k.lower()}" for k, v in counts.items()), flush=True)
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
