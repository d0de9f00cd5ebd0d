"""A small SCPI (IEEE 488.2 / SCPI-1999) message processor for the simulated instruments.

What a lab's drivers rely on, and nothing more: program headers with short and long forms
(``SOUR`` / ``SOURce``), optional nodes (``[:LEVel]``), numeric suffixes (``CHANnel<n>``),
compound messages separated by ``;`` with the SCPI path rule, common commands (``*IDN?``...),
the error/event queue with the standard codes, the status byte and the standard event register.

Instruments subclass :class:`ScpiInstrument` and declare their commands with :func:`command`
(a method handling the set and/or query form of one header pattern) or :class:`Setting`
(a stored, validated parameter with a query form). Parsing of a given header string is cached,
so a repeated command costs one dict lookup.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

STANDARD_ERRORS: dict[int, str] = {
    0: "No error",
    -100: "Command error",
    -101: "Invalid character",
    -102: "Syntax error",
    -103: "Invalid separator",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -114: "Header suffix out of range",
    -131: "Invalid suffix",
    -200: "Execution error",
    -221: "Settings conflict",
    -222: "Data out of range",
    -224: "Illegal parameter value",
    -230: "Data corrupt or stale",
    -350: "Queue overflow",
    -363: "Input buffer overrun",
    -410: "Query INTERRUPTED",
    -420: "Query UNTERMINATED",
}

ERROR_QUEUE_SIZE = 10  # the default; a model sets ``error_queue_size`` from its manual
INPUT_BUFFER_SIZE = 2048  # bytes of one program message; a model sets ``input_buffer_size``

# Standard event status register bits (IEEE 488.2, 11.5.1)
ESR_OPC, ESR_QYE, ESR_DDE, ESR_EXE, ESR_CME = 0x01, 0x04, 0x08, 0x10, 0x20
# Status byte bits
STB_EAV, STB_MAV, STB_ESB, STB_MSS = 0x04, 0x10, 0x20, 0x40


class ScpiError(Exception):
    """An error an instrument puts in its queue (code per SCPI-1999 vol. 2, ch. 21)."""

    def __init__(self, code: int, detail: str = ""):
        self.code = code
        base = STANDARD_ERRORS.get(code, "Device-specific error")
        self.text = f"{base}; {detail}" if detail else base
        super().__init__(f"{code},\"{self.text}\"")


# ---------------------------------------------------------------------------------------------
# header patterns


@dataclass(frozen=True)
class _Node:
    short: str
    long: str
    optional: bool
    suffix: str  # "" no suffix, "1" optional suffix 1 only, "n" captured suffix (default 1)

    def accepts(self, mnemonic: str, digits: str) -> bool:
        if mnemonic != self.short and mnemonic != self.long:
            return False
        if not digits:
            return True
        if self.suffix == "n":
            return True
        if self.suffix == "1":
            return digits == "1"
        return False


_PATTERN_NODE = re.compile(r"(\[)?:?([A-Za-z*]+)(\[1\]|<n>)?(\])?")


def _compile_pattern(pattern: str) -> tuple[_Node, ...]:
    """``":SOURce[1]:CURRent[:LEVel]"`` -> nodes; uppercase letters form the short form."""
    nodes = []
    body = pattern.lstrip(":")
    # tokens are ':NAME', '[:NAME]', 'NAME<n>', 'NAME[1]'
    for match in re.finditer(r"\[:([A-Za-z]+)(\[1\]|<n>)?\]|:?([A-Za-z*?]+)(\[1\]|<n>)?", body):
        if match.group(1):
            name, spec, optional = match.group(1), match.group(2), True
        else:
            name, spec, optional = match.group(3), match.group(4), False
        short = "".join(c for c in name if c.isupper() or c == "*") or name.upper()
        suffix = {None: "", "[1]": "1", "<n>": "n"}[spec]
        nodes.append(_Node(short.upper(), name.upper(), optional, suffix))
    return tuple(nodes)


def _match(nodes: Sequence[_Node], parts: Sequence[tuple[str, str]]) -> list[int] | None:
    """Match input header parts against pattern nodes; returns captured suffixes or None."""

    def walk(i: int, j: int) -> list[int] | None:
        if j == len(parts):
            if all(node.optional for node in nodes[i:]):
                return [1 for node in nodes[i:] if node.suffix == "n"]
            return None
        if i == len(nodes):
            return None
        node = nodes[i]
        mnemonic, digits = parts[j]
        if node.accepts(mnemonic, digits):
            rest = walk(i + 1, j + 1)
            if rest is not None:
                return ([int(digits) if digits else 1] if node.suffix == "n" else []) + rest
        if node.optional:
            rest = walk(i + 1, j)
            if rest is not None:
                return ([1] if node.suffix == "n" else []) + rest
        return None

    return walk(0, 0)


_MNEMONIC = re.compile(r"^([A-Z][A-Z_]*?)([0-9]*)$")
_HEADER = re.compile(r"^:?[A-Za-z][A-Za-z0-9_]*(:[A-Za-z][A-Za-z0-9_]*)*\??$")
_COMMON = re.compile(r"^:?\*[A-Za-z]+\??$")
_INVALID_CHARACTER = re.compile(r"[^\t\x20-\x7e]")


# ---------------------------------------------------------------------------------------------
# parameters


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


_UNIT_SCALES: dict[str, dict[str, float]] = {
    "HZ": {"HZ": 1.0, "KHZ": 1e3, "MHZ": 1e6, "MAHZ": 1e6, "GHZ": 1e9},
    "DBM": {"DBM": 1.0},
    "V": {"V": 1.0, "MV": 1e-3, "UV": 1e-6, "NV": 1e-9, "KV": 1e3, "VP": 1.0, "VPP": 1.0},
    "A": {"A": 1.0, "MA": 1e-3, "UA": 1e-6, "NA": 1e-9, "PA": 1e-12},
    "S": {"S": 1.0, "MS": 1e-3, "US": 1e-6, "NS": 1e-9},
    "OHM": {"OHM": 1.0, "KOHM": 1e3, "MOHM": 1e6},
    "PCT": {"PCT": 1.0},
    "DEG": {"DEG": 1.0, "RAD": 57.29577951308232},
}

_NUMBER = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z%]*)\s*$")


def parse_number(text: str, unit: str | None = None, *, minimum: float | None = None,
                 maximum: float | None = None, default: float | None = None) -> float:
    """A SCPI <NRf> with an optional unit suffix and the MIN/MAX/DEF keywords."""
    token = text.strip().upper()
    keywords = {"MIN": minimum, "MINIMUM": minimum, "MAX": maximum, "MAXIMUM": maximum,
                "DEF": default, "DEFAULT": default}
    if token in keywords:
        value = keywords[token]
        if value is None:
            raise ScpiError(-224, f"{token} not allowed here")
        return float(value)
    match = _NUMBER.match(token)
    if not match:
        raise ScpiError(-104, f"expected a number, got {text.strip()[:20]!r}")
    value = float(match.group(1))
    if not math.isfinite(value):
        raise ScpiError(-222, f"{text.strip()[:20]!r} is not a finite number")
    suffix = match.group(2)
    if suffix:
        scales = _UNIT_SCALES.get(unit or "", {})
        if suffix not in scales:
            raise ScpiError(-131, f"{suffix!r}")
        value *= scales[suffix]
    return value


def parse_bool(text: str) -> bool:
    token = text.strip().upper()
    if token in ("ON", "1"):
        return True
    if token in ("OFF", "0"):
        return False
    try:
        return round(float(token)) != 0
    except ValueError:
        raise ScpiError(-224, f"expected ON|OFF|1|0, got {text.strip()[:20]!r}") from None


def parse_choice(text: str, choices: Iterable[str]) -> str:
    """Match character data (or a quoted string) against mnemonics like ``"CURRent"``;
    returns the choice's short form."""
    token = _unquote(text).upper().replace(" ", "")
    for choice in choices:
        long = choice.upper()
        short = "".join(c for c in choice if not c.islower()).upper()
        if token in (long, short):
            return short
    raise ScpiError(-224, f"{text.strip()[:20]!r}")


