"""Verifies webhook signatures with the reference `standardwebhooks` library.

Usage: verify.py SECRET FILE, where FILE is a JSON list of {headers, body}.
Prints the number verified; exits non-zero at the first failure.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook


def main() -> int:
    secret, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        items = json.load(f)
    wh = Webhook(secret)
    for i, item in enumerate(items):
        try:
            wh.verify(item["body"], item["headers"])
        except Exception as e:  # report which one failed, then fail
            print(f"request {i} failed verification: {e!r}", file=sys.stderr)
            return 1
    print(len(items))
    return 0


if __name__ == "__main__":
    sys.exit(main())
