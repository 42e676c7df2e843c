#!/usr/bin/env bash
# Make a local base image from Debian's packages, for hosts that cannot pull one
# (no registry, an air-gapped classroom). It offers what the lab's Dockerfile
# expects of python:3.11-slim: Debian bookworm with Python 3.11 able to make a venv.
# Needs root, debootstrap and a running Docker engine.
# Usage: scripts/make_base_image.sh [TAG]   (default: pytorch-lab-base:bookworm)
set -euo pipefail
tag=${1:-pytorch-lab-base:bookworm}
docker=${DOCKER:-docker}
if "$docker" image inspect "$tag" >/dev/null 2>&1; then
    echo "base image $tag already exists; remove it to rebuild: $docker rmi $tag"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "error: debootstrap is missing; install it (apt-get install debootstrap)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "error: debootstrap needs root; run this script with sudo" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# python3-venv brings ensurepip, so the Dockerfile can make its venv as on python:3.11-slim.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" >/dev/null
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | "$docker" import -c 'ENV LANG=C.UTF-8' -c 'CMD ["bash"]' - "$tag" >/dev/null
echo "made base image $tag ($("$docker" run --rm "$tag" python3 --version))"
