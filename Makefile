# MeshConnect: every target sets up what it needs on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/build/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/meshconnect/mesh
SCENARIO ?= default

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PYTHONDONTWRITEBYTECODE := 1
# The lab keeps its preshared key secret in Ansible Vault; this is its (lab-only) password.
export ANSIBLE_VAULT_IDENTITY_LIST := lab@$(CURDIR)/tests/lab/vault-password

.PHONY: help venv collection docker image host-tools lab-up demo demo-down test unit host lint sanity units molecule molecule-all ee compat bench bench-lab plan clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Python virtualenv with Ansible, linters, Molecule, pytest

$(VENV)/.installed: requirements/dev.txt requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/dev.txt -c requirements/constraints.txt
	touch $@

collection: ## Make this checkout importable as meshconnect.mesh
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(CURDIR) $(COLLECTION_LINK)

docker: ## Install and start Docker when needed
	@scripts/docker-ready.sh

host-tools: ## Install nftables, iproute2, ping and python3-nftables for the host tests
	@scripts/host-tools.sh

image: docker ## Build (or reuse) the lab base image
	@scripts/lab-image.sh

lab-up: venv collection image ## Create (or complete) the Docker lab of inventories/lab
	$(BIN)/ansible-playbook -i inventories/lab tests/lab/lab-up.yml

LAB := -i inventories/lab

demo: venv collection host-tools image ## The main job on the lab: real sites, users and probes (see docs/lab.md)
	$(BIN)/ansible-playbook $(LAB) tests/lab/lab-up.yml
	$(BIN)/ansible-playbook $(LAB) playbooks/plan.yml
	$(BIN)/ansible-playbook $(LAB) playbooks/site.yml
	$(BIN)/ansible-playbook $(LAB) playbooks/users.yml
	$(BIN)/ansible-playbook $(LAB) tests/lab/users-up.yml
	$(BIN)/ansible-playbook $(LAB) playbooks/verify.yml
	@echo "report: inventories/lab/.meshconnect/lab/report.html (open it in a browser); topology: inventories/lab/.meshconnect/lab/topology.svg (and .png); client bundles: inventories/lab/.meshconnect/lab/bundles/"

demo-down: venv collection docker ## Remove the Docker lab: containers, networks, state
	$(BIN)/ansible-playbook -i inventories/lab tests/lab/lab-down.yml

plan: venv collection ## Compile the example inventory and print the report
	$(BIN)/ansible-playbook -i inventories/example playbooks/plan.yml

unit: venv collection ## Unit tests of the compiler and plugin tests
	$(BIN)/pytest -q -n auto tests/unit tests/plugins

host: venv collection host-tools ## The agent's firewall and guard with real packets in network namespaces (root)
	$(BIN)/pytest -q tests/host

lint: venv collection ## ansible-lint, production profile
	$(BIN)/ansible-lint --profile production

sanity: venv collection ## ansible-test sanity on a copy of the collection
	scripts/ansible-test.sh sanity

units: venv collection ## ansible-test units: the unit tests under tests/unit, as ansible-test runs them
	scripts/ansible-test.sh units

molecule: venv collection image ## One Molecule scenario: make molecule SCENARIO=name
	$(BIN)/molecule test -s $(SCENARIO)

molecule-all: venv collection image ## Every Molecule scenario, one after the other
	$(BIN)/molecule test -s default
	$(BIN)/molecule test -s mesh

$(VENV)/.ee-installed: $(VENV)/.installed requirements/ee.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/ee.txt -c requirements/constraints.txt
	touch $@

ee: $(VENV)/.ee-installed collection image ## Build the execution environment (ee/) offline; run plan and users in it
	scripts/ee-build.sh

compat: venv collection ## The oldest ansible-core claimed (requires_ansible): sanity and the plugin tests
	scripts/compat.sh

bench: venv collection host-tools ## Compile synthetic inventories, load agent rulesets; print time, memory, rules
	$(BIN)/python tests/bench/bench_compile.py
	$(BIN)/python tests/bench/bench_nft.py

bench-lab: venv collection image ## Converge costs on a fresh demo lab (rebuilds it): first run, no-op re-run, live change
	$(BIN)/python tests/bench/bench_lab.py

test: unit host lint sanity units compat ee molecule-all ## Every test
	@echo "all tests passed"

clean: ## Remove the virtualenv and build output
	rm -rf $(VENV) build