def format_number(value: float) -> str:
    """Instrument-style number: ``+1.234560E-03``."""
    return f"{value:+.6E}"


# ---------------------------------------------------------------------------------------------
# command declarations


@dataclass
class Command:
    """One header pattern and its handlers, each ``handler(instrument, params, suffixes, is_query)``."""

    pattern: str
    on_set: Callable[..., None] | None = None
    on_query: Callable[..., str] | None = None
    set_params: int | None = None  # most parameters the set form takes (None: handler checks)
    query_params: int | None = 0  # most parameters the query form takes (None: handler checks)

    def __post_init__(self):
        self.nodes = _compile_pattern(self.pattern)


def command(pattern: str, *, query: bool = False, write: bool = True,
            set_params: int | None = None, query_params: int | None = 0):
    """Decorator: the method handles ``pattern`` (set form if ``write``, query form if
    ``query``). Signature ``method(self, params: list[str], suffixes: list[int], is_query)``.

    ``query_params``: the most parameters the query form takes (default 0: a parameter after
    e.g. ``*IDN?`` is -108 "Parameter not allowed" before the handler runs; ``None``: the handler
    checks). ``set_params`` likewise for the set form (default ``None``: the handler checks)."""

    def decorate(function):
        function._scpi = (pattern, write, query, set_params, query_params)
        return function

    return decorate


