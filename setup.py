"""pip metadata of posynda_ros (`pip install .`: the ROS-free core and the tools, without the
messages). The ROS build, used by `colcon build` and by `make setup`, is CMakeLists.txt; the
tools are listed once, in setup.cfg."""
from setuptools import setup

setup(
    name="posynda_ros",
    version="0.1.0",
    packages=["posynda_ros", "adaptation"],
    package_data={"adaptation": ["models/*/*", "rigs/*.yaml", "data/*.npz"], "posynda_ros": ["*.xml", "media/*"]},
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="posynda_ros maintainers",
    description="Metric 3D human skeletons from an RGB camera, adapted with PoSynDA.",
    license="Apache-2.0",
)
