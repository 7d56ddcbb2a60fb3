# Two commands set everything up on a fresh Debian 12 machine:
#   make run    installs what is missing and starts the core server on its embedded defaults
#   make test   installs what is missing and runs the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages: dcmtk (DICOM test clients, also handy for administrators), PostgreSQL
# (the production database; the tests start a throwaway cluster of it), xorriso (disc images
# and burning), dicom3tools (dciodvfy: the tests validate what we write with it), slapd + ldap-utils (the sign-in tests start their own OpenLDAP).
APT_PACKAGES := dcmtk postgresql chromium espeak-ng alsa-utils fonts-wqy-microhei poppler-utils zbar-tools \
	xorriso dicom3tools slapd ldap-utils haproxy gpg gpgv
STAMP_APT := $(VENV)/.apt-installed
STAMP_PIP := $(VENV)/.pip-installed

.PHONY: run test install viewer lint format bench clean images images-test cluster-test

run: install viewer
	$(BIN)/core-server serve

test: install viewer
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadgroup --durations=30

install: $(STAMP_APT) $(STAMP_PIP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_APT): Makefile | $(VENV)/bin/python
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	touch $@

$(STAMP_PIP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[core,dev,display,caller,printer,kiosk,capture]'
	touch $@

# The OHIF web viewer (npm @ohif/app, pinned): fetched once into .venv/share/ohif, then a no-op.
viewer: install
	$(BIN)/python scripts/fetch_ohif.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.archive_bench

# Three cores behind HAProxy (docs/cluster.md): kill -9 (also in `make test`) and the rolling
# upgrade (only here); 3-5 min.
cluster-test: install
	CLUSTER_TEST=1 $(BIN)/pytest -q -s -p no:cacheprovider tests/cluster

# Appliance images (docs/images.md): one per role with mkosi, into IMAGES_OUT. The build's own
# tools are installed here, not by `make test`. images-test boots in QEMU (UEFI) every role's
# image that make images left in IMAGES_OUT (the display's is built if there is none) until its
# unit is active, with screenshots in test-artifacts/, then applies a signed A/B update to the
# display's, checks that B is blessed, and rolls it back.
IMAGE_ROLES ?= core display caller printer kiosk capture
IMAGES_OUT ?= images/out

images: install
	images/host/setup-host.sh
	for role in $(IMAGE_ROLES); do images/build-image.sh $$role $(IMAGES_OUT) || exit 1; done

images-test: install
	images/host/setup-host.sh
	ls $(IMAGES_OUT)/display/imaging-display_*.raw >/dev/null 2>&1 || images/build-image.sh display $(IMAGES_OUT)
	IMAGES_TEST=1 IMAGES_OUT=$(IMAGES_OUT) $(BIN)/pytest -q -p no:cacheprovider tests/images

clean:
	rm -rf $(VENV) var .pytest_cache
