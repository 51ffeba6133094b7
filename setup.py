"""posynda_ros: an ament_python package for colcon, and a pip package for the venv (README)."""
from glob import glob

from setuptools import setup

PACKAGE = "posynda_ros"

# Each tool is `ros2 run posynda_ros <name>` on a ROS install and `<name>` in the venv.
TOOLS = {
    "render_views": "adaptation.views:main",
    "train": "adaptation.train:main",
    "evaluate": "adaptation.evaluate:main",
    "export_model": "adaptation.export:main",
    "adapt": "posynda_ros.adapt_cli:main",
    "lift": "posynda_ros.lift_node:main",
    "demo": "posynda_ros.demo:main",
}

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=["posynda_ros", "adaptation"],
    package_data={"adaptation": ["models/*/*", "rigs/*.yaml", "data/*.npz"], "posynda_ros": ["*.xml", "media/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/rviz", glob("rviz/*.rviz")),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="posynda_ros maintainers",
    description="Metric 3D human skeletons from an RGB camera, adapted with PoSynDA.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={"console_scripts": [f"{name} = {target}" for name, target in TOOLS.items()]},
)