class Setting:
    """A stored instrument parameter behind one header: set validates and stores into
    ``instrument.state[key]``, the query returns it formatted.

    kind: "number" (with unit, limits and an optional ``check(instrument, value)``), "bool",
    "choice" (mnemonics such as ``"CURRent"``), "string" (quoted string kept as-is),
    "int" (numbers rounded to int).
    """

    def __init__(self, pattern: str, key: str, kind: str = "number", *, unit: str | None = None,
                 minimum: float | None = None, maximum: float | None = None,
                 choices: Sequence[str] = (), query: bool = True, writable: bool = True,
                 check: Callable[[Any, Any], None] | None = None,
                 on_change: Callable[[Any], None] | None = None,
                 fmt: Callable[[Any], str] | None = None):
        self.pattern, self.key, self.kind = pattern, key, kind
        self.unit, self.minimum, self.maximum = unit, minimum, maximum
        self.choices, self.query, self.writable = tuple(choices), query, writable
        self.check, self.on_change, self.fmt = check, on_change, fmt

    def limits(self, instrument) -> tuple[float | None, float | None]:
        """(minimum, maximum); either may be a function of the instrument (installed options)."""
        low, high = self.minimum, self.maximum
        return (low(instrument) if callable(low) else low,
                high(instrument) if callable(high) else high)

    def parse(self, instrument, text: str):
        if self.kind in ("number", "int"):
            minimum, maximum = self.limits(instrument)
            value = parse_number(text, self.unit, minimum=minimum, maximum=maximum,
                                 default=instrument.defaults.get(self.key))
            if (minimum is not None and value < minimum) or (
                    maximum is not None and value > maximum):
                low = "-inf" if minimum is None else f"{minimum:g}"
                high = "inf" if maximum is None else f"{maximum:g}"
                raise ScpiError(-222, f"{value:g} outside [{low}, {high}]")
            return int(round(value)) if self.kind == "int" else value
        if self.kind == "bool":
            return parse_bool(text)
        if self.kind == "choice":
            return parse_choice(text, self.choices)
        if self.kind == "string":
            return _unquote(text)
        raise TypeError(self.kind)

    def format(self, value) -> str:
        if self.fmt is not None:
            return self.fmt(value)
        if self.kind == "number":
            return format_number(value)
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "int":
            return str(int(value))
        if self.kind == "string":
            return f'"{value}"'
        return str(value)

    def handlers(self):
        setting = self

        def on_set(instrument, params, suffixes, is_query=False):
            if len(params) != 1:
                raise ScpiError(-109 if not params else -108)
            value = setting.parse(instrument, params[0])
            if setting.check is not None:
                setting.check(instrument, value)
            instrument.state[setting.key] = value
            if setting.on_change is not None:
                setting.on_change(instrument)

        def on_query(instrument, params, suffixes, is_query=True):
            if params:
                # <header>? MINimum|MAXimum|DEFault (SCPI-1999 vol. 1, 7.2.1.1) on numbers
                if len(params) > 1 or setting.kind not in ("number", "int"):
                    raise ScpiError(-108)
                minimum, maximum = setting.limits(instrument)
                value = parse_number(params[0], setting.unit, minimum=minimum, maximum=maximum,
                                     default=type(instrument).defaults.get(setting.key))
                if params[0].strip().upper() not in ("MIN", "MINIMUM", "MAX", "MAXIMUM", "DEF",
                                                     "DEFAULT"):
                    raise ScpiError(-224, f"{params[0].strip()[:20]!r}: MIN|MAX|DEF expected")
                return setting.format(int(round(value)) if setting.kind == "int" else value)
            return setting.format(instrument.state[setting.key])

        return (on_set if self.writable else None), (on_query if self.query else None)


