# Two commands are the contract (README): `make setup` then `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt
PACKAGE_BUILD := build/posynda_ros
# Sources whose appearance or removal needs a re-install (edits to existing files show at once:
# the install links to them).
PACKAGE_SOURCES := CMakeLists.txt package.xml setup.cfg $(wildcard msg/*.msg posynda_ros/*.py posynda_ros/*.xml \
                   posynda_ros/media/* adaptation/*.py adaptation/rigs/* adaptation/models/*/* adaptation/data/* \
                   launch/* config/* rviz/*)

.PHONY: setup test demo colcon-check clean

## setup: .venv with pinned packages, then this package built by cmake from CMakeLists.txt (as colcon
## does) and installed into the venv: messages, Python packages linked to the sources, tools in .venv/bin.
setup: $(VENV)/.package-installed

$(VENV)/.packages-installed: requirements/venv.txt requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements/venv.txt
	touch $@

$(VENV)/.package-installed: $(VENV)/.packages-installed $(PACKAGE_SOURCES)
	$(BIN)/python -m pip uninstall --quiet --disable-pip-version-check -y posynda_ros posynda_msgs 2>/dev/null || true  # older setups
	mkdir -p build
	cmake -S . -B $(PACKAGE_BUILD) -DCMAKE_INSTALL_PREFIX=$(abspath $(VENV)) \
	      -DCMAKE_PREFIX_PATH=$(abspath $(VENV)) -DPython3_EXECUTABLE=$(abspath $(BIN)/python) \
	      -DAMENT_CMAKE_SYMLINK_INSTALL=ON -DPOSYNDA_TOOLS_IN_BIN=ON \
	      -DBUILD_TESTING=OFF > $(PACKAGE_BUILD).log 2>&1 || { cat $(PACKAGE_BUILD).log; exit 1; }
	cmake --build $(PACKAGE_BUILD) -j2 >> $(PACKAGE_BUILD).log 2>&1 || { cat $(PACKAGE_BUILD).log; exit 1; }
	cmake --install $(PACKAGE_BUILD) >> $(PACKAGE_BUILD).log 2>&1 || { cat $(PACKAGE_BUILD).log; exit 1; }
	cd / && $(abspath $(BIN)/python) -c "import posynda_ros.msg, posynda_ros.lift_node, adaptation.model, rclpy, mediapipe, torch, onnxruntime, rosbags"
	touch $@

## test: the whole suite in the venv (no GPU, no network).
test:
	$(BIN)/python -m pytest

## demo: the bundled real clip through the lift node -> out/demo (bag, video, picture).
demo:
	$(BIN)/demo --out out/demo

## colcon-check: prove that a plain `colcon build` of a workspace with this repo in src/ builds the package
## (colcon from PyPI, ROS 2 from the venv) and that its tools, messages and launch files are installed.
colcon-check:
	test -x build/colcon/bin/colcon || ($(PYTHON) -m venv build/colcon && build/colcon/bin/pip install --quiet colcon-common-extensions)
	rm -rf build/colcon_ws && mkdir -p build/colcon_ws/src && git clone --quiet . build/colcon_ws/src/posynda_ros
	cd build/colcon_ws && PATH=$(abspath $(BIN)):$$PATH CMAKE_PREFIX_PATH=$(abspath $(VENV)) AMENT_PREFIX_PATH=$(abspath $(VENV)) \
	  $(abspath build/colcon/bin/colcon) build --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE=$(abspath $(BIN)/python)
	ls build/colcon_ws/install/posynda_ros/share/posynda_ros/msg/Skeleton3DArray.msg build/colcon_ws/install/posynda_ros/share/posynda_ros/launch/lift.launch.py
	cd / && PYTHONPATH=$(abspath build/colcon_ws/install/posynda_ros/lib/python3.11/site-packages) \
	  $(abspath build/colcon_ws/install/posynda_ros/lib/posynda_ros/adapt) --help > /dev/null
	cd / && PYTHONPATH=$(abspath build/colcon_ws/install/posynda_ros/lib/python3.11/site-packages) $(abspath $(BIN)/python) -c \
	  "import posynda_ros.msg, posynda_ros.lift_node; assert 'colcon_ws/install' in posynda_ros.msg.__file__ and 'colcon_ws/install' in posynda_ros.lift_node.__file__"

clean:
	rm -rf $(VENV) build
