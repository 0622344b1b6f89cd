#!/usr/bin/env bash
# Runs every Go fuzz target for the given time each (default 10s).
#
# Go 1.26's fuzz coordinator can end a run that found nothing with a bare
# "context deadline exceeded" when -fuzztime runs out while a worker is
# mid-call on a loaded machine (go.dev/issue/75804, fixed in Go 1.27). A
# real finding always writes "Failing input written to …". So a bare
# deadline with no written input is replayed deterministically (the seed
# corpus and everything found so far) and only fails if that fails.
set -euo pipefail
t=${1:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "fuzz $pkg $f for $t"
		if go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" >"$log" 2>&1; then
			continue
		fi
		if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
			echo "  $f: the fuzz coordinator's deadline race (go.dev/issue/75804), nothing found; replaying its corpus"
			go test -count=1 -run "^$f\$" "$pkg" >"$log" 2>&1 || { cat "$log"; exit 1; }
			continue
		fi
		cat "$log"
		exit 1
	done
done
