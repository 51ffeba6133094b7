# Two commands are the contract (README): `make setup` then `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt
MSG_BUILD := build/posynda_msgs

.PHONY: setup test clean

## setup: .venv with pinned packages, this package (editable) and the posynda_msgs messages.
setup: $(VENV)/.msgs-built

$(VENV)/.packages-installed: requirements/venv.txt requirements/constraints.txt setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements/venv.txt
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.msgs-built: $(VENV)/.packages-installed msg/CMakeLists.txt msg/package.xml $(wildcard msg/msg/*.msg)
	mkdir -p build
	cmake -S msg -B $(MSG_BUILD) -DCMAKE_INSTALL_PREFIX=$(abspath $(VENV)) \
	      -DCMAKE_PREFIX_PATH=$(abspath $(VENV)) -DPython3_EXECUTABLE=$(abspath $(BIN)/python) \
	      -DBUILD_TESTING=OFF > $(MSG_BUILD).log 2>&1 || { cat $(MSG_BUILD).log; exit 1; }
	cmake --build $(MSG_BUILD) -j2 >> $(MSG_BUILD).log 2>&1 || { cat $(MSG_BUILD).log; exit 1; }
	cmake --install $(MSG_BUILD) >> $(MSG_BUILD).log 2>&1 || { cat $(MSG_BUILD).log; exit 1; }
	$(BIN)/python -c "import posynda_msgs.msg, rclpy, mediapipe, torch, onnxruntime, rosbags"
	touch $@

## test: the whole suite in the venv (no GPU, no network).
test:
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build
