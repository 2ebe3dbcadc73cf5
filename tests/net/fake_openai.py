#!/usr/bin/env python3
"""A fake OpenAI-compatible server for the tests (Python 3 stdlib only).

    fake_openai.py [--log FILE] [--port N]

Binds 127.0.0.1 (port 0: a free one), prints "PORT\\n" on stdout once it
listens. HTTP/1.1 with keep-alive.

  POST /v1/chat/completions  a chat completion whose message content is a JSON
                             array of N {"question","answer"} objects (N from
                             "count=N" in the prompt, else 3), content
                             "Q{i} about <first 20 chars of the prompt>"
  GET  /v1/models            a model list (health check)
  GET  /stats                {"requests", "chat", "connections", "faults"};
                             /stats?reset=1 also zeroes them

The prompt is the last user message. Behaviour comes from markers anywhere
in the prompt (KEY=VALUE), else from the environment (FAKE_KEY=VALUE):

  FAULT=kind    429 | 500 | 503 | 400 | 401 | 404 | quota | badjson | prose | truncated | drop |
                empty | badcontent | slow | nousage
  TIMES=K       the fault hits the first K attempts of this prompt, then the
                answer is normal (default: every attempt)
  DELAY=S       seconds before answering (every attempt)
  SLOW=S        how long FAULT=slow waits (default 10)
  RETRY_AFTER=V, RETRY_AFTER_MS=V, RESET_REQUESTS=V, RESET_TOKENS=V
                headers retry-after, retry-after-ms, x-ratelimit-reset-requests,
                x-ratelimit-reset-tokens sent with a 429/500/503
  count=N       pairs in the answer

--log FILE gets one line per request: "METHOD PATH auth=<Authorization>".
"""
import argparse
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

LOCK = threading.Lock()
STATS = {"requests": 0, "chat": 0, "connections": 0, "faults": 0}
ATTEMPTS = {}          # prompt -> attempts seen
LOG = None
MARKER = re.compile(r"\b([A-Za-z_]+)=([A-Za-z0-9_.:\-]+)")
KEYS = ("FAULT", "TIMES", "DELAY", "SLOW", "RETRY_AFTER", "RETRY_AFTER_MS",
        "RESET_REQUESTS", "RESET_TOKENS")


def settings(prompt):
    s = {k: os.environ.get("FAKE_" + k) for k in KEYS}
    for k, v in MARKER.findall(prompt):
        if k in KEYS:
            s[k] = v
    return s


def prompt_of(req):
    for m in reversed(req.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, list):
                c = "".join(p.get("text", "") for p in c if isinstance(p, dict))
            return c if isinstance(c, str) else ""
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with LOCK:
            STATS["connections"] += 1

    def log_message(self, *args):
        pass

    def log_request_line(self):
        with LOCK:
            STATS["requests"] += 1
            if LOG:
                with open(LOG, "a") as f:
                    f.write("%s %s auth=%s\n" % (self.command, self.path,
                                                 self.headers.get("Authorization", "")))

    def send_json(self, code, obj, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.log_request_line()
        u = urlparse(self.path)
        if u.path == "/stats":
            with LOCK:
                out = dict(STATS)
                if parse_qs(u.query).get("reset"):
                    for k in STATS:
                        STATS[k] = 0
            self.send_json(200, out)
        elif u.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        else:
            self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self):
        self.log_request_line()
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        if urlparse(self.path).path != "/v1/chat/completions":
            return self.send_json(404, {"error": {"message": "not found"}})
        try:
            req = json.loads(raw)
        except ValueError:
            return self.send_json(400, {"error": {"message": "bad JSON", "type": "invalid_request_error"}})
        prompt = prompt_of(req)
        s = settings(prompt)
        with LOCK:
            STATS["chat"] += 1
            ATTEMPTS[prompt] = attempt = ATTEMPTS.get(prompt, 0) + 1
        fault = s["FAULT"]
        if fault and s["TIMES"] is not None and attempt > int(s["TIMES"]):
            fault = None
        if fault:
            with LOCK:
                STATS["faults"] += 1
        if s["DELAY"]:
            time.sleep(float(s["DELAY"]))
        hdrs = {}
        for k, h in (("RETRY_AFTER", "retry-after"), ("RETRY_AFTER_MS", "retry-after-ms"),
                     ("RESET_REQUESTS", "x-ratelimit-reset-requests"),
                     ("RESET_TOKENS", "x-ratelimit-reset-tokens")):
            if s[k]:
                hdrs[h] = s[k]
        if fault == "429":
            return self.send_json(429, {"error": {"message": "Rate limit reached", "type": "requests",
                                                  "code": "rate_limit_exceeded"}}, hdrs)
        if fault == "quota":
            return self.send_json(429, {"error": {"message": "You exceeded your current quota",
                                                  "type": "insufficient_quota",
                                                  "code": "insufficient_quota"}})
        if fault in ("400", "401", "404"):
            return self.send_json(int(fault), {"error": {"message": "bad request",
                                                         "type": "invalid_request_error"}})
        if fault in ("500", "503"):
            return self.send_json(int(fault), {"error": {"message": "server error",
                                                         "type": "server_error"}}, hdrs)
        if fault == "drop":
            self.close_connection = True
            return
        if fault == "slow":
            time.sleep(float(s["SLOW"] or 10))
        m = re.search(r"count=(\d+)", prompt)
        count = int(m.group(1)) if m else 3
        about = prompt[:20]
        pairs = [{"question": "Q%d about %s" % (i + 1, about),
                  "answer": "A%d about %s" % (i + 1, about)} for i in range(count)]
        content = json.dumps(pairs, ensure_ascii=False)
        if fault == "prose":
            content = "Here are the pairs you asked for:\n```json\n%s\n```\nHope this helps!" % content
        elif fault == "empty":
            content = "I am sorry, I cannot help with that."
        elif fault == "badcontent":
            content = content[:-5]
        resp = {"id": "chatcmpl-fake%d" % attempt, "object": "chat.completion",
                "created": int(time.time()), "model": req.get("model", "fake"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}]}
        if fault != "nousage":
            pt, ct = len(prompt) // 4 + 1, len(content) // 4 + 1
            resp["usage"] = {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}
        body = json.dumps(resp, ensure_ascii=False).encode()
        if fault == "badjson":
            return self.send_json(200, None, raw=body[: len(body) // 2])
        if fault == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) + 100))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_json(200, resp)


def main():
    global LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("--log")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    LOG = a.log
    ThreadingHTTPServer.request_queue_size = 128
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
