#!/usr/bin/env bash
# Regenerate the hash-locked dependency files from docker/requirements.in.
# The CPU lock swaps in torch's +cpu build, found in a wheelhouse folder
# (WHEELHOUSE, default: the folders pip is configured with); the CUDA lock
# takes torch and its CUDA runtime wheels from the default index.
# Needs uv (pip install uv). Usage: scripts/lock_requirements.sh
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-uv}
torch_pin=$(grep -E '^torch==' docker/requirements.in)
override=$(mktemp)
trap 'rm -f "$override"' EXIT
echo "${torch_pin}+cpu" > "$override"
# rfc3987-syntax (and lark, which only it needs) compiles a grammar when jsonschema is
# imported: 1.2 s at every start of the server and the runner, for IRI checks the lab
# never makes. jsonschema treats it as optional, so the locks leave it out.
common=(--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes
        --no-header --custom-compile-command scripts/lock_requirements.sh
        --no-emit-package rfc3987-syntax --no-emit-package lark)
links=()
for dir in ${WHEELHOUSE:-$(pip config get global.find-links 2>/dev/null || true)}; do
    links+=(-f "$dir")
done
env -u PIP_FIND_LINKS "$uv" pip compile docker/requirements.in "${common[@]}" \
    --override "$override" "${links[@]}" -o docker/requirements-cpu.lock
env -u PIP_FIND_LINKS "$uv" pip compile docker/requirements.in "${common[@]}" \
    -o docker/requirements-cuda.lock
# The override file's temporary path is noise in the lock; name the rule instead.
sed -i "s|--override $override|torch's +cpu build (scripts/lock_requirements.sh)|" docker/requirements-cpu.lock
# The host's test tools (the image tests, the browser test, hadolint).
env -u PIP_FIND_LINKS "$uv" pip compile tests/requirements-host.in --python-version 3.11 \
    --generate-hashes --no-header --custom-compile-command scripts/lock_requirements.sh \
    -o tests/requirements-host.lock
