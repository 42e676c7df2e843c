#!/usr/bin/env bash
# reset-packages: move the packages a student added (workspace/.lab/packages) aside, with a backup; the lab
# starts without them and makes a fresh place for new ones. See scripts/labkit/packages.py.
exec /opt/venv/bin/python -m labkit.packages reset "$@"
