# pytorch-lab: `make up` starts the lab, `make test` proves it. The logic is in scripts/labkit/host/;
# without make (Windows PowerShell), run the same command as: python -m scripts.lab up
# Every knob below can be set on the command line or in the environment.
VARIANT ?= cpu
LAB_LANG ?= zh
LAB_PORT ?= 8888
IMAGE ?= pytorch-lab:$(VARIANT)
DOCKER ?= docker
COMPOSE ?= auto
BASE_IMAGE ?=
CA_BUNDLE ?=
BUILD_NETWORK ?=
LAB_WORKSPACE ?= $(CURDIR)/workspace
NB ?=
PARAMS ?=
OUT ?= build/run
TIMEOUT ?= 600
N ?=
FILE ?=
REGISTRY ?=
DEST ?=
PYTEST_ARGS ?=
HUB_PORT ?= 8000
PYTHON ?= python3
export VARIANT LAB_LANG LAB_PORT IMAGE DOCKER COMPOSE BASE_IMAGE CA_BUNDLE BUILD_NETWORK LAB_WORKSPACE NB PARAMS OUT TIMEOUT N FILE REGISTRY DEST PYTEST_ARGS HUB_PORT

LAB := $(PYTHON) scripts/lab.py
.DEFAULT_GOAL := help
.PHONY: help up down logs shell build test test-unit test-gpu run reset-lesson reset-packages doctor bench lint lessons
.PHONY: save load publish
.PHONY: classroom-up classroom-down classroom-status classroom-progress classroom-collect test-classroom

# `make reset-lesson 9`, `make classroom-progress 9`: the number after the target is its argument, not a goal.
ifneq (,$(filter reset-lesson classroom-progress classroom-collect,$(firstword $(MAKECMDGOALS))))
  N := $(or $(N),$(word 2,$(MAKECMDGOALS)))
  ifneq (,$(word 2,$(MAKECMDGOALS)))
    $(eval $(word 2,$(MAKECMDGOALS)):;@:)
  endif
endif

help: ## list the targets and their knobs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'
	@echo "knobs: VARIANT=cpu|cuda LAB_LANG=zh|en LAB_PORT=8888 IMAGE DOCKER COMPOSE=auto|v2|v1 BASE_IMAGE PIP_INDEX_URL PIP_EXTRA_INDEX_URL TORCH_CPU_INDEX"
	@echo "       CA_BUNDLE BUILD_NETWORK LAB_WORKSPACE NB PARAMS OUT TIMEOUT FILE REGISTRY DEST HUB_PORT=8000 CLASSROOM_CELL_TIMEOUT=60 LAB_TORCH_INDEX LAB_WARM_KERNELS=1|0 WAIT_SECONDS=180 (see README.md)"

up: ## build if needed, start the lab, wait until healthy, print its URL [VARIANT=cpu|cuda LAB_LANG=zh|en]
	@$(LAB) up

down: ## stop the lab (your work in workspace/ stays)
	@$(LAB) down

logs: ## show the lab's log
	@$(LAB) logs

shell: ## open a shell in the running lab
	@$(LAB) shell

build: ## build the image if its inputs changed [VARIANT=cpu|cuda BUILD_NETWORK=host]
	@$(LAB) build

test: ## the fast tests, then build the image and run every test against it [VARIANT=cpu|cuda COMPOSE=v2|v1]
	@$(LAB) test

test-unit: ## the fast tests alone: no Docker, a few seconds (labkit, lesson sources, the host side)
	@$(LAB) test-unit

test-gpu: ## run every lesson in the CUDA image on the GPU (NVIDIA hosts)
	@$(LAB) test-gpu

run: ## run notebooks in the image: NB="a.ipynb b.ipynb" [PARAMS="--profile full -p name value"] [OUT=dir]
	@$(LAB) run

reset-lesson: ## restore lesson N's original, keeping your copy beside it: make reset-lesson 9
	@$(LAB) reset-lesson $(N)

reset-packages: ## move the packages you added (workspace/.lab/packages) aside, with a backup
	@$(LAB) reset-packages

save: ## write the image to an archive, with a checksum beside it: make save [VARIANT=cpu] [FILE=…]
	@$(LAB) save

load: ## check an archive against its checksum and load it: make load FILE=build/pytorch-lab-cpu.tar.gz
	@$(LAB) load

publish: ## tag and push the image, print the reference students pull: make publish REGISTRY=host[:port]/namespace
	@$(LAB) publish

doctor: ## check Docker, BuildKit, the platform, Compose, disk, the port, what a build must reach, (VARIANT=cuda) the GPU
	@$(LAB) doctor

bench: ## measure image sizes and start/test times; rewrite BENCHMARKS.md
	@$(LAB) bench

lint: ## hadolint, shellcheck, ruff (check and format) and the host code's Python 3.9 floor
	@$(LAB) lint

lessons: ## rebuild notebooks/zh and notebooks/en from notebooks/source
	@$(LAB) lessons

classroom-up: ## a JupyterHub for a class, a lab container per student; prints its URL [HUB_PORT=8000] (classroom/README.md)
	@$(LAB) classroom-up

classroom-down: ## stop the hub and every student's server (every student's work stays)
	@$(LAB) classroom-down

classroom-status: ## the hub, its students, their servers and volumes
	@$(LAB) classroom-status

classroom-progress: ## each student's exercises, run in a sandbox: make classroom-progress 9 (no number: every lesson)
	@$(LAB) classroom-progress $(N)

classroom-collect: ## copy every student's work (or lesson N's) out, read-only: make classroom-collect [9] [DEST=…]
	@$(LAB) classroom-collect $(N)

test-classroom: ## the classroom's tests: a real hub and student containers on this engine
	@$(LAB) test-classroom
