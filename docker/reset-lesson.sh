#!/usr/bin/env bash
# reset-lesson N: put lesson N's original, in the lab's language (LAB_LANG), back in the workspace, keeping
# the student's copy beside it as NN_name.backup-YYYYmmdd-HHMMSS.ipynb. See scripts/labkit/course.py.
exec /opt/venv/bin/python -m labkit.course "$@"
