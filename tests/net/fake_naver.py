#!/usr/bin/env python3
"""A fake of Naver's Local Search and Directions 5 APIs for the tests of
naver-fetch: a real HTTP server on 127.0.0.1 (port 0: the kernel picks one),
which prints its port on the first line of stdout and serves until killed.

    python3 tests/net/fake_naver.py [--id ID] [--secret SECRET]

Endpoints (as Naver's, after an optional fault prefix):
    GET /v1/search/local.json?query=Q&display=N&start=N&sort=random|comment
        headers X-Naver-Client-Id / X-Naver-Client-Secret
    GET /map-direction/v1/driving?start=LON,LAT&goal=LON,LAT&option=NAME
        headers X-NCP-APIGW-API-KEY-ID / X-NCP-APIGW-API-KEY
Wrong or missing keys get 401 with Naver's error body (024 for Local Search,
the gateway's 200 for Directions).

Faults: the client's --api-base may carry a prefix /f/SPEC, SPEC being
comma-separated switches; counters are kept per SPEC, so a test that uses a
SPEC of its own (add tag=NAME) starts from zero:
    rate=K        the first K calls get 429 (Local: errorCode 012, Directions: 420)
    quota         every call gets the daily quota error (Local: 010, Directions: 400)
    quota_after=K K calls answered, then the quota error
    auth          401 (024) whatever the keys
    e500=K        the first K calls get 500
    slow=MS       answer after MS milliseconds
    noroute       Directions: code 1 (start and goal are the same)
    tag=NAME      no effect but a fresh counter
GET /_stats/SPEC returns {"calls": N} for that SPEC (for the retry tests).
"""
import json
import math
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY_ID = "fake-client-id-7f3a"
KEY_SECRET = "fake-client-secret-9b2c"
args = sys.argv[1:]
while args:
    a = args.pop(0)
    if a == "--id":
        KEY_ID = args.pop(0)
    elif a == "--secret":
        KEY_SECRET = args.pop(0)
    else:
        sys.exit("usage: fake_naver.py [--id ID] [--secret SECRET]")


def place(title, category, address, road, lon, lat, tel=""):
    return {"title": title, "link": "", "category": category, "description": "",
            "telephone": tel, "address": address, "roadAddress": road,
            "mapx": str(round(lon * 1e7)), "mapy": str(round(lat * 1e7))}


STARBUCKS = place("스타벅스 <b>강남역</b>점", "카페,디저트>카페", "서울특별시 강남구 역삼동 825",
                  "서울특별시 강남구 강남대로 390", 127.0281, 37.4979, "02-1522-3232")
PLACES = {
    "강남역": [
        place("<b>강남역</b> 2호선", "교통,수송>지하철,전철", "서울특별시 강남구 역삼동 858",
              "서울특별시 강남구 강남대로 지하 396", 127.0276848, 37.4979502),
        STARBUCKS,
        place("Tom &amp; Toms <b>강남역</b>점", "카페,디저트>카페", "서울특별시 강남구 역삼동 823-1",
              "서울특별시 강남구 테헤란로 101", 127.0299, 37.4986),
    ],
    "강남 카페": [
        STARBUCKS,
        place("카페 &quot;온&quot; <b>강남</b>", "카페,디저트>카페", "서울특별시 강남구 역삼동 819",
              "서울특별시 강남구 테헤란로5길 12", 127.0301, 37.4990),
    ],
    "서울대학교": [
        place("<b>서울대학교</b> 관악캠퍼스", "대학교", "서울특별시 관악구 신림동 산 56-1",
              "서울특별시 관악구 관악로 1", 126.9511, 37.4599, "02-880-5114"),
        place("<b>서울대학교</b> 중앙도서관", "도서관", "서울특별시 관악구 신림동 산 56-1",
              "서울특별시 관악구 관악로 1 62동", 126.9527, 37.4594),
        place("<b>서울대학교</b> 규장각한국학연구원", "연구소", "서울특별시 관악구 신림동 산 56-1",
              "서울특별시 관악구 관악로 1 103동", 126.9484, 37.4624),
        place("<b>서울대학교</b> 공학관", "대학건물", "서울특별시 관악구 신림동 산 56-1",
              "서울특별시 관악구 관악로 1 301동", 126.9526, 37.4497),
        place("<b>서울대학교</b>입구역 2호선", "교통,수송>지하철,전철", "서울특별시 관악구 봉천동 979-2",
              "서울특별시 관악구 남부순환로 지하 1822", 126.9527, 37.4812),
        place("<b>서울대학교</b> 병원", "종합병원", "서울특별시 종로구 연건동 28",
              "서울특별시 종로구 대학로 101", 126.9990, 37.5796),
    ],
}

lock = threading.Lock()
counters = {}


