"""DESIGN.md's import rule, checked on the source: nothing imports ``dorlab.simulator`` except the wiring in
``procedures/`` (``wiring.py``, where the bench and the simulator meet) and the modules whose job *is* to
run the simulator's own studies (listed below with the reason). The front ends (``frontends/``: the command
line, the PyMeasure windows, the dashboard) sit on top: nothing below them imports them. Every import counts, also one inside a
function, and ``from dorlab import simulator``. A plan module or a bench command that needs a simulated
bench, diode or world gets it from ``wiring``."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# procedures/ and frontends/ modules allowed to import the simulator, and why
SIMULATION_FRONT_ENDS = {
    "wiring.py": "the wiring: simulated benches, diodes, worlds, recording and replaying traffic",
}
SIMULATION_COMMANDS = {
    "cli_simulate.py": "`dorlab simulate ...`: the simulator's studies (oscillation, operating point, phase map)",
    "cli_micromagnetic.py": "`dorlab simulate sp4` and the micromagnetic studies",
}
SIMULATION_STUDIES = {
    "scale.py": "the simulator's studies split into Dask tasks; the worker fingerprint hashes its sources",
    "table1_run.py": "Table I row c on the simulated device's curve (a simulation study, no bench)",
    "parabola_comparison.py": "T7: analytic vs direct parabola on the LLGS curve (a simulation study, no bench)",
}


def _simulator_imports(path: Path, package: str = "dorlab.simulator") -> list[int]:
    """Line numbers of the imports of ``package`` (or of a name from it) in ``path``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        if any(name == package or name.startswith(package + ".") for name in names):
            lines.append(node.lineno)
    return lines


def _offenders(folder: str, allowed: dict, package: str = "dorlab.simulator") -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line}" for path in sorted((ROOT / folder).rglob("*.py"))
            if path.name not in allowed for line in _simulator_imports(path, package)]


@pytest.mark.parametrize("package", ["compute", "calibration", "instruments"])
def test_libraries_never_import_the_simulator(package):
    assert _offenders(package, {}) == []


def test_procedures_reach_the_simulator_only_through_the_wiring():
    assert _offenders("procedures", {**SIMULATION_FRONT_ENDS, **SIMULATION_STUDIES}) == []
    assert _offenders("frontends", SIMULATION_COMMANDS) == []
    # every run-layer plan module, and every bench command, is outside the allowed set
    from dorlab.procedures.runs import PLAN_KINDS

    plan_modules = {target.split(":")[0].rsplit(".", 1)[1] + ".py" for target in PLAN_KINDS.values()}
    assert not plan_modules & set(SIMULATION_STUDIES)
    assert {"cli_workflows.py", "cli_calibrate.py", "cli_reproduce.py", "cli_bench.py"}.isdisjoint(
        SIMULATION_COMMANDS)


@pytest.mark.parametrize("folder", ["procedures", "compute", "calibration", "instruments", "simulator"])
def test_nothing_below_the_front_ends_imports_them(folder):
    """The command-line boundary: a plan or a library never reaches up into the CLI, a window or the
    dashboard (so it cannot depend on click options, exit codes of a command or a GUI)."""
    assert _offenders(folder, {}, "dorlab.frontends") == []


def test_the_check_finds_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\n\ndef f():\n    from dorlab.simulator.world import World\n"
                     "    from dorlab import simulator\n    import dorlab.simulator.visa as v\n")
    assert _simulator_imports(probe) == [4, 5, 6]
