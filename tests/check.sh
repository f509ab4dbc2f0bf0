#!/usr/bin/env bash
# make check: upstream's tests for what the series touch (QEMU's, and all of
# libvirt's: they run without QEMU), then the lab scenarios. Every TAP case
# of QEMU's binaries, every libvirt test and every lab scenario counts as
# one test; the last line is "check: N passed, N failed".
#
# Usage: tests/check.sh QEMU_TREE
#        (CHECK_ONLY=upstream|libvirt|lab|self to narrow)
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

tree=$1
out=$tree/build
logs=$COLO_FT_ROOT/results/check
mkdir -p "$logs"
passed=0
failed=0
failures=()

# QEMU's test binaries (upstream's and the series'): unit tests and qtests,
# and how long each may take.
UPSTREAM_TESTS=(
    "tests/unit/test-replication 120"
    "tests/unit/test-colo-compare-engine 60"
    "tests/unit/test-colo-rewriter 60"
    "tests/unit/test-colo-nic-netlink 60"
    "tests/unit/test-colo-nic-datapath 60"
    "tests/unit/test-colo-channel 60"
    "tests/qtest/blockdev-child-test 60"
    "tests/qtest/test-netfilter 120"
    "tests/qtest/colo-nic-test 120"
    "tests/qtest/test-filter-mirror 120"
    "tests/qtest/test-filter-redirector 120"
    "tests/qtest/migration-test 2700"
)
# Scenario and the capability it enables COLO with (x-colo: the alias).
# nic-*: colo-nic, with the tree's scripts/colo-proxy-script.sh. The fault
# scenarios (partition ... large-checkpoints) take 1-2 min each;
# reprotect-cycles (10 failovers, each protected again) about 2 min.
LAB_SCENARIOS=("steady colo" "kill-primary colo" "kill-secondary x-colo"
               "nic-steady colo" "nic-mismatch colo" "nic-kill-primary colo"
               "nic-kill-secondary colo" "nic-multiqueue colo"
               "nic-chatter colo" "nic-firewall-kill-primary colo"
               "nic-firewall-kill-secondary colo" "nic-failover-hang colo"
               "nic-checkpoint-edge colo"
               "partition colo" "primary-frozen colo" "cancel colo"
               "primary-failover colo" "large-checkpoints colo"
               "protect-running colo" "reprotect-cycles colo"
               "libvirt-colo colo" "libvirt-colo-failover colo"
               "libvirt-colo-kill-secondary colo" "libvirt-colo-restart colo"
               "libvirt-colo-reprotect colo" "libvirt-colo-end colo"
               "libvirt-colo-split colo" "libvirt-daemon-restarts colo")

# Count a TAP log's cases.
count_tap() {
    local log=$1 name=$2 ok bad
    ok=$(grep -c '^ok ' "$log")
    bad=$(grep -c '^not ok ' "$log")
    passed=$((passed + ok))
    failed=$((failed + bad))
    grep '^not ok ' "$log" | sed "s|^|$name: |" | while read -r l; do echo "  $l"; done
    [ "$bad" -eq 0 ] || failures+=("$name")
}

