"""Malformed input, fuzzed per class, gets the error code the instruments queue for that class
(SCPI-1999 vol. 2 ch. 21; IEEE 488.2 ch. 7): -102 syntax, -108 parameter not allowed, -109 missing
parameter, -113 undefined header, -221 settings conflict, -222 out of range, -224 illegal value,
-350 queue overflow, -363 input buffer overrun. Nothing malformed is executed or answered."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dorlab.simulator.instruments import create_instrument
from dorlab.simulator.phenomenological import PhenomenologicalDiode
from dorlab.simulator.world import Circuit, World

MODELS = ["keithley2450", "keithley2400", "keithley2182a", "agilent_e8257d", "keysight_n5183b",
          "rs_smb100a"]
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NO_PARAMETER = ["*IDN?", "*OPC", "*OPC?", "*RST", "*CLS", "*WAI", "*TRG", "*TST?", "*ESR?", "*STB?",
                "*OPT?", ":SYST:ERR?", ":SYSTem:ERRor:NEXT?", ":SYST:ERR:COUN?"]
# per model: a settable header with one parameter, a numeric one with its legal span, a choice
SETTINGS = {
    "keithley2450": (":SOUR:CURR:VLIM", (0.02, 210.0), ":SOUR:FUNC", ("CURR", "VOLT")),
    "keithley2400": (":SENS:VOLT:PROT", (-210.0, 210.0), ":SOUR:FUNC", ("CURR", "VOLT")),
    "keithley2182a": (":SENS:VOLT:NPLC", (0.01, 60.0), ":TRIG:SOUR",
                      ("IMM", "EXT", "TIM", "MAN", "BUS")),
    "agilent_e8257d": (":POW", (-135.0, 25.0), ":FREQ:MODE", ("CW", "FIX", "SWE", "LIST")),
    "keysight_n5183b": (":POW", (-130.0, 20.0), ":FREQ:MODE", ("CW", "FIX", "SWE", "LIST")),
    "rs_smb100a": (":POW", (-145.0, 18.0), ":FREQ:MODE", ("CW", "FIX", "SWE", "LIST")),
}


def instrument(model):
    world = World(seed=1)
    world.add_circuit("bench0", Circuit({"d": PhenomenologicalDiode()}))
    return create_instrument(model, world, world.circuits["bench0"])


def sent(model, message: str):
    target = instrument(model)
    target.receive(message.encode("ascii"))
    return target


def assert_only(target, code):
    assert [c for c, _ in target.errors] == [code], target.errors
    assert not target.output  # nothing malformed is answered


mnemonic = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8)
parameter = st.one_of(st.integers(-10**6, 10**6).map(str), mnemonic,
                      st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:g}"))


@FUZZ
@given(model=st.sampled_from(MODELS), header=st.sampled_from(NO_PARAMETER), value=parameter)
def test_a_parameter_where_none_is_allowed_is_108(model, header, value):
    assert_only(sent(model, f"{header} {value}"), -108)


@FUZZ
@given(model=st.sampled_from(MODELS), query=st.sampled_from(NO_PARAMETER[:1] + NO_PARAMETER[8:]),
       gap=st.sampled_from([";;", "; ;", ";  ;"]))
def test_an_empty_message_unit_is_102(model, query, gap):
    target = sent(model, f"*CLS{gap}{query}")
    assert [c for c, _ in target.errors] == [-102]
    assert not target.output  # the rest of the message is not executed after a command error


@FUZZ
@given(model=st.sampled_from(MODELS), word=mnemonic, digit=st.integers(0, 9),
       shape=st.sampled_from(["::", "digit", "quote", "colon-end"]))
def test_malformed_headers_and_strings_are_102(model, word, digit, shape):
    message = {"::": f":{word}::{word} 1", "digit": f":{digit}{word} 1",
               "quote": f":{word} 'unterminated", "colon-end": f":{word}: 1"}[shape]
    assert_only(sent(model, message), -102)


@FUZZ
@given(model=st.sampled_from(MODELS), word=mnemonic, query=st.booleans())
def test_an_unknown_header_is_113(model, word, query):
    header = f":XQZ{word}:{word}" + ("?" if query else " 1")
    assert_only(sent(model, header), -113)


@FUZZ
@given(model=st.sampled_from(MODELS))
def test_a_missing_parameter_is_109(model):
    header = SETTINGS[model][0]
    assert_only(sent(model, header), -109)


@FUZZ
@given(model=st.sampled_from(MODELS), excess=st.floats(1e-3, 1e6), above=st.booleans())
def test_a_number_outside_the_span_is_222(model, excess, above):
    header, (low, high), _, _ = SETTINGS[model]
    value = high + excess if above else low - excess
    target = sent(model, f"{header} {value:.6g}")
    assert_only(target, -222)


@FUZZ
@given(model=st.sampled_from(MODELS), word=mnemonic)
def test_an_illegal_choice_is_224(model, word):
    _, _, header, choices = SETTINGS[model]
    if any(word.startswith(c) or c.startswith(word) for c in choices) or word in (
            "CURRENT", "VOLTAGE", "FIXED", "SWEEP", "IMMEDIATE", "EXTERNAL", "TIMER", "MANUAL"):
        return  # a legal mnemonic (long or short form) is not malformed
    assert_only(sent(model, f"{header} {word}"), -224)


@pytest.mark.parametrize("model", ["agilent_e8257d", "keysight_n5183b", "rs_smb100a"])
def test_list_mode_without_a_list_is_a_settings_conflict_221(model):
    target = sent(model, ":FREQ:MODE LIST")
    assert_only(target, -221)
    target.receive(b"*CLS;:LIST:FREQ 1e9,2e9;:FREQ:MODE LIST;:FREQ:MODE?")
    assert not target.errors and bytes(target.output).strip() == b"LIST"


def test_a_sweep_of_the_other_source_function_is_221():
    assert_only(sent("keithley2450", ":SOUR:FUNC VOLT;:SOUR:SWE:CURR:LIN 0,1e-3,11"), -221)


@FUZZ
@given(model=st.sampled_from(MODELS), extra=st.integers(1, 20))
def test_queue_overflow_keeps_the_queue_full_with_350_last(model, extra):
    target = instrument(model)
    size = target.error_queue_size
    for _ in range(size + extra):
        target.receive(b":XQZ")
    codes = [c for c, _ in target.errors]
    assert len(codes) == size and codes[-1] == -350 and set(codes[:-1]) == {-113}


@FUZZ
@given(model=st.sampled_from(MODELS), extra=st.integers(1, 10_000))
def test_a_message_longer_than_the_input_buffer_is_discarded_with_363(model, extra):
    target = instrument(model)
    message = ":SYST:ERR:COUN?" + " " * (target.input_buffer_size + extra)
    target.receive(message.encode("ascii"))
    assert_only(target, -363)
    target.receive(b"*IDN?")  # and the instrument carries on
    assert bytes(target.output).startswith(target.identity.encode())


def test_a_message_that_fits_the_input_buffer_runs():
    target = instrument("keithley2450")
    target.receive((":SYST:ERR:COUN?" + " " * (target.input_buffer_size - 16)).encode())
    assert not target.errors and bytes(target.output) == b"0\n"
