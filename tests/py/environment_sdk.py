"""The official svix SDK exports and imports an environment
(`svix.environment.export` / `import_`) against ringhook.

Usage: environment_sdk.py SERVER_URL TOKEN; prints "ok" or fails naming
the expectation.
"""
import sys

from checks import expect, sdk
from svix.models import EnvironmentIn, EventTypeImportOpenApiIn, EventTypeIn

SPEC_YAML = """
openapi: 3.1.0
info: {title: shop, version: "1"}
webhooks:
  refund.issued:
    post:
      summary: A refund was issued
      x-svix-group-name: refunds
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Refund"}
  refund.failed:
    post:
      description: A refund failed
      deprecated: true
components:
  schemas:
    Refund:
      type: object
      properties: {amount: {type: integer}}
      examples: [{amount: 5}]
"""


def main() -> int:
    server, token = sys.argv[1], sys.argv[2]
    svix = sdk(server, token)
    out = svix.environment.export()
    names = [t.name for t in out.event_types]
    expect("order.paid" in names, f"export: {names}")
    schema = {"1": {"type": "object", "examples": [{"invoice": "i_1"}]}}
    svix.environment.import_(EnvironmentIn(event_types=[
        EventTypeIn(name="invoice.paid", description="An invoice was paid", schemas=schema)]))
    got = svix.event_type.get("invoice.paid")
    expect(got.description == "An invoice was paid" and got.schemas == schema, f"imported: {got}")
    # Event types from an OpenAPI document's webhooks: a dry run changes
    # nothing, then YAML text.
    dry = svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec_raw=SPEC_YAML, dry_run=True))
    names = sorted(t.name for t in dry.data.to_modify)
    expect(names == ["refund.failed", "refund.issued"] and dry.data.modified == [], f"dry run: {dry}")
    expect("refund.issued" not in [t.name for t in svix.event_type.list().data], "nothing made by a dry run")
    done = svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec_raw=SPEC_YAML))
    expect(sorted(done.data.modified) == names, f"import: {done}")
    refund = svix.event_type.get("refund.issued")
    expect(refund.description == "A refund was issued" and refund.group_name == "refunds", f"{refund}")
    expect(refund.schemas["1"]["properties"]["amount"]["type"] == "integer", f"the $ref resolved: {refund.schemas}")
    expect(svix.event_type.get("refund.failed").deprecated, "deprecated")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
