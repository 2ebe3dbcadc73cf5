#!/usr/bin/env python3
"""Renders chat templates with jinja2 the way transformers does
(apply_chat_template: ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loopcontrols, raise_exception, strftime_now, tojson).

Reads JSON lines {"template": TEXT, "context": {...}} on stdin; writes
{"text": ...} or {"error": ...} per line. A test-only tool for templates.mjs."""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now
cache = {}
for line in sys.stdin:
    req = json.loads(line)
    src = req["template"]
    try:
        if src not in cache:
            cache[src] = env.from_string(src)
        out = {"text": cache[src].render(**req["context"])}
    except Exception as e:  # the template's own exceptions and type errors alike
        out = {"error": "%s: %s" % (type(e).__name__, e)}
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
