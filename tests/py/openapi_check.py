"""Checks ringhook's OpenAPI document against a real engine: it validates
with `openapi-spec-validator`, then Schemathesis calls every documented
operation with generated inputs (a bounded number each, a fixed seed) and
checks every answer: no 5xx, status codes, content types, headers and
bodies as documented.

Usage: openapi_check.py SERVER_URL TOKEN MAX_EXAMPLES; prints "ok" or
fails with Schemathesis's report.
"""
import json
import os
import subprocess
import sys
import urllib.request

from openapi_spec_validator import validate


def main() -> int:
    server, token, examples = sys.argv[1], sys.argv[2], sys.argv[3]
    with urllib.request.urlopen(f"{server}/api/v1/openapi.json", timeout=10) as r:
        doc = json.load(r)
    validate(doc)
    cli = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    run = subprocess.run(
        [cli, "run", f"{server}/api/v1/openapi.json", "--experimental=openapi-3.1",
         "-H", f"Authorization: Bearer {token}", "--checks", "all",
         f"--hypothesis-max-examples={examples}", "--hypothesis-seed=1", "--workers=2",
         "--hypothesis-suppress-health-check=all"],
        capture_output=True, text=True, timeout=900)
    if run.returncode != 0:
        print(run.stdout[-20000:], file=sys.stderr)
        print(run.stderr[-5000:], file=sys.stderr)
        return 1
    summary = [l for l in run.stdout.splitlines() if "passed" in l][-1:]
    print("ok", *summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
