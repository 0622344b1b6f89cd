#!/usr/bin/env bash
# `make bench`: measures the built ./mika against its targets on 127.0.0.1
# with temporary data folders and writes bench/RESULTS.md plus a summary.
# It installs nothing (make runs scripts/deps.sh ffmpeg wrk nginx first)
# and builds only the measuring program, never mika itself.
#
#   BENCH_QUICK=1 bash bench/run.sh          small sizes: a smoke test (minutes)
#   bash bench/run.sh -only overhead,list    some steps only
#
# Generated sources (60 s and 10 min 1080p clips, a 2 GiB file) are cached
# in bench/out/ (git-ignored); delete it to regenerate them.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x ./mika ]; then
	echo "bench: ./mika is missing; run 'make bench' (it builds it first)" >&2
	exit 1
fi
for tool in ffmpeg ffprobe wrk; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing; run 'scripts/deps.sh ffmpeg wrk nginx'" >&2; exit 1; }
done
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "bench: nginx is missing; run 'scripts/deps.sh nginx'" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/mikabench" ./bench/cmd/mikabench
mkdir -p bench/out
args=(-mika ./mika -out bench/RESULTS.md -cache bench/out)
[ "${BENCH_QUICK:-}" = "1" ] && args+=(-quick)
"$tmp/mikabench" "${args[@]}" "$@"
