"""The options every ``dorlab`` command shares: one name, one default and one help text each.

- ``--bench NAME|FILE``: defaults to ``sim`` (the built-in simulated bench) on every command that opens a
  bench; a bench file (TOML) or a bench name selects real instruments.
- ``--sim-diode llgs|phenomenological|micromagnetic``: the diode behind ``--bench sim`` (micromagnetic: the
  shipped finite-difference device table).
- ``--seed N``: the seed of the simulator and of any random workload of the command.
- ``--data-dir DIR``: the data directory (default ``$DORLAB_DATA``, else ``./dorlab-data``).
- ``--json``: the result as JSON on stdout (messages go to stderr).
- ``--no-progress``: no progress bars or progress messages.
- ``-v/--verbose``, ``-q/--quiet``, ``--debug``: accepted by every command (and before it); they configure
  logging, and ``--debug`` shows the traceback of an error.

Every option can also be set by an environment variable ``DORLAB_<COMMAND>_<OPTION>`` (click's
``auto_envvar_prefix``), e.g. ``DORLAB_CALIBRATE_BENCH=lab.toml``, ``DORLAB_SIMULATE_PHASE_MAP_PRESET``;
global ones as ``DORLAB_DEBUG``, ``DORLAB_VERBOSE``, ``DORLAB_NO_PROGRESS``.

Numbers are checked where they are parsed: NaN and infinities are refused, counts have a minimum, and the
message names the option, the value and what was expected.
"""
from __future__ import annotations

import logging
import math
import re
import sys
from pathlib import Path

import click

LOGGER_NAME = "dorlab"
META_DEBUG = "dorlab.debug"
META_VERBOSITY = "dorlab.verbosity"
META_NO_PROGRESS = "dorlab.no_progress"


# ------------------------------------------------------------------------------------------- types

class FiniteFloat(click.FloatRange):
    """A float that is finite (no NaN, no inf) and inside an optional range."""

    def __init__(self, min=None, max=None, *, min_open=False, max_open=False, unit: str = ""):
        super().__init__(min, max, min_open=min_open, max_open=max_open, clamp=False)
        self.unit = unit
        self.name = "float"

    def convert(self, value, param, ctx):
        number = value if isinstance(value, float) else None
        if number is None:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a number{self._expected()}", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number{self._expected()}", param, ctx)
        return super().convert(number, param, ctx)

    def _describe_range(self) -> str:
        return "" if self.min is None and self.max is None else super()._describe_range()

    def _expected(self) -> str:
        described = self._describe_range()
        unit = f" in {self.unit}" if self.unit else ""
        return f" (expected a finite value{unit}{', ' + described if described else ''})"


def Count(minimum: int = 1, maximum: int | None = None) -> click.IntRange:
    """A whole number with a minimum (points, readings, chunk sizes)."""
    return click.IntRange(minimum, maximum)


CURRENT = FiniteFloat(unit="A")
FREQUENCY = FiniteFloat(0.0, None, min_open=True, unit="Hz")
RF_CURRENT = FiniteFloat(0.0, None, min_open=True, unit="A")  # an amplitude
POWER_DBM = FiniteFloat(unit="dBm")
POSITIVE_TIME = FiniteFloat(0.0, None, min_open=True, unit="s")
FRACTION = FiniteFloat(0.0, 1.0, max_open=True)
POINTS = Count(2, 1_000_000)
READINGS = Count(2, 100_000)

_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


class Duration(click.ParamType):
    """Seconds from "3600", "90s", "30m", "12h", "7d" or "2w"."""

    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
        else:
            match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([smhdw]?)\s*", str(value))
            if not match:
                self.fail(f"{value!r} is not a duration (expected e.g. 3600, 90s, 30m, 12h, 7d, 2w)", param, ctx)
            seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a finite duration", param, ctx)
        return seconds


class TextFile(click.Path):
    """An existing text file (UTF-8): a sweep results file, a log, a CSV. A binary or empty file is refused
    here, with its name, before any procedure reads it."""

    def __init__(self, what: str = "text file"):
        super().__init__(exists=True, dir_okay=False, path_type=Path)
        self.what = what

    def convert(self, value, param, ctx):
        path = super().convert(value, param, ctx)
        try:
            with open(path, "rb") as handle:
                head = handle.read(65536)
        except OSError as exc:
            self.fail(f"{path}: cannot read it ({exc.strerror})", param, ctx)
        if not head.strip():
            self.fail(f"{path} is empty (expected a {self.what})", param, ctx)
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
                self.fail(f"{path} is not a text file (byte {exc.start} is 0x{head[exc.start]:02x}; expected a "
                          f"{self.what})", param, ctx)
        if b"\0" in head:
            self.fail(f"{path} is not a text file (it holds NUL bytes; expected a {self.what})", param, ctx)
        return path


def parse_duration(text: str) -> float:
    """Seconds from "3600", "90s", "30m", "12h", "7d" or "2w" (``click.BadParameter`` otherwise)."""
    return Duration().convert(text, None, None)


