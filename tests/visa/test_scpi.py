"""The SCPI message processor: header forms, compound messages, the error queue, status."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from dorlab.simulator.scpi import (ERROR_QUEUE_SIZE, STANDARD_ERRORS, ScpiError, ScpiInstrument,
                                   Setting, command, parse_number)


class Toy(ScpiInstrument):
    identity = "dorlab,Toy,0,1"
    defaults = {"level": 0.0, "mode": "CURR", "on": False}
    settings = (
        Setting(":SOURce[1]:CURRent[:LEVel][:IMMediate]", "level", unit="A", minimum=-1.0,
                maximum=1.0),
        Setting(":SOURce[1]:FUNCtion[:MODE]", "mode", "choice", choices=("CURRent", "VOLTage")),
        Setting(":OUTPut[:STATe]", "on", "bool"),
    )

    @command(":SENSe:CHANnel<n>:VALue", query=True, write=False)
    def _value(self, params, suffixes, is_query):
        return str(suffixes[0])


def ask(instrument, message: str) -> str:
    instrument.receive(message.encode())
    reply = bytes(instrument.output).decode()
    instrument.output.clear()
    return reply


def errors(instrument) -> list[int]:
    codes = [code for code, _ in instrument.errors]
    instrument.errors.clear()
    return codes


@pytest.mark.parametrize("header", [":SOUR:CURR", ":SOURCE:CURRENT", ":sour:curr:lev",
                                    ":SOURce1:CURRent:LEVel:IMMediate", "SOUR:CURR:IMM",
                                    ":source1:current:level"])
def test_short_long_and_optional_forms_reach_one_setting(header):
    toy = Toy()
    toy.receive(f"{header} 0.25".encode())
    assert errors(toy) == []
    assert toy.state["level"] == 0.25
    assert ask(toy, f"{header}?") == "+2.500000E-01\n"


@pytest.mark.parametrize("header", [":SOURC:CURR", ":SOUR2:CURR", ":SOUR:CURRE", ":CURR:SOUR"])
def test_partial_mnemonics_and_wrong_suffixes_are_undefined_headers(header):
    toy = Toy()
    toy.receive(f"{header} 0.25".encode())
    assert errors(toy) == [-113]
    assert toy.state["level"] == 0.0


def test_numeric_suffix_is_captured():
    toy = Toy()
    assert ask(toy, ":SENS:CHAN2:VAL?") == "2\n"
    assert ask(toy, ":SENS:CHAN:VAL?") == "1\n"


def test_compound_message_with_path_rule_and_joined_replies():
    toy = Toy()
    # 'FUNC VOLT' after ':SOUR:CURR ...' is relative to :SOUR (SCPI path rule)
    reply = ask(toy, ":SOUR:CURR 0.5;FUNC VOLT;:OUTP ON;*IDN?;:SOUR:CURR?;:OUTP?")
    assert errors(toy) == []
    assert reply == "dorlab,Toy,0,1;+5.000000E-01;1\n"
    assert toy.state["mode"] == "VOLT"


def test_pymeasure_reset_string_with_colon_common_and_trailing_semicolon():
    toy = Toy()
    toy.receive(b"status:queue:clear;*RST;:stat:pres;:*CLS;")
    assert errors(toy) == []


@pytest.mark.parametrize("message, code", [
    (":SOUR:CURR 2", -222), (":SOUR:CURR abc", -104), (":SOUR:CURR 1 V", -131),
    (":SOUR:FUNC RES", -224), (":OUTP MAYBE", -224), (":SOUR:CURR", -109),
    (":SOUR:CURR 1,2", -108), (":SOUR:CURR 1,", -103), (":SOUR::CURR 1", -102),
    ("*IDN", -113), (":SOUR:CURR 'x", -102), ("\x01*IDN?", -101),
])
def test_bad_commands_queue_the_standard_code(message, code):
    toy = Toy()
    toy.receive(message.encode("latin-1"))
    assert errors(toy) == [code]
    assert not toy.output  # a failed command never answers


def test_units_and_keywords():
    assert parse_number("800 MHZ", "HZ") == 800e6
    assert parse_number("1.5GHz", "HZ") == 1.5e9
    assert parse_number("-19.3 dBm", "DBM") == -19.3
    assert parse_number("100 uA", "A") == pytest.approx(1e-4)
    assert parse_number("MAX", maximum=3.0) == 3.0
    with pytest.raises(ScpiError) as info:
        parse_number("1 MHZ", "A")
    assert info.value.code == -131


def test_min_max_keywords_in_a_setting():
    toy = Toy()
    toy.receive(b":SOUR:CURR MAX")
    assert toy.state["level"] == 1.0
    toy.receive(b":SOUR:CURR MIN")
    assert toy.state["level"] == -1.0


def test_error_queue_reads_out_in_order_then_no_error():
    toy = Toy()
    toy.receive(b":BAD1")
    toy.receive(b":SOUR:CURR 5")
    assert ask(toy, ":SYST:ERR?").startswith("-113,")
    assert ask(toy, ":SYSTem:ERRor:NEXT?").startswith("-222,")
    assert ask(toy, ":SYST:ERR?") == '0,"No error"\n'


def test_error_queue_overflow_replaces_last_entry():
    toy = Toy()
    for _ in range(ERROR_QUEUE_SIZE + 5):
        toy.receive(b":NOPE")
    codes = errors(toy)
    assert len(codes) == ERROR_QUEUE_SIZE
    assert codes[-1] == -350 and codes[0] == -113


def test_unread_response_is_interrupted_by_the_next_message():
    toy = Toy()
    toy.receive(b"*IDN?")
    toy.receive(b":OUTP ON")
    assert not toy.output
    assert errors(toy) == [-410]


def test_status_byte_and_event_register():
    toy = Toy()
    assert ask(toy, "*STB?") == "0\n"
    toy.receive(b":NOPE")
    assert int(ask(toy, "*STB?")) & 0x04  # error available
    assert int(ask(toy, "*ESR?")) & 0x20  # command error bit
    assert ask(toy, "*ESR?") == "0\n"  # reading clears it
    toy.receive(b"*CLS")
    assert toy.errors == []
    toy.receive(b"*ESE 32;*SRE 32;:NOPE")
    assert int(ask(toy, "*STB?")) & 0x60 == 0x60  # ESB and MSS
    assert ask(toy, "*OPC?") == "1\n"


def test_rst_restores_defaults_but_keeps_errors():
    toy = Toy()
    toy.receive(b":SOUR:CURR 0.3;:NOPE")
    toy.receive(b"*RST")
    assert toy.state["level"] == 0.0
    assert errors(toy) == [-113]


KNOWN_CODES = set(STANDARD_ERRORS)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_never_crash_and_only_produce_standard_errors(data):
    toy = Toy()
    toy.receive(data)
    assert {code for code, _ in toy.errors} <= KNOWN_CODES
    assert all(isinstance(text, str) for _, text in toy.errors)


scpi_tokens = st.sampled_from([":SOUR", ":CURR", "SOUR", ":LEV", "?", " ", "1", "-2e-3", ",",
                               ";", "*IDN?", "*RST", ":OUTP", "ON", "'VOLT'", '"x"', ":", "MAX",
                               "MHZ", "(@1!2)", "\t", ":SENS:CHAN3:VAL?", "*STB?", "FUNC"])


@settings(max_examples=400, deadline=None)
@given(st.lists(scpi_tokens, max_size=12).map("".join))
def test_scpi_like_garbage_never_crashes(message):
    toy = Toy()
    toy.receive(message.encode())
    assert {code for code, _ in toy.errors} <= KNOWN_CODES
    reply = bytes(toy.output)
    assert reply == b"" or reply.endswith(b"\n")


# --- every command of every model, with hostile parameters ------------------------------------

from dorlab.simulator.instruments import _registry, create_instrument  # noqa: E402
from dorlab.simulator.phenomenological import PhenomenologicalDiode  # noqa: E402
from dorlab.simulator.world import Circuit, World  # noqa: E402

PARAMETERS = ["", "1", "-1", "0", "2", "1e9", "-1e-12", "1e-4", "MAX", "MIN", "DEF", "ON", "OFF",
              "'VOLT'", '"CURR"', "'VOLT:DC'", "1 MHZ", "5 dBm", "abc", "1,2", "1, 5", "(@1!1)",
              "(@1!9)", "9e999", "INF", "NAN", "-0", "60", "0.01", "'defbuffer1'"]


def render(nodes, data) -> str:
    parts = []
    for node in nodes:
        if node.optional and data.draw(st.booleans()):
            continue
        name = data.draw(st.sampled_from([node.short, node.long, node.long.lower()]))
        if node.suffix == "n":
            name += data.draw(st.sampled_from(["", "1", "2", "3"]))
        elif node.suffix == "1":
            name += data.draw(st.sampled_from(["", "1"]))
        parts.append(name)
    if parts and parts[0].startswith("*"):
        return parts[0]
    return ":" + ":".join(parts)


@pytest.mark.parametrize("model", sorted(set(_registry()) - {"keithley2182"}))
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_every_command_of_every_model_survives_hostile_parameters(model, data):
    world = World(seed=0)
    world.add_circuit("bench0", Circuit({"a": PhenomenologicalDiode(), "b": PhenomenologicalDiode()},
                                        selected="a"))
    instrument = create_instrument(model, world, world.circuits["bench0"])
    for _ in range(4):
        command_ = data.draw(st.sampled_from(instrument._command_table))
        header = render(command_.nodes, data)
        if data.draw(st.booleans()):
            message = header + "?"
        else:
            message = f"{header} {data.draw(st.sampled_from(PARAMETERS))}".rstrip()
        instrument.receive(message.encode())  # must never raise
        instrument.output.clear()
    assert {code for code, _ in instrument.errors} <= KNOWN_CODES | {803, 5005}
