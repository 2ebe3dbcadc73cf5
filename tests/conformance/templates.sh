#!/usr/bin/env bash
# Conformance: the built-in chat templates (lib/tok/template.c) against the
# Jinja chat templates they transcribe, rendered by a real Jinja engine.
#
#   tests/conformance/templates.sh BUILD_DIR
#
# Reads ../shared/external/chat_templates/*.jinja and the chat_template of
# ../shared/external/tokenizers/*/tokenizer_config.json (relative to the
# repository root; third-party files, never copied into the repository),
# renders tests/conformance/templates-conversations.jsonl with each through
# npm's @huggingface/jinja (installed into BUILD_DIR/tokref on first use,
# unless build/tokref has it) and through BUILD_DIR/tests/tools/chat-render,
# and prints TAP from
# templates.mjs: one result per template x conversation x options, then the
# trained spans. When python3 has jinja2, it renders as transformers does
# and decides where @huggingface/jinja differs from it. Without the
# templates, node or the npm package, it prints a single skipped test.
set -u
build=${1:?usage: tests/conformance/templates.sh BUILD_DIR}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "1..1"; echo "not ok 1 - BUILD_DIR $1 not found"; exit 1; }
cd "$(dirname "$0")/../.."
tpl=../shared/external/chat_templates
render=$build/tests/tools/chat-render

skip() {
    echo "1..1"
    echo "ok 1 # skip $1"
    exit 0
}
[ -d "$tpl" ] || skip "$tpl not present"
command -v node >/dev/null 2>&1 || skip "node not installed"
if [ ! -x "$render" ]; then
    echo "1..1"
    echo "not ok 1 - $render not found or not executable"
    exit 1
fi
# The default build's copy serves the others (the ASan build) too.
pkg=$build/tokref/node_modules/@huggingface/jinja
[ -f "$pkg/dist/index.js" ] || [ ! -f build/tokref/node_modules/@huggingface/jinja/dist/index.js ] ||
    pkg=$PWD/build/tokref/node_modules/@huggingface/jinja
if [ ! -f "$pkg/dist/index.js" ]; then
    command -v npm >/dev/null 2>&1 || skip "npm not installed (needed once for @huggingface/jinja)"
    npm install --prefix "$build/tokref" --no-audit --no-fund @huggingface/jinja >"$build/tokref.log" 2>&1 ||
        skip "npm install @huggingface/jinja failed (see $build/tokref.log)"
fi
exec node tests/conformance/templates.mjs "$render" "$pkg" "$tpl" tests/conformance/templates-conversations.jsonl \
    ../shared/external/tokenizers
