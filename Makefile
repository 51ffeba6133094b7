# Two commands are the contract (README): `make setup` then `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt
MSG_BUILD := build/posynda_msgs

.PHONY: setup test demo colcon-check clean

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

## demo: the bundled real clip through the lift node -> out/demo (bag, video, picture).
demo:
	$(BIN)/demo --out out/demo

## colcon-check: prove `colcon build` builds both packages (colcon from PyPI, ROS 2 from the venv).
colcon-check:
	test -x build/colcon/bin/colcon || ($(PYTHON) -m venv build/colcon && build/colcon/bin/pip install --quiet colcon-common-extensions)
	rm -rf build/colcon_ws && mkdir -p build/colcon_ws/src && git clone --quiet . build/colcon_ws/src/posynda_ros
	cd build/colcon_ws && PATH=$(abspath $(BIN)):$$PATH CMAKE_PREFIX_PATH=$(abspath $(VENV)) AMENT_PREFIX_PATH=$(abspath $(VENV)) \
	  $(abspath build/colcon/bin/colcon) build --base-paths src/posynda_ros src/posynda_ros/msg \
	  --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE=$(abspath $(BIN)/python)
	ls build/colcon_ws/install/posynda_ros/lib/posynda_ros/adapt build/colcon_ws/install/posynda_msgs/share/posynda_msgs/msg/Skeleton3DArray.msg

clean:
	rm -rf $(VENV) build
