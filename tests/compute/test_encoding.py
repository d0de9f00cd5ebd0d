import numpy as np
import pytest

from dorlab.compute.encoding import EncodingError, check_diode_input, encode


def test_sign_magnitude_round_trip_and_range():
    values = np.array([[-3.0, 0.0, 1.5], [2.0, -0.25, 3.0]])
    enc = encode(values)
    assert enc.scale == 3.0
    assert np.all((enc.magnitude >= 0) & (enc.magnitude <= 1))
    assert np.all((enc.diode_input >= -1) & (enc.diode_input <= 0))
    np.testing.assert_allclose(enc.decode(), values, rtol=0, atol=1e-15)
    assert enc.sign[0, 1] == 1.0 and enc.sign[0, 0] == -1.0 and enc.clipped == 0


def test_all_zero_tensor_gets_unit_scale():
    enc = encode(np.zeros(4))
    assert enc.scale == 1.0 and np.all(enc.magnitude == 0)


def test_explicit_scale_out_of_range_raises_naming_value():
    with pytest.raises(EncodingError, match=r"outside \[-2, 2\].*2\.5"):
        encode([1.0, 2.5], scale=2.0, name="W")


def test_clipping_only_when_asked_and_counted():
    enc = encode([1.0, 2.5, -7.0, np.inf], scale=2.0, clip=True)
    np.testing.assert_allclose(enc.decode(), [1.0, 2.0, -2.0, 2.0])
    assert enc.clipped == 3


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_raise(bad):
    with pytest.raises(EncodingError):
        encode([0.5, bad])


def test_nan_raises_even_with_clipping():
    with pytest.raises(EncodingError, match="NaN"):
        encode([0.5, np.nan], scale=1.0, clip=True)


@pytest.mark.parametrize("scale", [0.0, -1.0, np.nan])
def test_bad_scale(scale):
    with pytest.raises(EncodingError, match="scale"):
        encode([0.5], scale=scale)


def test_check_diode_input():
    np.testing.assert_array_equal(check_diode_input([-1.0, -0.5, 0.0]), [-1.0, -0.5, 0.0])
    with pytest.raises(EncodingError, match=r"\[-1, 0\]"):
        check_diode_input([-0.5, 0.1])
    with pytest.raises(EncodingError):
        check_diode_input([-1.0000001])
