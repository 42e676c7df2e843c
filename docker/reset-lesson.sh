#!/usr/bin/env bash
# reset-lesson N: put lesson N's original, in the lab's language (LAB_LANG), back in the workspace,
# keeping the student's copy beside it as NN_name.backup-YYYYmmdd-HHMMSS.ipynb (with -2, -3, ... after a
# second reset in the same second). Nothing is deleted or replaced.
set -euo pipefail
work=/home/student/work
lessons=$LAB_LESSONS_DIR/${LAB_LANG:-zh}
number=${1:-}
if ! [[ $number =~ ^[0-9]{1,2}$ ]]; then
    echo "reset-lesson: give a lesson number, e.g. 'make reset-lesson N=9'" >&2
    exit 2
fi
printf -v nn '%02d' "$((10#$number))"
originals=("$lessons/${nn}"_*.ipynb)
if [ ! -e "${originals[0]}" ]; then
    numbers=$(for lesson in "$lessons"/*.ipynb; do name=${lesson##*/}; printf '%s ' "${name:0:2}"; done)
    echo "reset-lesson: there is no lesson $nn; the lessons are: $numbers" >&2
    exit 2
fi
original=${originals[0]}
name=${original##*/}
if [ -e "$work/$name" ]; then
    # Two resets in the same second must not share a name: the second would replace the first backup.
    stamp=$(date +%Y%m%d-%H%M%S)
    backup="$work/${name%.ipynb}.backup-$stamp.ipynb"
    n=2
    while [ -e "$backup" ]; do
        backup="$work/${name%.ipynb}.backup-$stamp-$n.ipynb"
        n=$((n + 1))
    done
    cp -p --no-clobber "$work/$name" "$backup"
    echo "kept your version as ${backup##*/}"
fi
# Write beside, then rename: the lesson is never half-written, even if this is interrupted.
cp "$original" "$work/.$name.tmp"
mv -f "$work/.$name.tmp" "$work/$name"
echo "restored $name"
