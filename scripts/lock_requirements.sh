#!/usr/bin/env bash
# Regenerate the hash-locked dependency files from docker/requirements.in, then record which
# linux/arm64 wheel of each CPU-lock entry pip verified (docker/requirements-cpu.arm64.txt).
#
# The CPU lock swaps in torch's +cpu build and serves linux/amd64 and linux/arm64 alike: the
# other packages' hashes cover every wheel their index offers, and torch gets the hashes of
# both +cpu cp311 wheels below (PyTorch's CPU index lists them; this machine cannot reach it,
# so they are written here, cross-checked in two public sources; the x86_64 one matches the
# local wheel). The CUDA lock takes torch and its CUDA runtime wheels from the default index.
# Needs uv (pip install uv) and pip. Usage: scripts/lock_requirements.sh
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-uv}
torch_pin=$(grep -E '^torch==' docker/requirements.in)
torch_cpu_hashes=(
    6746dbcbeb526eb61330b76b41ff1b4eb848951103a892eeb080dfa2b264667b  # manylinux_2_28_x86_64
    84453b69508ec79902f899c5ed9495acb9e2bbe9fda5f1d5d6f19e3c3842e1a7  # manylinux_2_28_aarch64
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "${torch_pin}+cpu" > "$work/override"
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
    --override "$work/override" "${links[@]}" -o docker/requirements-cpu.lock
env -u PIP_FIND_LINKS "$uv" pip compile docker/requirements.in "${common[@]}" \
    -o docker/requirements-cuda.lock
# torch's entry: the hashes of both platforms' wheels; the override's temporary path is noise.
python3 - "${torch_cpu_hashes[@]}" <<'PY'
import re, sys
path = "docker/requirements-cpu.lock"
text = open(path).read()
hashes = "".join(f" \\\n    --hash=sha256:{h}" for h in sys.argv[1:])
text = re.sub(r"^(torch==\S+)(?: \\\n    --hash=sha256:\w+)+", lambda m: m.group(1) + hashes, text, flags=re.M)
text = re.sub(r"--override \S+", "torch's +cpu build (scripts/lock_requirements.sh)", text)
open(path, "w").write(text)
PY
# Which arm64 (or pure-Python) wheel pip takes for each entry, its hash checked against the lock.
python3 - "$work/no-torch.lock" <<'PY'
import re, sys
text = open("docker/requirements-cpu.lock").read()
text = re.sub(r"^torch==[^\n]*(?:\n    [^\n]*)*\n", "", text, flags=re.M)
open(sys.argv[1], "w").write(text)
PY
env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL pip download --isolated --no-deps --only-binary=:all: --python-version 3.11 \
    --implementation cp --platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64 \
    --platform manylinux2014_aarch64 --require-hashes -r "$work/no-torch.lock" -d "$work/arm64" -q
{
    echo "# The linux/arm64 (or pure-Python) wheel of each docker/requirements-cpu.lock entry, as pip"
    echo "# downloaded it and checked its hash (scripts/lock_requirements.sh). torch's is PyTorch's CPU index's."
    echo "torch-${torch_pin#torch==}+cpu-cp311-cp311-manylinux_2_28_aarch64.whl sha256:${torch_cpu_hashes[1]}"
    for wheel in "$work"/arm64/*.whl; do
        echo "${wheel##*/} sha256:$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$wheel")"
    done | sort
} > docker/requirements-cpu.arm64.txt
# The host's tools: image, browser and classroom tests, and make lint.
env -u PIP_FIND_LINKS "$uv" pip compile tests/requirements-host.in --universal --python-version 3.9 \
    --generate-hashes --no-header --custom-compile-command scripts/lock_requirements.sh \
    -o tests/requirements-host.lock
# The classroom's hub image (classroom/Dockerfile), for Python 3.11 on every platform.
env -u PIP_FIND_LINKS "$uv" pip compile classroom/requirements.in --universal --python-version 3.11 \
    --generate-hashes --no-header --custom-compile-command scripts/lock_requirements.sh \
    -o classroom/requirements.lock
