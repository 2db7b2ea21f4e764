#!/usr/bin/env python3
"""Catalog write latency as the catalog grows (bench/measure.sh catalog-writes).

Creates TOTAL applications over one keep-alive connection to the API at
127.0.0.1:PORT and prints, as one JSON object, the mean time per create of
each block of BLOCK creates: with persistent catalog maps the means stay
flat as the catalog grows. Then pages through every application, 250 at a
time, and prints the mean time per page: with pages read from the cursor,
it does not grow with the catalog either.

    catalog-writes.py PORT TOKEN TOTAL BLOCK
"""
import http.client
import json
import sys
import time

port, token, total, block = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
means = {}
start = time.perf_counter()
for i in range(total):
    conn.request("POST", "/api/v1/app", json.dumps({"name": f"customer {i}", "uid": f"c{i}"}), headers)
    r = conn.getresponse()
    body = r.read()
    if r.status != 201:
        sys.exit(f"create {i}: {r.status} {body[:200]!r}")
    if (i + 1) % block == 0:
        now = time.perf_counter()
        means[str(i + 1)] = round((now - start) / block * 1e6)
        start = now
pages, seen, iterator = 0, 0, None
start = time.perf_counter()
while True:
    path = "/api/v1/app?limit=250" + (f"&iterator={iterator}" if iterator else "")
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    page = json.loads(r.read())
    if r.status != 200:
        sys.exit(f"list: {r.status} {page}")
    pages, seen, iterator = pages + 1, seen + len(page["data"]), page["iterator"]
    if page["done"]:
        break
list_us = round((time.perf_counter() - start) / pages * 1e6)
if seen != total:
    sys.exit(f"listed {seen} applications of {total}")
print(json.dumps({
    "apps_created": total,
    "us_per_create_by_catalog_size": means,
    "list_pages_of_250": pages,
    "us_per_list_page": list_us,
}))