# ---------------------------------------------------------------------------------- hidden aliases

class AliasOption(click.Option):
    """An option with deprecated spellings that still work but are not shown in ``--help``."""

    def __init__(self, *args, aliases: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.aliases = tuple(aliases)
        self.opts.extend(a for a in self.aliases if a not in self.opts)

    def get_help_record(self, ctx):
        shown, self.opts = self.opts, [o for o in self.opts if o not in self.aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


def option(*decls, aliases: tuple[str, ...] = (), **kwargs):
    """``click.option`` with hidden deprecated ``aliases``."""
    if aliases:
        kwargs["cls"] = AliasOption
        kwargs["aliases"] = tuple(aliases)
    return click.option(*decls, **kwargs)


# ---------------------------------------------------------------------------------- shared options

def bench_option(help: str = 'Bench name or bench file (TOML); "sim" = the built-in simulated bench.'):
    return click.option("--bench", "bench_name", default="sim", show_default=True, metavar="NAME|FILE",
                        help=help)


def _legacy_phenomenological(ctx, param, value):
    if value:
        ctx.meta["dorlab.legacy_phenomenological"] = True


def _sim_diode_value(ctx, param, value):
    if ctx.meta.pop("dorlab.legacy_phenomenological", False) and \
            ctx.get_parameter_source(param.name) in (click.core.ParameterSource.DEFAULT, None):
        return "phenomenological"
    return value


def sim_diode_option(function):
    """``--sim-diode llgs|phenomenological|micromagnetic`` (and the deprecated ``--phenomenological`` flag)."""
    function = click.option(
        "--sim-diode", type=click.Choice(["llgs", "phenomenological", "micromagnetic"]), default="llgs",
        show_default=True,
        callback=_sim_diode_value,
        help="Diode behind --bench sim: the LLGS macrospin, or the fast phenomenological model (Eq. 6).")(function)
    return click.option("--phenomenological", is_flag=True, hidden=True, expose_value=False, is_eager=True,
                        callback=_legacy_phenomenological)(function)


def seed_option(default: int | None = None, aliases: tuple[str, ...] = ()):
    return option("--seed", type=click.IntRange(0), default=default, show_default=default is not None,
                  aliases=aliases, help="Seed of the simulator and of the command's random workload.")


def data_dir_option(function):
    return click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="Data directory (default: $DORLAB_DATA, else ./dorlab-data).")(function)


def json_option(function):
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the result as JSON on stdout (messages go to stderr).")(function)


def no_progress_option(function):
    return click.option("--no-progress", is_flag=True, help="No progress bars or progress messages.")(function)


def plot_file_option(help: str = "Save a figure (PNG/SVG/PDF)."):
    return click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help=help)


def show_progress(no_progress: bool = False, as_json: bool = False) -> bool:
    """Whether a command shows progress: not with --no-progress (here or before the command) or --json."""
    ctx = click.get_current_context(silent=True)
    globally_off = bool(ctx is not None and ctx.meta.get(META_NO_PROGRESS))
    return not (no_progress or as_json or globally_off)


def messages(as_json: bool):
    """Where a command's informational lines go: stdout, or stderr when stdout carries JSON."""
    return (lambda text: click.echo(text, err=True)) if as_json else click.echo


# ---------------------------------------------------------------------- logging and --debug options

class _StderrHandler(logging.StreamHandler):
    """Writes to the *current* ``sys.stderr`` (which test runners and notebooks replace)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


class _HeldHandler(_StderrHandler):
    """Default verbosity: warnings (an instrument retry, a close that failed) are held until the command
    ends. After a result they are printed below it; after an error they are dropped, because the error's one
    line says what failed. ``-v`` streams them as they happen."""

    def __init__(self):
        super().__init__()
        self.held: list[logging.LogRecord] = []

    def emit(self, record):
        if record.levelno < logging.ERROR:  # an error is reported by the command's own line
            self.held.append(record)

    def flush_held(self, show: bool) -> None:
        records, self.held = self.held, []
        for record in records if show else ():
            super().emit(record)


def _cli_handlers():
    for name in (LOGGER_NAME, "py.warnings"):
        for handler in logging.getLogger(name).handlers:
            if getattr(handler, "_dorlab_cli", False):
                yield name, handler


def release_held_messages(show: bool) -> None:
    """Print (``show``) or drop the warnings held back during a command (see ``_HeldHandler``)."""
    for _, handler in _cli_handlers():
        if isinstance(handler, _HeldHandler):
            handler.flush_held(show)


def configure_logging(verbosity: int) -> None:
    """The ``dorlab`` loggers to stderr: -q errors only, default warnings (held to the end of the command),
    -v info, -vv debug."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(max(-1, min(verbosity, 2)),
                                                                           logging.DEBUG)
    for name, old in list(_cli_handlers()):
        logging.getLogger(name).removeHandler(old)
    handler = _HeldHandler() if verbosity <= 0 else _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler._dorlab_cli = True
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    logger.setLevel(level)
    # other libraries' warnings (pymeasure, pyvisa, numpy) only with -v: the user acts on dorlab's messages
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    warnings_logger.addHandler(handler)
    warnings_logger.setLevel(logging.WARNING if verbosity >= 1 else logging.CRITICAL)


