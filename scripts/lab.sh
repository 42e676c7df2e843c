#!/usr/bin/env bash
# The lab's host-side commands, called by the Makefile (make help lists them).
# Every knob is an environment variable that the Makefile exports.
set -euo pipefail
cd "$(dirname "$0")/.."

VARIANT=${VARIANT:-cpu}
LAB_PORT=${LAB_PORT:-8888}
IMAGE=${IMAGE:-pytorch-lab:$VARIANT}
DOCKER=${DOCKER:-docker}
LAB_PROJECT=${LAB_PROJECT:-pytorch-lab}
LAB_WORKSPACE=${LAB_WORKSPACE:-$PWD/workspace}
LAB_TOKEN_FILE=${LAB_TOKEN_FILE:-$PWD/.lab-token}
WAIT_SECONDS=${WAIT_SECONDS:-180}

die() { echo "error: $*" >&2; exit 1; }
say() { echo "lab: $*" >&2; }

# The image's user is the host user, so files in the workspace belong to you.
# root on the host (CI, sudo) gets an ordinary uid instead: the lab never runs as root.
host_uid=$(id -u); host_gid=$(id -g)
if [ "$host_uid" = 0 ]; then host_uid=1000; host_gid=1000; fi
LAB_UID=${LAB_UID:-$host_uid}
LAB_GID=${LAB_GID:-$host_gid}

variant_check() {
    case $VARIANT in cpu|cuda) ;; *) die "VARIANT must be cpu or cuda, not '$VARIANT'";; esac
}

# Each check_* prints what it found (on success) or the problem and its fix (on failure).
check_docker_client() {
    command -v "$DOCKER" >/dev/null 2>&1 && "$DOCKER" --version 2>/dev/null && return
    echo "Docker is not installed ('$DOCKER' not found); install Docker Engine (Linux) or Docker Desktop, then retry"
    return 1
}
check_docker_engine() {
    local version
    if version=$("$DOCKER" info --format '{{.ServerVersion}}' 2>/dev/null); then
        echo "engine $version running"
        return
    fi
    echo "the Docker engine is not running, or you may not use it; start it (sudo systemctl start docker, or open Docker Desktop) and check 'docker info'"
    return 1
}
# Run checks in order; the first that fails ends the command with its message.
require() {
    local check problem
    for check in "$@"; do
        problem=$($check) || die "$problem"
    done
}
need_docker() { require check_docker_client check_docker_engine; }

compose() {
    if "$DOCKER" compose version >/dev/null 2>&1; then
        "$DOCKER" compose -f compose.yaml -p "$LAB_PROJECT" "$@"
    elif command -v docker-compose >/dev/null 2>&1; then
        docker-compose -f compose.yaml -p "$LAB_PROJECT" "$@"
    else
        die "Docker Compose is missing; install the compose plugin (docker compose) or docker-compose"
    fi
}

# What torch's CUDA 13 build needs of the host, checked before anything is built.
MIN_DRIVER=${MIN_DRIVER:-580}
check_nvidia_driver() {
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        echo "no NVIDIA driver on this host (nvidia-smi not found); the CUDA lab needs an NVIDIA GPU with driver >= $MIN_DRIVER; use VARIANT=cpu"
        return 1
    fi
    local driver
    if ! driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1) || [ -z "$driver" ]; then
        echo "nvidia-smi found no working GPU; check the driver with nvidia-smi, or use VARIANT=cpu"
        return 1
    fi
    if ! [ "${driver%%.*}" -ge "$MIN_DRIVER" ] 2>/dev/null; then
        echo "NVIDIA driver $driver is older than $MIN_DRIVER, which torch's CUDA 13 build needs; update the driver, or build for an older CUDA (README)"
        return 1
    fi
    echo "NVIDIA driver $driver (>= $MIN_DRIVER)"
}
check_nvidia_runtime() {
    if "$DOCKER" info --format '{{json .Runtimes}}' 2>/dev/null | grep -q nvidia; then
        echo "Docker has the NVIDIA runtime"
        return
    fi
    echo "Docker has no NVIDIA runtime; install the NVIDIA Container Toolkit, run 'sudo nvidia-ctk runtime configure --runtime=docker' and restart Docker"
    return 1
}
need_gpu() { require check_nvidia_driver check_nvidia_runtime; }

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

