#!/usr/bin/env bash
# Start the lab: labkit.start brings the lessons up to date, sets up the student's packages and starts
# JupyterLab (make up) or the hub's single-user server (a hub's container). See scripts/labkit/start.py.
exec /opt/venv/bin/python -m labkit.start "$@"
