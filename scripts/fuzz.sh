#!/usr/bin/env bash
# Runs every fuzz target of the packages given (default: the module's) for
# FUZZTIME (make fuzz).
#
# Go 1.26's fuzzing coordinator can end a run bounded by time with a bare
# "context deadline exceeded" right at the deadline, having found nothing
# (golang/go#75804, fixed in Go 1.27). Such a run, when it wrote no failing
# input under testdata/fuzz, is run once more; a failing input always fails.
set -uo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $($GO list "${@:-./...}"); do
  dir=$($GO list -f '{{.Dir}}' "$pkg")
  for f in $($GO test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz'); do
    for try in 1 2; do
      echo "fuzz $pkg $f ($FUZZTIME)"
      before=$(ls "$dir/testdata/fuzz/$f" 2>/dev/null)
      $GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tee "$log"
      rc=${PIPESTATUS[0]}
      [ "$rc" -eq 0 ] && break
      after=$(ls "$dir/testdata/fuzz/$f" 2>/dev/null)
      if [ "$try" -eq 1 ] && [ "$before" = "$after" ] && grep -q 'context deadline exceeded' "$log"; then
        echo "fuzz: $f ended on the fuzzing deadline race of Go 1.26 (golang/go#75804), no failing input: once more"
        continue
      fi
      exit 1
    done
  done
done