inputs_hash() {
    { find docker notebooks scripts tests pyproject.toml -type f \
          ! -path '*/__pycache__/*' ! -path '*/.ipynb_checkpoints/*' ! -path 'tests/host/*' -print0 |
          sort -z | xargs -0 sha256sum
      echo "$VARIANT ${BASE_IMAGE:-} $LAB_UID $LAB_GID"; } | sha256sum | cut -c1-16
}

build() {
    variant_check
    need_docker
    local hash
    hash=$(inputs_hash)
    if [ "${FORCE_BUILD:-0}" != 1 ] &&
       [ "$("$DOCKER" image inspect --format '{{index .Config.Labels "pytorch-lab.inputs"}}' "$IMAGE" 2>/dev/null)" = "$hash" ]; then
        say "image $IMAGE is up to date"
        return
    fi
    scripts/prepare_wheelhouse.sh "$VARIANT"
    local args=(--build-arg "VARIANT=$VARIANT" --build-arg "LAB_UID=$LAB_UID" --build-arg "LAB_GID=$LAB_GID"
                --label "pytorch-lab.inputs=$hash" -f docker/Dockerfile -t "$IMAGE")
    [ -z "${BASE_IMAGE:-}" ] || args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
    [ -z "${CA_BUNDLE:-}" ] || args+=(--secret "id=ca_bundle,src=$CA_BUNDLE")
    for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_NO_INDEX; do
        [ -z "${!var:-}" ] || args+=(--build-arg "$var=${!var}")
    done
    say "building $IMAGE"
    DOCKER_BUILDKIT=1 "$DOCKER" build "${args[@]}" .
    # Each rebuild leaves the previous image dangling; a few CUDA ones fill a disk.
    "$DOCKER" image prune -f --filter "label=pytorch-lab.inputs" >/dev/null
}

# The workspace and the token file, made on first start and owned by the lab's user.
prepare_host_files() {
    mkdir -p "$LAB_WORKSPACE"
    if [ -n "${JUPYTER_TOKEN:-}" ]; then
        printf '%s\n' "$JUPYTER_TOKEN" > "$LAB_TOKEN_FILE"
    elif [ ! -s "$LAB_TOKEN_FILE" ]; then
        (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' > "$LAB_TOKEN_FILE")
    fi
    chmod 600 "$LAB_TOKEN_FILE"
    if [ "$(id -u)" = 0 ]; then
        chown "$LAB_UID:$LAB_GID" "$LAB_WORKSPACE" "$LAB_TOKEN_FILE"
    fi
}

service() { if [ "$VARIANT" = cuda ] && [ "${LAB_GPU:-1}" = 1 ]; then echo lab-gpu; else echo lab; fi; }

compose_env() {
    export LAB_IMAGE=$IMAGE LAB_PORT LAB_WORKSPACE LAB_TOKEN_FILE
}

# Compose v1 and v2 both label their containers; asking the engine is much faster than compose ps.
container_id() {
    "$DOCKER" ps -aq --filter "label=com.docker.compose.project=$LAB_PROJECT" \
        --filter "label=com.docker.compose.service=$(service)" 2>/dev/null | head -n1
}
lab_running() {
    local id
    id=$(container_id)
    [ -n "$id" ] && [ "$("$DOCKER" inspect --format '{{.State.Running}}' "$id" 2>/dev/null)" = true ]
}

# The health check's own probe (GET /api answers 200), made through the published port.
api_answers() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$LAB_PORT" || exit 1
        printf 'GET /api HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
        read -r -t 2 status_line <&3 && [[ $status_line == *" 200 "* ]]
    ) 2>/dev/null
}

