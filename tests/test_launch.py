"""The launch file, parameters and RViz config name things that exist.

There is no launch/launch_ros wheel, so the launch file is checked by reading it, and the node
is started through its console-script twin in tests/test_node.py.
"""
import ast
import re
from pathlib import Path

import yaml

from posynda_ros.lift_node import PARAMETERS

REPO = Path(__file__).resolve().parents[1]
LAUNCH = REPO / "launch" / "lift.launch.py"


def test_launch_file_declares_the_documented_arguments_and_names_a_real_executable():
    tree = ast.parse(LAUNCH.read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") in ("DeclareLaunchArgument", "Node")]
    declared = {c.args[0].value for c in calls if c.func.id == "DeclareLaunchArgument"}
    assert declared == {"image", "camera_info", "params_file", "rviz", "namespace", "camera_transport"}
    executables = {kw.value.value for c in calls if c.func.id == "Node" for kw in c.keywords if kw.arg == "executable"}
    tools = (REPO / "setup.cfg").read_text()     # the table CMakeLists.txt installs to lib/posynda_ros
    assert "lift" in executables and re.search(r"^    lift = posynda_ros\.lift_node:main$", tools, re.M)
    for relative in ("config/lift.yaml", "rviz/posynda.rviz"):
        assert (REPO / relative).is_file() and relative.split("/")[0] in LAUNCH.read_text()
    assert "generate_launch_description" in {f.name for f in tree.body if isinstance(f, ast.FunctionDef)}


def test_parameter_file_sets_only_parameters_the_node_declares_with_matching_types():
    params = yaml.safe_load((REPO / "config" / "lift.yaml").read_text())["/**"]["ros__parameters"]
    assert set(params) == set(PARAMETERS)
    for name, value in params.items():
        assert type(value) is type(PARAMETERS[name]), name


def test_rviz_config_shows_the_marker_topic_the_node_publishes():
    config = yaml.safe_load((REPO / "rviz" / "posynda.rviz").read_text())
    topics = [d.get("Topic", {}).get("Value") for d in config["Visualization Manager"]["Displays"]]
    assert "/skeleton_markers" in topics


def test_every_tool_is_installed_as_a_runnable_launcher():
    """setup.cfg's tools, as CMakeLists.txt installs them (`make setup`: next to this interpreter)."""
    import os
    import subprocess
    import sys
    tools = re.findall(r"^    ([a-z_]+) = [a-z_.]+:main$", (REPO / "setup.cfg").read_text(), re.M)
    assert {"adapt", "lift", "train", "demo"} <= set(tools)
    bin_dir = Path(sys.executable).parent
    for tool in tools:
        assert os.access(bin_dir / tool, os.X_OK), f"{bin_dir / tool} is missing or not executable"
    answer = subprocess.run([str(bin_dir / "adapt"), "--help"], capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0 and "--mount" in answer.stdout, answer.stderr[-2000:]
