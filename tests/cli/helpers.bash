# Shared setup for the CLI tests. SFT_BIN is the directory of the programs
# under test (build/bin, or build/asan/bin for the sanitizer run).
: "${SFT_BIN:=build/bin}"
SFT_BIN=$(cd "$SFT_BIN" && pwd)
ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup() {
    T=$(mktemp -d)
    cd "$T"
}

teardown() {
    cd /
    rm -rf "$T"
}

split() { "$SFT_BIN/split" "$@"; }

# n_records N: N small records, one per line, with a group key.
n_records() {
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "{\"id\":%d,\"g\":\"g%d\"}\n", i, i % 37 }'
}

lines() { wc -l < "$1" | tr -d ' '; }