# ---------------------------------------------------------------------------------------------
# the instrument base


class ScpiInstrument:
    """A message-based instrument: input messages in, response bytes out, error queue.

    Subclasses set ``identity`` (the ``*IDN?`` string), ``reply_terminator``, ``defaults``
    (the ``*RST`` state) and declare commands. ``state`` holds the present settings.
    """

    identity = "dorlab,Generic SCPI instrument,0,1.0"
    reply_terminator = "\n"
    # the ``*OPT?`` reply: installed options as the instrument lists them ("0": none)
    options = "0"
    error_queue_size = ERROR_QUEUE_SIZE
    input_buffer_size = INPUT_BUFFER_SIZE
    defaults: dict[str, Any] = {}
    settings: Sequence[Setting] = ()

    _command_table: list[Command]
    _cache: dict[str, tuple[Command, list[int]] | None]
    _plans: dict[str, list]
    _messages: dict[bytes, tuple]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        table: dict[str, Command] = {}
        for klass in reversed(cls.__mro__):
            for setting in klass.__dict__.get("settings", ()):
                on_set, on_query = setting.handlers()
                table[setting.pattern.upper()] = Command(setting.pattern, on_set, on_query, 1, 1)
            for attribute in klass.__dict__.values():
                spec = getattr(attribute, "_scpi", None)
                if spec is None:
                    continue
                pattern, write, query, set_params, query_params = spec
                entry = table.get(pattern.upper())
                entry = Command(pattern) if entry is None else Command(
                    entry.pattern, entry.on_set, entry.on_query, entry.set_params,
                    entry.query_params)
                if write:
                    entry.on_set = attribute
                    entry.set_params = set_params
                if query:
                    entry.on_query = attribute
                    entry.query_params = query_params
                table[pattern.upper()] = entry
        cls._command_table = list(table.values())
        cls._cache = {}
        cls._plans = {}
        cls._messages = {}

    def __init__(self):
        self.state: dict[str, Any] = {}
        self.errors: list[tuple[int, str]] = []
        self.output = bytearray()
        self.esr = 0
        self.ese = 0
        self.sre = 0
        self.reset()

    # -- state --------------------------------------------------------------------------------
    def reset(self) -> None:
        """``*RST``: settings to their defaults (the error queue is untouched)."""
        self.state = dict(self.defaults)

    def push_error(self, code: int, text: str | None = None) -> None:
        text = text if text is not None else STANDARD_ERRORS.get(code, "Device-specific error")
        if len(self.errors) >= self.error_queue_size:
            self.errors[-1] = (-350, STANDARD_ERRORS[-350])
        else:
            self.errors.append((code, text))
        if -199 <= code <= -100:
            self.esr |= ESR_CME
        elif -299 <= code <= -200:
            self.esr |= ESR_EXE
        elif -499 <= code <= -400:
            self.esr |= ESR_QYE
        else:
            self.esr |= ESR_DDE

    def status_byte(self) -> int:
        stb = 0
        if self.errors:
            stb |= STB_EAV
        if self.output:
            stb |= STB_MAV
        if self.esr & self.ese:
            stb |= STB_ESB
        stb |= self.summary_bits()
        if stb & self.sre & ~STB_MSS:
            stb |= STB_MSS
        return stb

    def summary_bits(self) -> int:
        """Model-specific status byte bits (measurement / operation summaries)."""
        return 0

    # -- message processing -------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        """A complete program message arrived (END or newline seen)."""
        if self.output:
            # IEEE 488.2 6.3.2.3: a new message before the response was read
            self.output.clear()
            self.push_error(-410)
        if len(data) > self.input_buffer_size:
            # the parser never sees a message longer than the input buffer: it is discarded
            self.push_error(-363, f"message of {len(data)} bytes, input buffer "
                                  f"{self.input_buffer_size} bytes")
            return
        if data.__class__ is not bytes:
            data = bytes(data)
        # a message seen before (a reading loop) runs its cached plans: no decoding or splitting
        cached = type(self)._messages.get(data)
        if cached is not None and cached[1] is not None:
            # one query and nothing else (":READ?"): its handler, straight
            handler, params, suffixes = cached[1]
            try:
                reply = handler(self, params, suffixes, True)
            except _REFUSALS as error:
                self._refuse(error)
                return
            if reply is not None:
                self.output += (reply + self.reply_terminator).encode("ascii")
            return
        replies: list[str] = []
        if cached is not None:
            for plan in cached[0]:
                self._run_plan(plan, replies)
        else:
            self._receive_new(data, replies)
        if replies:
            reply = replies[0] if len(replies) == 1 else ";".join(replies)
            self.output += (reply + self.reply_terminator).encode("ascii")

    def _receive_new(self, data: bytes, replies: list[str]) -> None:
        """Decode, split into lines and run a message not in the cache; cache its plans if every
        line parsed (one that did not queued its error, which a repeat must queue again)."""
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            self.push_error(-101, "non-ASCII byte in program message")
            return
        plans = []
        for line in text.replace("\r", "\n").split("\n"):
            if line.strip():
                plan = self._line_plan(line)
                if plan is None:
                    plans = None  # a parse error: queued, nothing of the line ran
                    continue
                if plans is not None:
                    plans.append(plan)
                self._run_plan(plan, replies)
        messages = type(self)._messages
        if plans is not None and len(messages) < 4096:
            single = plans[0][0] if len(plans) == 1 and len(plans[0]) == 1 else None
            query = (single[:3] if single is not None and single.__class__ is tuple and single[3]
                     else None)
            messages[data] = (tuple(plans), query)

    def _execute_message(self, message: str, replies: list[str]) -> None:
        plan = self._line_plan(message)
        if plan is not None:
            self._run_plan(plan, replies)

    def _line_plan(self, message: str) -> list | None:
        plans = type(self)._plans
        plan = plans.get(message)
        if plan is None:
            plan = self._plan(message)
            if plan is None:
                return None  # a parse error: queued, nothing of the message ran
            if len(plans) < 4096:
                plans[message] = plan
        return plan

    def _run_plan(self, plan: list, replies: list[str]) -> None:
        for step in plan:
            if step.__class__ is not tuple:  # the ScpiError of a unit that does not parse
                self.push_error(step.code, step.text)
                if -199 <= step.code <= -100:
                    return  # the rest of the message is not executed after a command error
                continue
            handler, params, suffixes, is_query = step
            try:
                reply = handler(self, params, suffixes, is_query)
            except _REFUSALS as error:
                if self._refuse(error):
                    return
                continue
            if is_query and reply is not None:
                replies.append(reply)

    def _refuse(self, error: Exception) -> bool:
        """Queue the error a handler raised; True for a command error (-1xx), after which the
        rest of the message does not run."""
        if error.__class__ is ScpiError or isinstance(error, ScpiError):
            self.push_error(error.code, error.text)
            return -199 <= error.code <= -100
        # a model's handler met a parameter it cannot use: the instrument refuses it (a real one
        # never crashes on input); keep the reason in the error text
        self.push_error(-224, f"{type(error).__name__}: {error}"[:80])
        return False

    def _plan(self, message: str) -> list | None:
        """A program message parsed into (handler, params, suffixes, is_query) per unit, or the
        ScpiError of a unit that does not parse (kept in place: the units before it run). Parsing
        depends on the message alone, so a plan is cached per model class: a repeated message
        (a reading loop) costs one dict lookup before its handlers run."""
        if _INVALID_CHARACTER.search(message):
            self.push_error(-101)
            return None
        path: list[str] = []
        units = _split_units(message)
        if len(units) > 1 and not units[-1].strip():
            units.pop()  # a ';' before the terminator ends the last unit (tolerated)
        plan: list = []
        for unit in units:
            unit = unit.strip()
            try:
                if not unit:
                    raise ScpiError(-102, "empty message unit between ';'")
                header, params = _split_header(unit)
                step, path = self._resolve_unit(header, params, path)
            except ScpiError as error:
                plan.append(error)
                if -199 <= error.code <= -100:
                    break
                continue
            plan.append(step)
        return plan

    def _resolve_unit(self, header: str, params: list[str], path: list[str]):
        is_common = _COMMON.match(header) is not None
        if not is_common and not _HEADER.match(header):
            raise ScpiError(-102, f"header {header[:20]!r}")
        is_query = header.endswith("?")
        bare = header[:-1] if is_query else header
        if is_common:
            key = bare.lstrip(":").upper()
            new_path = path
        else:
            parts = bare.upper().split(":")
            if bare.startswith(":"):
                parts = parts[1:]
            elif path:
                parts = path + parts
            key = ":".join(parts)
            new_path = parts[:-1]
        entry = self._lookup(key)
        if entry is None:
            raise ScpiError(-113, f"{header[:40]}")
        cmd, suffixes = entry
        handler = cmd.on_query if is_query else cmd.on_set
        if handler is None:
            raise ScpiError(-113, f"{header[:40]} has no {'query' if is_query else 'set'} form")
        most = cmd.query_params if is_query else cmd.set_params
        if most is not None and len(params) > most:
            raise ScpiError(-108, f"{header[:40]} takes {most} parameter(s), got {len(params)}")
        return (handler, tuple(params), suffixes, is_query), new_path

    def _lookup(self, key: str):
        cache = type(self)._cache
        try:
            return cache[key]
        except KeyError:
            pass
        parts = []
        for mnemonic in key.split(":"):
            match = _MNEMONIC.match(mnemonic) if not mnemonic.startswith("*") else None
            if mnemonic.startswith("*"):
                parts.append((mnemonic, ""))
            elif match:
                parts.append((match.group(1), match.group(2)))
            else:
                parts = None
                break
        found = None
        if parts:
            for cmd in self._command_table:
                suffixes = _match(cmd.nodes, parts)
                if suffixes is not None:
                    found = (cmd, suffixes)
                    break
        if len(cache) < 4096:
            cache[key] = found
        return found

    def read_output(self, count: int) -> tuple[bytes, bool]:
        """Up to ``count`` bytes of the response; True when the message end was sent."""
        chunk = bytes(self.output[:count])
        del self.output[:count]
        return chunk, not self.output

    # -- common commands ----------------------------------------------------------------------
    @command("*IDN", query=True, write=False)
    def _idn(self, params, suffixes, is_query):
        return self.identity

    @command("*RST", set_params=0)
    def _rst(self, params, suffixes, is_query):
        self.reset()

    @command("*CLS", set_params=0)
    def _cls(self, params, suffixes, is_query):
        self.errors.clear()
        self.esr = 0
        self.clear_status()

    def clear_status(self) -> None:
        """Model-specific event registers cleared by ``*CLS``."""

    @command("*OPC", query=True, set_params=0)
    def _opc(self, params, suffixes, is_query):
        if is_query:
            return "1"
        self.esr |= ESR_OPC

    @command("*WAI", set_params=0)
    def _wai(self, params, suffixes, is_query):
        pass

    @command("*TRG", set_params=0)
    def _trg(self, params, suffixes, is_query):
        pass

    @command("*TST", query=True, write=False)
    def _tst(self, params, suffixes, is_query):
        return "0"

    @command("*ESR", query=True, write=False)
    def _esr(self, params, suffixes, is_query):
        value, self.esr = self.esr, 0
        return str(value)

    @command("*ESE", query=True, set_params=1)
    def _ese(self, params, suffixes, is_query):
        if is_query:
            return str(self.ese)
        self.ese = int(_int_param(params, 0, 255))

    @command("*SRE", query=True, set_params=1)
    def _sre(self, params, suffixes, is_query):
        if is_query:
            return str(self.sre)
        self.sre = int(_int_param(params, 0, 255))

    @command("*STB", query=True, write=False)
    def _stb(self, params, suffixes, is_query):
        return str(self.status_byte())

    @command("*OPT", query=True, write=False)
    def _opt(self, params, suffixes, is_query):
        return self.options

    @command(":SYSTem:ERRor[:NEXT]", query=True, write=False)
    def _syst_err(self, params, suffixes, is_query):
        if not self.errors:
            return '0,"No error"'
        code, text = self.errors.pop(0)
        return f'{code},"{text}"'

    @command(":SYSTem:ERRor:COUNt", query=True, write=False)
    def _syst_err_count(self, params, suffixes, is_query):
        return str(len(self.errors))

    @command(":SYSTem:ERRor:CLEar", set_params=0)
    def _syst_err_clear(self, params, suffixes, is_query):
        self.errors.clear()

    @command(":SYSTem:VERSion", query=True, write=False)
    def _syst_vers(self, params, suffixes, is_query):
        return "1999.0"

    @command(":STATus:PRESet", set_params=0)
    def _stat_pres(self, params, suffixes, is_query):
        self.clear_status()

    @command(":STATus:QUEue:CLEar", set_params=0)
    def _stat_que_clear(self, params, suffixes, is_query):
        self.errors.clear()

    @command(":STATus:QUEue[:NEXT]", query=True, write=False)
    def _stat_que_next(self, params, suffixes, is_query):
        return self._syst_err(params, suffixes, True)