# Ready when the server answers its health probe; fail fast when the container gives up.
wait_healthy() {
    local id=$1 status deadline=$((SECONDS + WAIT_SECONDS))
    while :; do
        status=$("$DOCKER" inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null || echo gone)
        case $status in
            healthy) return 0;;
            unhealthy|exited|dead|gone)
                "$DOCKER" logs --tail 20 "$id" >&2 || true
                die "the lab did not start ($status); the log is above (make logs)";;
        esac
        # Docker's own check runs every few seconds; asking the same question now saves the wait.
        if api_answers; then return 0; fi
        [ $SECONDS -lt $deadline ] || die "the lab was not healthy after ${WAIT_SECONDS}s; see make logs"
        sleep 0.2
    done
}

up() {
    variant_check
    need_docker
    if [ "$(service)" = lab-gpu ]; then need_gpu; fi
    local id
    if ! lab_running; then
        port_free "$LAB_PORT" ||
            die "port $LAB_PORT is already in use on 127.0.0.1; stop what uses it or pick another port: make up LAB_PORT=$((LAB_PORT + 1))"
    fi
    build
    prepare_host_files
    compose_env
    local svc
    svc=$(service)
    compose up -d "$svc" >&2
    id=$(container_id)
    wait_healthy "$id"
    local url="http://127.0.0.1:$LAB_PORT/lab?token=$(cat "$LAB_TOKEN_FILE")"
    say "ready; your work is saved in $LAB_WORKSPACE"
    echo "$url"
    if [ -z "${CI:-}" ] && [ "${OPEN_BROWSER:-1}" = 1 ]; then
        if command -v xdg-open >/dev/null 2>&1 && [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
            xdg-open "$url" >/dev/null 2>&1 || true
        elif command -v open >/dev/null 2>&1 && [ "$(uname)" = Darwin ]; then
            open "$url" || true
        fi
    fi
}

down() { need_docker; compose_env; compose --profile gpu down; }
logs() { need_docker; compose_env; compose logs --tail "${TAIL:-100}" "$(service)"; }
shell() {
    need_docker
    lab_running || die "the lab is not running; start it with make up"
    "$DOCKER" exec -it "$(container_id)" bash
}

reset_lesson() {
    local number=${1:-}
    [ -n "$number" ] || die "say which lesson: make reset-lesson 9 (or N=9)"
    need_docker
    build
    prepare_host_files
    "$DOCKER" run --rm -v "$LAB_WORKSPACE:/home/student/work" "$IMAGE" reset-lesson "$number"
}

# Run notebooks of this repository inside the image: make run NB="a.ipynb b.ipynb".
run_notebooks() {
    local out=${OUT:-build/run}
    need_docker
    local nb
    for nb in ${NB:-}; do
        [ -e "$nb" ] || die "$nb: no such notebook; give paths under this folder, e.g. NB=notebooks/09_linear_regression.ipynb"
        case $(realpath "$nb") in "$PWD"/*) ;; *) die "$nb is outside this folder; the image sees only the repository";; esac
    done
    build
    mkdir -p "$out"
    [ "$(id -u)" != 0 ] || chown "$LAB_UID:$LAB_GID" "$out"
    local gpu=()
    [ "${GPUS:-}" = "" ] || gpu=(--gpus "$GPUS")
    # shellcheck disable=SC2086  # NB and PARAMS are word lists on purpose
    "$DOCKER" run --rm --no-healthcheck "${gpu[@]}" -v "$PWD:/repo" -v "$(realpath "$out"):/out" -w /repo "$IMAGE" \
        python /opt/lab/scripts/run_notebooks.py ${NB:-/opt/lab/notebooks} ${PARAMS:-} \
        --timeout "${TIMEOUT:-600}" --output-dir /out
}

# The suite inside the image (lessons, runner), then the image and lab tests from the host.
test_suite() {
    variant_check
    need_docker
    build
    say "running the lessons and the runner's tests inside $IMAGE"
    # shellcheck disable=SC2086  # PYTEST_ARGS is a word list on purpose
    "$DOCKER" run --rm --no-healthcheck "$IMAGE" python -m pytest /opt/lab/tests -p no:cacheprovider \
        --ignore=/opt/lab/tests/host ${PYTEST_ARGS:-}
    say "testing the image and the lab from the host"
    host_venv
    # shellcheck disable=SC2086
    LAB_IMAGE=$IMAGE REQUIRE_DOCKER=1 build/venv/bin/python -m pytest -p no:cacheprovider tests/host ${PYTEST_ARGS:-}
}

test_gpu() {
    VARIANT=cuda IMAGE=${IMAGE/%:cpu/:cuda}
    need_docker
    need_gpu
    build
    GPUS=all NB=notebooks PARAMS="--profile full -p device cuda ${PARAMS:-}" OUT=${OUT:-build/test-gpu} run_notebooks
}

check_compose() {
    if "$DOCKER" compose version 2>/dev/null; then return; fi
    if command -v docker-compose >/dev/null 2>&1; then docker-compose version --short | sed 's/^/docker-compose (v1) /'; return; fi
    echo "Docker Compose is missing; install the compose plugin (package docker-compose-plugin) or docker-compose"
    return 1
}
check_disk() {
    local need_gb=$1 dir avail_gb
    dir=$("$DOCKER" info --format '{{.DockerRootDir}}' 2>/dev/null || true)
    [ -d "$dir" ] || dir=$PWD  # Docker Desktop keeps its disk in a VM: check here instead
    avail_gb=$(df -Pk "$dir" | awk 'NR==2 {print int($4 / 1048576)}')
    if [ "$avail_gb" -ge "$need_gb" ]; then
        echo "$avail_gb GB free in $dir (the $VARIANT image needs about $need_gb GB)"
        return
    fi
    echo "only $avail_gb GB free in $dir; the $VARIANT image needs about $need_gb GB: free some space (docker system prune)"
    return 1
}
check_port() {
    if port_free "$LAB_PORT"; then echo "port $LAB_PORT is free on 127.0.0.1"; return; fi
    if lab_running; then echo "port $LAB_PORT is used by this lab (running)"; return; fi
    echo "port $LAB_PORT is in use on 127.0.0.1; stop what uses it or pick another: make up LAB_PORT=$((LAB_PORT + 1))"
    return 1
}

# One line per check, a fix for each failure; non-zero exit if any failed.
doctor() {
    variant_check
    local failed=0 name out
    local checks=("docker:check_docker_client" "engine:check_docker_engine" "compose:check_compose")
    local need_gb=5
    [ "$VARIANT" = cpu ] || need_gb=20
    checks+=("disk:check_disk $need_gb" "port:check_port")
    [ "$VARIANT" = cpu ] || checks+=("nvidia driver:check_nvidia_driver" "nvidia runtime:check_nvidia_runtime")
    for check in "${checks[@]}"; do
        name=${check%%:*}
        # shellcheck disable=SC2086  # the check's name and argument
        if out=$(${check#*:} 2>/dev/null); then
            printf 'ok    %-15s %s\n' "$name" "$(echo "$out" | head -n1)"
        else
            printf 'FAIL  %-15s %s\n' "$name" "$(echo "$out" | head -n1)"
            failed=1
        fi
    done
    return $failed
}

lint() {
    host_venv
    build/venv/bin/hadolint docker/Dockerfile && say "hadolint: docker/Dockerfile is clean"
}

host_venv() {
    if [ ! -x build/venv/bin/python ] || ! cmp -s tests/requirements-host.lock build/venv/.lock; then
        say "installing the host test tools into build/venv"
        command -v python3 >/dev/null || die "python3 is needed on the host to run the image tests; install it"
        python3 -m venv build/venv
        build/venv/bin/pip install -q --require-hashes -r tests/requirements-host.lock
        cp tests/requirements-host.lock build/venv/.lock
    fi
}

cmd=${1:-}
shift || true
case $cmd in
    build) build;;
    up) up;;
    down) down;;
    logs) logs;;
    shell) shell;;
    reset-lesson) reset_lesson "$@";;
    run) run_notebooks;;
    test) test_suite;;
    test-gpu) test_gpu;;
    host-venv) host_venv;;
    doctor) doctor;;
    lint) lint;;
    bench) need_docker; python3 scripts/bench.py ${BENCH_ARGS:-};;
    *) die "unknown command '$cmd'; see make help";;
esac