run_upstream() {
    local entry bin limit name log rc
    run_quiet "building the tests" ninja -C "$out" \
        $(for entry in "${UPSTREAM_TESTS[@]}"; do echo "${entry%% *}"; done)
    for entry in "${UPSTREAM_TESTS[@]}"; do
        bin=${entry%% *}
        limit=${entry##* }
        name=${bin##*/}
        log=$logs/$name.log
        (cd "$out" && PYTHON=$out/pyvenv/bin/python3 \
            QTEST_QEMU_BINARY=./qemu-system-x86_64 QTEST_QEMU_IMG=./qemu-img \
            timeout "$limit" "./$bin" --tap -k) >"$log" 2>&1
        rc=$?
        count_tap "$log" "$name"
        if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$log"; then
            echo "  $name: exited with status $rc (see $log)"
            failed=$((failed + 1))
            failures+=("$name")
        fi
        echo "$name: $(grep -c '^ok ' "$log") passed, $(grep -c '^not ok ' "$log") failed"
    done
}

run_lab() {
    local entry scenario log guest
    guest=$("$COLO_FT_ROOT/tests/guest/build-guest.sh") || { failed=$((failed + 1)); return; }
    for entry in "${LAB_SCENARIOS[@]}"; do
        scenario=${entry% *}
        log=$logs/lab-$scenario.log
        if timeout 600 /usr/bin/python3 "$COLO_FT_ROOT/tests/lab/run.py" "$scenario" \
                --capability "${entry#* }" \
                --qemu "$out/qemu-system-x86_64" --guest "$guest" \
                --proxy-script "$tree/scripts/colo-proxy-script.sh" \
                --results "$COLO_FT_ROOT/results/lab" >"$log" 2>&1; then
            passed=$((passed + 1))
            echo "ok lab/$scenario: $(tail -1 "$log")"
        else
            failed=$((failed + 1))
            failures+=("lab/$scenario")
            echo "not ok lab/$scenario: $(grep -h 'lab: error' "$log" | tail -1)"
            echo "  $(tail -1 "$log")"
        fi
    done
}

# libvirt with its series: every test of its suite (the QEMU driver's XML,
# monitor, migration parameter and capability tests with the colo-ft QEMU's
# captured capabilities, and the syntax checks of the series' commits).
# The number meson's test summary gives for "$1:" in log $2 (0 if none).
meson_count() {
    local n
    n=$(sed -n "s/^$1: *\([0-9]*\).*/\1/p" "$2" | tail -1)
    echo "${n:-0}"
}

run_libvirt() {
    local tree=$COLO_FT_BUILD/libvirt log=$logs/libvirt.log ok bad rc
    if ! "$COLO_FT_ROOT/scripts/build-libvirt.sh" "$tree" >"$log" 2>&1; then
        failed=$((failed + 1))
        failures+=(libvirt-build)
        echo "not ok libvirt: build failed (see $log)"
        return
    fi
    meson test -C "$tree/build" --no-rebuild --print-errorlogs >>"$log" 2>&1
    rc=$?
    ok=$(meson_count Ok "$log")
    bad=$(( $(meson_count Fail "$log") + $(meson_count Timeout "$log") +
            $(meson_count 'Unexpected Pass' "$log") ))
    # a meson error or a crash of the runner is a failure too
    [ "$rc" -eq 0 ] || [ "$bad" -gt 0 ] || bad=1
    passed=$((passed + ok))
    failed=$((failed + bad))
    [ "$bad" -eq 0 ] || { failures+=(libvirt); grep -E '^ *[0-9]+/[0-9]+ .* FAIL' "$log"; }
    echo "libvirt: $ok passed, $bad failed"
}

# The harness's own unit tests (unittest -v: one line per case).
run_selftest() {
    local log=$logs/selftest.log ok bad
    /usr/bin/python3 -m unittest discover -v -s "$COLO_FT_ROOT/tests/selftest" >"$log" 2>&1
    ok=$(grep -c '\.\.\. ok$' "$log")
    bad=$(grep -c '\.\.\. \(FAIL\|ERROR\)$' "$log")
    passed=$((passed + ok))
    failed=$((failed + bad))
    [ "$bad" -eq 0 ] || { failures+=(selftest); grep '\.\.\. \(FAIL\|ERROR\)$' "$log"; }
    echo "selftest: $ok passed, $bad failed"
}

# The series: applies to a fresh upstream tree; every patch passes checkpatch.
run_series() {
    local patch
    if "$COLO_FT_ROOT/scripts/series-check.sh" >"$logs/series-check.log" 2>&1; then
        passed=$((passed + 1))
        echo "ok series-check"
    else
        failed=$((failed + 1))
        failures+=(series-check)
        echo "not ok series-check"
        sed 's/^/  /' "$logs/series-check.log"
    fi
    while read -r patch; do
        case "$patch" in ''|'#'*) continue ;; esac
        if perl "$tree/scripts/checkpatch.pl" -q "$COLO_FT_ROOT/patches/$patch" \
                >"$logs/checkpatch.log" 2>&1; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            failures+=("checkpatch:$patch")
            echo "not ok checkpatch $patch"
            sed 's/^/  /' "$logs/checkpatch.log"
        fi
    done <"$COLO_FT_ROOT/patches/series"
    echo "series: checked $(grep -cv '^\s*\(#\|$\)' "$COLO_FT_ROOT/patches/series") patches"
}

case "${CHECK_ONLY:-all}" in
    upstream) run_upstream ;;
    libvirt) run_libvirt ;;
    lab) run_lab ;;
    self) run_selftest; run_series ;;
    *) run_selftest; run_series; run_libvirt; run_upstream; run_lab ;;
esac

# The end of each failure's log, last, where a truncated CI log still
# shows it (QEMU command lines and its KVM probe left out).
failure_details() {
    local name log
    for name in "${failures[@]}"; do
        case "$name" in
            lab/*) log=$logs/lab-${name#lab/}.log ;;
            checkpatch:*) continue ;;   # printed where it failed
            libvirt-build) log=$logs/libvirt.log ;;
            *) log=$logs/$name.log ;;
        esac
        [ -f "$log" ] || continue
        echo "--- $name: its errors and the end of $log"
        # A failed assertion aborts a glib test before its "not ok"
        # line: name the test that ran last.
        { grep -E '^# Running /' "$log" | tail -1
          grep -E '^(not ok|Bail out)|ERROR|rmdir|lab: error' "$log" | tail -5
          grep -v -e '^# starting QEMU' -e 'Could not access KVM' "$log" | tail -4
        } | cut -c1-300 | sed 's/^/  /'
    done
}

[ ${#failures[@]} -eq 0 ] || { failure_details; echo "failed: ${failures[*]} (logs in results/check/)"; }
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
