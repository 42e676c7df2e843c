#!/usr/bin/env bash
# Start the lab in the student's language (LAB_LANG: zh or en): give the student every lesson
# they lack, never touching one they have, then serve: JupyterLab alone (make up), or the hub's
# single-user server when a hub started this container (it passes JUPYTERHUB_API_TOKEN).
set -euo pipefail
work=/home/student/work
lang=${LAB_LANG:-zh}
case $lang in
    zh) locale=zh_CN ;;
    en) locale=en ;;
    *) echo "start-lab: LAB_LANG must be zh or en, not '$lang'" >&2; exit 2 ;;
esac
if [ ! -w "$work" ]; then
    echo "start-lab: $work is not writable by $(id -un) (uid $(id -u)); give the workspace folder to that uid (chown) or rebuild with LAB_UID=\$(id -u)" >&2
    exit 1
fi
for lesson in "$LAB_LESSONS_DIR/$lang"/*.ipynb; do
    [ -e "$work/${lesson##*/}" ] || cp "$lesson" "$work/"
done
# JupyterLab's menus in the same language (the zh-CN language pack is installed).
settings="$JUPYTERLAB_SETTINGS_DIR/@jupyterlab/translation-extension"
mkdir -p "$settings"
printf '{"locale": "%s"}\n' "$locale" > "$settings/plugin.jupyterlab-settings"
if [ -n "${JUPYTERHUB_API_TOKEN:-}" ]; then
    # The hub says where to listen (JUPYTERHUB_SERVICE_URL) and signs students in; requests come
    # through its proxy under the hub's own host name, so the server must not insist on a local one.
    exec jupyterhub-singleuser --ServerApp.allow_remote_access=True "$@"
fi
exec jupyter lab --port="${LAB_PORT:-8888}" "$@"