# what a handler may raise on a parameter it cannot use: queued as an instrument error
_REFUSALS = (ScpiError, ValueError, ArithmeticError, IndexError, KeyError)


def _int_param(params: list[str], minimum: int, maximum: int) -> int:
    if len(params) != 1:
        raise ScpiError(-109 if not params else -108)
    value = parse_number(params[0], minimum=minimum, maximum=maximum)
    if not minimum <= value <= maximum:
        raise ScpiError(-222, f"{value:g} outside [{minimum}, {maximum}]")
    return int(round(value))


def _split_outside(text: str, separator: str) -> list[str]:
    """Split ``text`` at ``separator`` where it stands outside quotes and parentheses (an unterminated
    quote runs to the end: the caller reports it)."""
    if '"' not in text and "'" not in text and "(" not in text:
        return text.split(separator)
    parts, current, quote, depth = [], [], "", 0
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _split_units(message: str) -> list[str]:
    """Split a program message at ``;`` outside quotes and parentheses."""
    return _split_outside(message, ";")


def _split_header(unit: str) -> tuple[str, list[str]]:
    """``':SOUR:CURR 1e-3'`` -> (':SOUR:CURR', ['1e-3'])."""
    pieces = unit.split(None, 1)
    header = pieces[0]
    if len(pieces) == 1:
        return header, []
    text = pieces[1].strip()
    if text.count('"') % 2 or text.count("'") % 2:
        raise ScpiError(-102, "unterminated string")
    params = [p.strip() for p in _split_outside(text, ",")]
    if any(p == "" for p in params):
        raise ScpiError(-103, "empty parameter")
    return header, params
