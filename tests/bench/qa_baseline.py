#!/usr/bin/python3
"""The approach qa-gen replaces, as the campus-guide team ran it: one
request at a time with the official client's habits (a new HTTPS/HTTP
connection each time through urllib), time.sleep(1) after each.

    qa_baseline.py URL N < requests.jsonl

Sends the first N request bodies of qa-gen --dry-run's output to URL and
prints the wall-clock seconds and the requests per second."""
import json
import sys
import time
import urllib.request


def main():
    url, n = sys.argv[1], int(sys.argv[2])
    bodies = [json.loads(line)["body"] for line in sys.stdin][:n]
    t0 = time.monotonic()
    for body in bodies:
        req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": "Bearer sk-bench"})
        with urllib.request.urlopen(req, timeout=60) as r:
            json.loads(r.read())
        time.sleep(1)
    dt = time.monotonic() - t0
    print(f"{len(bodies)} {dt:.3f} {len(bodies) / dt:.4f}")


if __name__ == "__main__":
    main()
