# sovereign.cloud: the two commands are `make demo` and `make test`.
# Every target sets itself up: .venv (Python >= 3.12, pinned requirements) is created on demand.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0
# Podman settings for this machine kind (runc, cgroupfs, lowered ulimits): scripts/podman/*.
PODMAN_ENV := source scripts/podman/env.sh
SCENARIOS := $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard extensions/molecule/*/molecule.yml))))

.PHONY: help venv demo test unit sanity lint image molecule integration bench build docs lock clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: ## Create .venv with Python >= 3.12 and the pinned controller requirements
	@scripts/bootstrap.sh

demo: venv ## Run the full rollout against this machine, inside .demo/, without root
	python scripts/demo-inbox.py .demo/inbox
	SOVEREIGN_REPORT_DIR=$(CURDIR)/.demo/reports ansible-playbook playbooks/site.yml -i inventory/demo
	@# The photo vault's scheduled jobs once by hand (no timers without root), then the status page.
	for job in ingest thumbnails verify; do .demo/bin/sovereign-photos --quiet $$job; done
	SOVEREIGN_REPORT_DIR=$(CURDIR)/.demo/reports ansible-playbook playbooks/status.yml -i inventory/demo

test: venv ## Run every test layer: unit, sanity, lint, molecule, integration
	@scripts/run-tests.sh

unit: venv ## pytest unit tests (tests/unit)
	pytest tests/unit

sanity: venv ## ansible-test sanity, offline (scripts/sanity.sh)
	scripts/sanity.sh

lint: venv ## ansible-lint --profile production
	ansible-lint --profile production

image: ## Build the podman host image molecule boots (rebuilt only when its recipe changes)
	scripts/podman/build-image.sh

molecule: venv image ## molecule test for every scenario, or one: make molecule SCENARIO=base
	@$(PODMAN_ENV); scripts/molecule.sh $(or $(SCENARIO),$(SCENARIOS))

integration: venv ## Playbooks through ansible-runner (tests/integration)
	pytest tests/integration

bench: venv ## Speed benchmarks (tests/benchmarks); prints figures, asserts nothing
	python tests/benchmarks/run.py

build: venv ## Build the collection tarball into build/
	ansible-galaxy collection build --force --output-path build .

docs: venv ## Regenerate the role READMEs from meta/argument_specs.yml
	python scripts/gen-role-docs.py

lock: venv ## Re-resolve requirements/constraints.txt from requirements/controller.txt
	scripts/lock.sh

clean: ## Remove the demo output, caches and build artefacts (keeps .venv)
	rm -rf .demo .cache build tests/output .pytest_cache
