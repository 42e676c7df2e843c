# pytorch-lab: `make up` starts the lab, `make test` proves it. Logic lives in scripts/lab.sh.
# Every knob below can be set on the command line or in the environment.
VARIANT ?= cpu
LAB_PORT ?= 8888
IMAGE ?= pytorch-lab:$(VARIANT)
DOCKER ?= docker
BASE_IMAGE ?=
CA_BUNDLE ?=
LAB_WORKSPACE ?= $(CURDIR)/workspace
NB ?=
PARAMS ?=
OUT ?= build/run
TIMEOUT ?= 600
N ?=
PYTEST_ARGS ?=
export VARIANT LAB_PORT IMAGE DOCKER BASE_IMAGE CA_BUNDLE LAB_WORKSPACE NB PARAMS OUT TIMEOUT PYTEST_ARGS

SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help up down logs shell build test test-gpu run reset-lesson doctor bench lint

# `make reset-lesson 9`: the number after the target is its argument, not a goal.
ifeq (reset-lesson,$(firstword $(MAKECMDGOALS)))
  N := $(or $(N),$(word 2,$(MAKECMDGOALS)))
  $(eval $(word 2,$(MAKECMDGOALS)):;@:)
endif

help: ## list the targets and their knobs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'
	@echo "knobs: VARIANT=cpu|cuda LAB_PORT=8888 IMAGE DOCKER BASE_IMAGE CA_BUNDLE LAB_WORKSPACE NB PARAMS OUT TIMEOUT (see README.md)"

up: ## build if needed, start the lab, wait until healthy, print its URL [VARIANT=cpu|cuda]
	@scripts/lab.sh up

down: ## stop the lab (your work in workspace/ stays)
	@scripts/lab.sh down

logs: ## show the lab's log
	@scripts/lab.sh logs

shell: ## open a shell in the running lab
	@scripts/lab.sh shell

build: ## build the image if its inputs changed [VARIANT=cpu|cuda]
	@scripts/lab.sh build

test: ## build the image and run every test against it [VARIANT=cpu|cuda]
	@scripts/lab.sh test

test-gpu: ## run every lesson in the CUDA image on the GPU (NVIDIA hosts)
	@scripts/lab.sh test-gpu

run: ## run notebooks in the image: NB="a.ipynb b.ipynb" [PARAMS="--profile full -p name value"] [OUT=dir]
	@scripts/lab.sh run

reset-lesson: ## restore lesson N's original, keeping your copy beside it: make reset-lesson 9
	@scripts/lab.sh reset-lesson $(N)

doctor: ## check Docker, Compose, disk, the port and (VARIANT=cuda) the GPU stack
	@scripts/lab.sh doctor

bench: ## measure image sizes and start/test times; rewrite BENCHMARKS.md
	@scripts/lab.sh bench

lint: ## hadolint the Dockerfile
	@scripts/lab.sh lint
