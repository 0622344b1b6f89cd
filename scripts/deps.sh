#!/usr/bin/env bash
# Installs what Mika's build and tests need and the machine lacks, or says
# exactly what to run. Usage: scripts/deps.sh [ffmpeg] [chromium] [wrk] [nginx]
set -euo pipefail

need=()
for tool in "$@"; do
	case "$tool" in
		ffmpeg) command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg) ;;
		chromium)
			[ -x /usr/bin/chromium ] || need+=(chromium)
			# CJK glyphs, so screenshots of the Chinese UI are readable.
			dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || need+=(fonts-wqy-microhei) ;;
		wrk) command -v wrk >/dev/null || need+=(wrk) ;;
		nginx) command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx) ;;
		*) echo "deps.sh: unknown tool $tool" >&2; exit 2 ;;
	esac
done
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
	echo "Missing: ${need[*]}. Run as root: apt-get update && apt-get install -y ${need[*]}" >&2
	exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "Installing ${need[*]} with apt-get ..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq "${need[@]}" >/dev/null