def _set_verbosity(delta_sign: int):
    def callback(ctx, param, value):
        if value:
            ctx.meta[META_VERBOSITY] = ctx.meta.get(META_VERBOSITY, 0) + delta_sign * int(value)
            configure_logging(ctx.meta[META_VERBOSITY])
    return callback


def _set_meta(key: str):
    def callback(ctx, param, value):
        if value:
            ctx.meta[key] = True
    return callback


def common_params() -> list[click.Option]:
    """``-v``, ``-q``, ``--debug`` (added to the root group and to every command)."""
    return [
        click.Option(["-v", "--verbose"], count=True, expose_value=False, is_eager=True,
                     callback=_set_verbosity(+1), help="More log messages (-vv: debug)."),
        click.Option(["-q", "--quiet"], count=True, expose_value=False, is_eager=True,
                     callback=_set_verbosity(-1), help="Errors only."),
        click.Option(["--debug"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_set_meta(META_DEBUG), help="Show the traceback of an error."),
    ]


def global_params() -> list[click.Option]:
    """Root-only options (besides :func:`common_params`)."""
    return [click.Option(["--no-progress"], is_flag=True, expose_value=False, is_eager=True,
                         callback=_set_meta(META_NO_PROGRESS), help="No progress output from any command.")]


def with_common_params(command: click.Command) -> None:
    """Add :func:`common_params` to ``command`` and, for a group, to every command below it."""
    have = {name for p in command.params for name in p.opts}
    command.params.extend(p for p in common_params() if not set(p.opts) & have)
    for sub in getattr(command, "commands", {}).values():
        with_common_params(sub)


# ---------------------------------------------------------------------------------------- ranges

def frequency_range_options(default_from: float, default_to: float, default_points: int):
    """``--freq-from/--freq-to/--freq-points`` (the same names on ``phase-map`` and ``simulate phase-map``)."""
    def decorate(function):
        for decl, alias, kind, default, text in reversed((
                ("--freq-from", "--f-from", FREQUENCY, default_from, "First f_ac (Hz)."),
                ("--freq-to", "--f-to", FREQUENCY, default_to, "Last f_ac (Hz)."),
                ("--freq-points", "--f-points", POINTS, default_points, "f_ac rows."))):
            function = option(decl, type=kind, default=default, show_default=True, aliases=(alias,),
                              help=text)(function)
        return function
    return decorate


def bias_range_options(default_from: float, default_to: float, default_points: int,
                       points_aliases: tuple[str, ...] = ()):
    """``--bias-from/--bias-to/--bias-points`` (A)."""
    def decorate(function):
        function = option("--bias-points", type=POINTS, default=default_points, show_default=True,
                          aliases=points_aliases, help="I_dc points per row.")(function)
        function = click.option("--bias-to", type=CURRENT, default=default_to, show_default=True,
                                help="Last I_dc (A).")(function)
        return click.option("--bias-from", type=CURRENT, default=default_from, show_default=True,
                            help="First I_dc (A).")(function)
    return decorate


# ------------------------------------------------------------------------------------------ bench

def open_bench(bench_name: str, *, seed: int | None = None, sim_diode: str = "llgs",
               visa_library: str | None = None, device: str | None = None):
    """The bench a command runs on: ``sim``, ``sim-lockin``, ``sim-pool`` (fresh simulated benches, their
    diodes chosen by ``sim_diode``) or a bench name/file. The simulator-only options are refused for real benches."""
    from dorlab.procedures.errors import InvalidValue

    from dorlab.procedures.wiring import SIMULATED_BENCHES  # sim, sim-lockin, sim-pool

    if bench_name not in SIMULATED_BENCHES and sim_diode != "llgs":
        raise InvalidValue(f"--sim-diode {sim_diode} selects the diode of --bench sim; --bench is {bench_name!r}")
    if visa_library is None:  # THE way to open a bench (the simulator chosen only through the wiring)
        from dorlab.procedures.wiring import open_bench as open_wired

        return open_wired(bench_name, seed=seed, sim_diode=sim_diode, device=device)
    from dorlab.instruments.bench import open_bench as open_configured
    from dorlab.instruments.config import load_bench_config

    return open_configured(load_bench_config(bench_name), visa_library=visa_library, device=device)


def check_bench_device(bench_name: str, device: str) -> None:
    """The --device rule every command shares (``BenchConfig.device``): a bench that lists devices accepts
    only those (or any name, with a "*" entry, as the sim bench has)."""
    from dorlab.instruments.config import BenchConfigError, load_bench_config

    try:
        config = load_bench_config(bench_name)
    except BenchConfigError:
        return  # the bench file itself is reported when the bench is opened
    try:
        config.check_device(device)
    except BenchConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--device") from None
