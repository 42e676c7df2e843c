#!/usr/bin/env bash
# Start the lab: give the student every lesson they lack, never touching one they have, then serve.
set -euo pipefail
work=/home/student/work
if [ ! -w "$work" ]; then
    echo "start-lab: $work is not writable by $(id -un) (uid $(id -u)); give the workspace folder to that uid (chown) or rebuild with LAB_UID=\$(id -u)" >&2
    exit 1
fi
for lesson in /opt/lab/notebooks/*.ipynb; do
    [ -e "$work/${lesson##*/}" ] || cp "$lesson" "$work/"
done
exec jupyter lab --port="${LAB_PORT:-8888}" "$@"