def parse_spec(spec):
    out = {}
    for part in filter(None, spec.split(",")):
        k, _, v = part.partition("=")
        out[k] = v
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):  # quiet
        pass

    def send_json(self, status, obj, extra=None):
        body = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        path, q = u.path, urllib.parse.parse_qs(u.query)
        spec = ""
        if path.startswith("/_stats/"):
            with lock:
                n = counters.get(urllib.parse.unquote(path[len("/_stats/"):]), 0)
            return self.send_json(200, {"calls": n})
        if path.startswith("/f/"):
            rest = path[3:]
            spec, _, tail = rest.partition("/")
            spec = urllib.parse.unquote(spec)
            path = "/" + tail
        with lock:
            counters[spec] = n = counters.get(spec, 0) + 1
        f = parse_spec(spec)
        if "slow" in f:
            time.sleep(int(f["slow"]) / 1000)
        if path == "/v1/search/local.json":
            return self.local(q, f, n)
        if path == "/map-direction/v1/driving":
            return self.route(q, f, n)
        self.send_json(404, {"errorMessage": "Not Exist Client API (존재하지 않는 API입니다.)", "errorCode": "011"})

    def faults(self, f, n, local):
        """Answers a fault and returns True, or returns False."""
        if "auth" in f:
            self.unauthorized(local)
            return True
        if "e500" in f and n <= int(f["e500"]):
            if local:
                self.send_json(500, {"errorMessage": "System error. (시스템 에러)", "errorCode": "000"})
            else:
                self.send_json(500, {"error": {"errorCode": "900", "message": "Unexpected Error",
                                               "details": "Unexpected Error"}})
            return True
        if "rate" in f and n <= int(f["rate"]):
            if local:
                self.send_json(429, {"errorMessage": "Rate limit exceeded. (속도 제한을 초과했습니다.)",
                                     "errorCode": "012"})
            else:
                self.send_json(429, {"error": {"errorCode": "420", "message": "Rate Limited",
                                               "details": "Rate limited."}})
            return True
        if "quota" in f or ("quota_after" in f and n > int(f["quota_after"])):
            if local:
                self.send_json(429, {"errorMessage": "Query limit exceeded. (일일 허용량을 초과했습니다.)",
                                     "errorCode": "010"})
            else:
                self.send_json(429, {"error": {"errorCode": "400", "message": "Quota Exceeded",
                                               "details": "Quota Exceeded."}})
            return True
        return False

    def unauthorized(self, local):
        if local:
            self.send_json(401, {"errorMessage": "Authentication failed. (인증에 실패했습니다.)",
                                 "errorCode": "024"})
        else:
            self.send_json(401, {"error": {"errorCode": "200", "message": "Authentication Failed",
                                           "details": "Invalid authentication information."}})

    def local(self, q, f, n):
        if self.faults(f, n, True):
            return
        if (self.headers.get("X-Naver-Client-Id") != KEY_ID
                or self.headers.get("X-Naver-Client-Secret") != KEY_SECRET):
            return self.unauthorized(True)
        query = q.get("query", [""])[0]
        try:
            display = int(q.get("display", ["1"])[0])
            start = int(q.get("start", ["1"])[0])
        except ValueError:
            display = start = 0
        if not query:
            return self.send_json(400, {"errorMessage": "Incorrect query request. (잘못된 쿼리요청입니다.)",
                                        "errorCode": "SE01"})
        if not 1 <= display <= 5:
            return self.send_json(400, {"errorMessage": "Invalid display value (부적절한 display 값입니다.)",
                                        "errorCode": "SE02"})
        if q.get("sort", ["random"])[0] not in ("random", "comment"):
            return self.send_json(400, {"errorMessage": "Invalid sort value (부적절한 sort 값입니다.)",
                                        "errorCode": "SE04"})
        found = PLACES.get(query, [])
        items = found[start - 1:start - 1 + display]
        self.send_json(200, {"lastBuildDate": time.strftime("%a, %d %b %Y %H:%M:%S +0900"),
                             "total": len(found), "start": start, "display": len(items), "items": items})

    def route(self, q, f, n):
        if self.faults(f, n, False):
            return
        if (self.headers.get("X-NCP-APIGW-API-KEY-ID") != KEY_ID
                or self.headers.get("X-NCP-APIGW-API-KEY") != KEY_SECRET):
            return self.unauthorized(False)
        try:
            x0, y0 = (float(v) for v in q["start"][0].split(","))
            x1, y1 = (float(v) for v in q["goal"][0].split(","))
        except (KeyError, ValueError):
            return self.send_json(400, {"error": {"errorCode": "100", "message": "Bad Request Exception",
                                                  "details": "start or goal is malformed"}})
        option = q.get("option", ["traoptimal"])[0]
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        if "noroute" in f or (abs(x0 - x1) < 1e-6 and abs(y0 - y1) < 1e-6):
            return self.send_json(200, {"code": 1, "message": "출발지와 도착지가 동일합니다. 확인 후 다시 지정해주세요.",
                                        "currentDateTime": now})
        # the great-circle distance, 1.3 times for the roads, at 30 km/h
        r = 6371000.0
        p0, p1 = math.radians(y0), math.radians(y1)
        dp, dl = p1 - p0, math.radians(x1 - x0)
        a = math.sin(dp / 2) ** 2 + math.cos(p0) * math.cos(p1) * math.sin(dl / 2) ** 2
        dist = int(round(2 * r * math.asin(math.sqrt(a)) * 1.3))
        dur = int(round(dist / (30000 / 3600) * 1000))
        if option == "trafast":
            dur = int(dur * 0.9)
        summary = {"start": {"location": [x0, y0]}, "goal": {"location": [x1, y1], "dir": 0},
                   "distance": dist, "duration": dur, "departureTime": now,
                   "bbox": [[min(x0, x1), min(y0, y1)], [max(x0, x1), max(y0, y1)]],
                   "tollFare": 0, "taxiFare": 3800 + dist // 132 * 100, "fuelPrice": dist * 1668 // 12000}
        self.send_json(200, {"code": 0, "message": "길찾기를 성공하였습니다.", "currentDateTime": now,
                             "route": {option: [{"summary": summary, "path": [[x0, y0], [x1, y1]],
                                                 "section": [], "guide": []}]}})


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
