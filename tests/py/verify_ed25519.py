"""Standard Webhooks asymmetric (`v1a`, ed25519) signatures, checked with
the `cryptography` package (an implementation ringhook does not use).

Usage:
  verify_ed25519.py keygen         prints a new `whsk_` signing key and its
                                   `whpk_` public key, one per line
  verify_ed25519.py PUBLIC FILE    FILE is a JSON list of {headers, body};
                                   each request must carry a `v1a` signature
                                   by PUBLIC (`whpk_…`) over id.timestamp.body;
                                   prints the number verified
"""
import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def keygen() -> int:
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    public = key.public_key().public_bytes_raw()
    print("whsk_" + base64.b64encode(seed + public).decode())
    print("whpk_" + base64.b64encode(public).decode())
    return 0


def verify(public_text: str, path: str) -> int:
    if not public_text.startswith("whpk_"):
        print(f"not a whpk_ key: {public_text}", file=sys.stderr)
        return 1
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_text[len("whpk_"):]))
    with open(path, encoding="utf-8") as f:
        items = json.load(f)
    for i, item in enumerate(items):
        h = item["headers"]
        signed = f'{h["webhook-id"]}.{h["webhook-timestamp"]}.{item["body"]}'.encode()
        ok = False
        for part in h["webhook-signature"].split(" "):
            version, _, sig = part.partition(",")
            if version != "v1a":
                continue
            try:
                public.verify(base64.b64decode(sig), signed)
                ok = True
            except InvalidSignature:
                pass
        if not ok:
            print(f"request {i}: no v1a signature verifies: {h['webhook-signature']}", file=sys.stderr)
            return 1
    print(len(items))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["keygen"]:
        sys.exit(keygen())
    sys.exit(verify(sys.argv[1], sys.argv[2]))
