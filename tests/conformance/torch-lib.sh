# Sourced (from the repository root, with py set) by the conformance scripts
# that compare with the PyTorch reference: one-result TAP exits, and the skip
# when /usr/bin/python3 has no torch or numpy.

# skip_all REASON: the whole suite skipped, saying why.
skip_all() {
    echo "1..1"
    echo "ok 1 # skip $1"
    exit 0
}
# fail_all REASON [LOG]: the whole suite failed, with the tail of LOG.
fail_all() {
    echo "1..1"
    echo "not ok 1 - $1"
    [ -n "${2:-}" ] && [ -f "$2" ] && tail -5 "$2" | sed 's/^/#   /'
    exit 1
}

[ -x "$py" ] || skip_all "$py not found"
"$py" -c 'import torch, numpy' >/dev/null 2>&1 || skip_all "$py lacks torch or numpy"
