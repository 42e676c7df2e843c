#!/usr/bin/env bash
# Compose v2 and buildx as Docker CLI plugins, from Debian's next release (trixie), whose Go
# binaries run on bookworm. The system's apt setup is not touched: this machine's own Debian
# source is copied with its suite changed, into a private list folder under build/.
# compose goes where every client finds it; buildx under ~/.docker/cli-plugins, so that a test
# can hide it (an empty DOCKER_CONFIG) and see what a client without buildx does.
set -euo pipefail
cd "$(dirname "$0")/.."
if docker compose version >/dev/null 2>&1 && [ -x "$HOME/.docker/cli-plugins/docker-buildx" ]; then exit 0; fi
apt_dir=$PWD/build/apt-trixie
rm -rf "$apt_dir"
mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/debs"
source_file=/etc/apt/sources.list.d/debian.sources
[ -f "$source_file" ] || { echo "install-compose-v2: no $source_file to copy" >&2; exit 1; }
# The first stanza (the main archive), its suites replaced by trixie.
awk 'BEGIN{RS=""; ORS="\n\n"} NR==1' "$source_file" | sed -E 's/^Suites:.*/Suites: trixie/' > "$apt_dir/parts/trixie.sources"
opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/parts" -o "Dir::State::Lists=$apt_dir/lists")
apt-get "${opts[@]}" update -q >/dev/null
(cd "$apt_dir/debs" && apt-get "${opts[@]}" download -q docker-compose docker-buildx >/dev/null)
for deb in "$apt_dir"/debs/*.deb; do dpkg -x "$deb" "$apt_dir/root"; done
plugins=$apt_dir/root/usr/libexec/docker/cli-plugins
install -D -m 755 "$plugins/docker-compose" /usr/libexec/docker/cli-plugins/docker-compose
install -D -m 755 "$plugins/docker-buildx" "$HOME/.docker/cli-plugins/docker-buildx"
docker compose version
"$HOME/.docker/cli-plugins/docker-buildx" version
