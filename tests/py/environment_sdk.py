"""The official svix SDK exports and imports an environment
(`svix.environment.export` / `import_`) against ringhook.

Usage: environment_sdk.py SERVER_URL TOKEN; prints "ok" or fails naming
the expectation.
"""
import sys

from svix.api import Svix, SvixOptions
from svix.models import EnvironmentIn, EventTypeIn


def expect(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def main() -> int:
    server, token = sys.argv[1], sys.argv[2]
    svix = Svix(token, SvixOptions(server_url=server, retry_schedule=[], timeout=10.0))
    out = svix.environment.export()
    names = [t.name for t in out.event_types]
    expect("order.paid" in names, f"export: {names}")
    schema = {"1": {"type": "object", "examples": [{"invoice": "i_1"}]}}
    svix.environment.import_(EnvironmentIn(event_types=[
        EventTypeIn(name="invoice.paid", description="An invoice was paid", schemas=schema)]))
    got = svix.event_type.get("invoice.paid")
    expect(got.description == "An invoice was paid" and got.schemas == schema, f"imported: {got}")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
