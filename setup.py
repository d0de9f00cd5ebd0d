"""Package discovery for dorlab's layout.

Each top-level folder is one subpackage of the ``dorlab`` namespace (``simulator/`` is
``dorlab.simulator``), which pyproject's static ``packages.find`` cannot express: it has no way to
prefix the names it finds. A hand-written list in pyproject omitted ``dorlab.simulator.instruments``
and only editable installs hid it, so the list is computed here from the folders instead.
"""
from setuptools import find_packages, setup

# dorlab subpackage -> folder; everything below each folder that has an __init__.py is found.
ROOTS = {
    "dorlab.simulator": "simulator",
    "dorlab.instruments": "instruments",
    "dorlab.calibration": "calibration",
    "dorlab.compute": "compute",
    "dorlab.procedures": "procedures",
    "dorlab.frontends": "frontends",
}
# pyvisa imports a third-party backend "@dorlab" as the top-level module ``pyvisa_dorlab``.
BACKEND = ("pyvisa_dorlab", "simulator/pyvisa_dorlab")


def discover() -> tuple[list[str], dict[str, str]]:
    packages: list[str] = []
    package_dir: dict[str, str] = {BACKEND[0]: BACKEND[1]}
    for name, folder in ROOTS.items():
        package_dir[name] = folder
        packages.append(name)
        packages += [f"{name}.{sub}" for sub in find_packages(folder, exclude=[BACKEND[0], BACKEND[0] + ".*"])]
    packages.append(BACKEND[0])
    return packages, package_dir


PACKAGES, PACKAGE_DIR = discover()

if __name__ == "__main__":
    setup(packages=PACKAGES, package_dir=PACKAGE_DIR)
