#!/usr/bin/env bash
# Fill build/wheelhouse/VARIANT with local wheels the image build may need.
# The CPU image needs torch's +cpu build, which the default index does not serve:
# it is copied here from WHEEL_DIRS (default: the folders pip is configured to find
# wheels in), or you drop it in yourself, or build with PIP_EXTRA_INDEX_URL set to
# PyTorch's CPU wheel index. An air-gapped build puts every locked wheel here
# (pip download --require-hashes -r docker/requirements-VARIANT.lock -d DIR) and
# builds with PIP_NO_INDEX=1.
# Usage: scripts/prepare_wheelhouse.sh cpu|cuda
set -euo pipefail
cd "$(dirname "$0")/.."
variant=${1:?usage: scripts/prepare_wheelhouse.sh cpu|cuda}
dir=build/wheelhouse/$variant
mkdir -p "$dir"
[ "$variant" = cpu ] || exit 0
wheel_version=$(sed -n 's/^torch==\([^ ]*\).*/\1/p' "docker/requirements-cpu.lock")
pattern="torch-${wheel_version}-cp311-*.whl"
compgen -G "$dir/$pattern" >/dev/null && exit 0
dirs=${WHEEL_DIRS:-$(pip config get global.find-links 2>/dev/null || true)}
for source in $dirs; do
    for wheel in "$source"/$pattern; do
        [ -e "$wheel" ] || continue
        cp "$wheel" "$dir/" && echo "wheelhouse: copied ${wheel##*/}" && exit 0
    done
done
if [ -z "${PIP_EXTRA_INDEX_URL:-}${PIP_INDEX_URL:-}" ]; then
    echo "note: no $pattern in $dir; the CPU build will fetch torch from PIP_EXTRA_INDEX_URL or fail." >&2
    echo "      Put the wheel in $dir, or set PIP_EXTRA_INDEX_URL to PyTorch's CPU wheel index." >&2
fi
