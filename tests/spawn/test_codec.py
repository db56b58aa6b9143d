"""The codec: hardened msgpack with ext types, hard limits, and errors that say where."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spawn import Codec, DecodeError, EncodeError, ExtCodec, ExtRegistry, Limits

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=5).map(tuple)
        | st.dictionaries(st.text(max_size=5) | st.binary(max_size=5), inner, max_size=5)
    ),
    max_leaves=30,
)


@given(values)
def test_values_round_trip_exactly(value: Any) -> None:
    codec = Codec()
    decoded = codec.decode(codec.encode(value))
    assert decoded == value
    assert _shape(decoded) == _shape(value), "a tuple came back as a list, or the reverse"


def _shape(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return (type(value), [_shape(v) for v in value])
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value)


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 39**39, -(10**500), 2**64 - 1, -(2**63)])
def test_ints_of_any_size_round_trip(value: int) -> None:
    codec = Codec()
    assert codec.decode(codec.encode([value])) == [value]


def test_a_packer_that_raised_part_way_leaves_nothing_for_the_next_message() -> None:
    """Each thread reuses one msgpack packer: one that raised (an int past 64 bits,
    half way through a list) must not leave its partial output in the next message."""
    codec = Codec()
    assert codec.decode(codec.encode(["a" * 100, 2**70, "b"])) == ["a" * 100, 2**70, "b"]
    assert codec.decode(codec.encode([1, 2])) == [1, 2]


def test_threads_encode_at_once_without_mixing_their_messages() -> None:
    codec = Codec()

    def encode_many(tag: str) -> bool:
        value = [tag * 50, (tag, list(range(20)))]
        return all(codec.decode(codec.encode(value)) == value for _ in range(2000))

    with ThreadPoolExecutor(4) as threads:
        assert all(threads.map(encode_many, "abcd"))


def test_an_int_larger_than_the_string_limit_is_refused_at_the_sender() -> None:
    with pytest.raises(EncodeError, match="int of 13 bytes is over the limit of 12"):
        Codec(limits=Limits(string=12)).encode(2**100)


def test_a_tuple_round_trips_as_a_tuple() -> None:
    codec = Codec()
    assert codec.decode(codec.encode((1, [2, (3,)]))) == (1, [2, (3,)])
    assert type(codec.decode(codec.encode(((),)))) is tuple


def test_an_integer_map_key_is_refused_at_the_sender_naming_where() -> None:
    with pytest.raises(EncodeError, match=r"value\['outer'\]: map key 1 is an int;"):
        Codec().encode({"outer": {1: "a"}})


def test_an_integer_map_key_from_another_sender_is_refused_at_the_receiver() -> None:
    with pytest.raises(DecodeError, match="map key"):
        Codec().decode(msgpack.packb({1: "a"}))


def test_an_unknown_ext_code_is_refused() -> None:
    with pytest.raises(DecodeError, match="unknown ext code 99"):
        Codec().decode(msgpack.packb(msgpack.ExtType(99, msgpack.packb(1))))


def test_nesting_deeper_than_the_limit_is_refused_at_the_sender() -> None:
    deep: Any = 1
    for _ in range(10):
        deep = [deep]
    with pytest.raises(EncodeError, match="nesting deeper than the limit of 5"):
        Codec(limits=Limits(depth=5)).encode(deep)


def test_deep_nesting_on_the_wire_is_refused_without_recursion_error() -> None:
    with pytest.raises(DecodeError, match="nested too deeply"):
        Codec().decode(b"\x91" * 100_000 + b"\x00")
    deep_tuples = b"\x00"
    for _ in range(200):
        deep_tuples = msgpack.packb(msgpack.ExtType(0, b"\x91" + deep_tuples))
    with pytest.raises(DecodeError, match="nested deeper"):
        Codec().decode(deep_tuples)


def test_an_oversized_string_is_refused_at_both_ends() -> None:
    small = Codec(limits=Limits(string=10))
    with pytest.raises(EncodeError, match="str of length 11 is over the limit of 10"):
        small.encode(["x" * 11])
    with pytest.raises(DecodeError):
        small.decode(Codec().encode("x" * 11))


def test_an_oversized_message_is_refused_at_both_ends() -> None:
    small = Codec(limits=Limits(frame=100))
    with pytest.raises(EncodeError, match="over the frame limit"):
        small.encode(b"x" * 200)
    with pytest.raises(DecodeError, match="over the frame limit"):
        small.decode(Codec().encode(b"x" * 200))


def test_too_many_items_are_refused_at_both_ends() -> None:
    small = Codec(limits=Limits(container=3))
    with pytest.raises(EncodeError, match="4 items are over the limit of 3"):
        small.encode({"a": [1, 2, 3, 4]})
    with pytest.raises(DecodeError):
        small.decode(Codec().encode([1, 2, 3, 4]))


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        (lambda: 0, "by reference"),
        ({1, 2}, "list or tuple"),
        (object(), "not encodable"),
    ],
)
def test_unencodable_values_name_the_type(value: object, hint: str) -> None:
    with pytest.raises(EncodeError, match=hint):
        Codec().encode([value])


def test_malformed_and_truncated_bytes_are_decode_errors() -> None:
    codec = Codec()
    good = codec.encode({"a": [1, 2, 3]})
    with pytest.raises(DecodeError):
        codec.decode(good[:-1])
    with pytest.raises(DecodeError):
        codec.decode(good + b"\x01")
    with pytest.raises(DecodeError):
        codec.decode(b"\xc1")  # never used in msgpack


def test_registered_ext_types_round_trip_and_codes_are_unique() -> None:
    registry = ExtRegistry()
    registry.register(
        ExtCodec(40, Fraction, lambda f: (f.numerator, f.denominator), lambda w: Fraction(*w))
    )
    codec = Codec(registry=registry)
    assert codec.decode(codec.encode({"third": Fraction(1, 3)})) == {"third": Fraction(1, 3)}
    with pytest.raises(ValueError, match="already taken"):
        registry.register(ExtCodec(40, complex, lambda c: 0, lambda w: 0j))
    with pytest.raises(ValueError, match=r"2\.\.127"):
        registry.register(ExtCodec(0, complex, lambda c: 0, lambda w: 0j))
    with pytest.raises(DecodeError, match="unknown ext code 40"):
        Codec().decode(codec.encode(Fraction(1, 3)))


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match=r"Limits\.frame"):
        Limits(frame=0)
    with pytest.raises(ValueError, match="at most 500"):
        Limits(depth=501)
    with pytest.raises(AttributeError):
        Limits().frame = 5


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({1}, "a set is not encodable (send a list or tuple instead)"),
        (object(), "an object is not encodable"),
        (Fraction(1, 3), "a fractions.Fraction is not encodable"),
        (int, "a type is not encodable (a class cannot travel as a value)"),
        ({"k": {1: 2}}, "at ['k'], map key 1 is an int; map keys must be str or bytes"),
    ],
)
def test_an_error_names_what_the_value_was_and_says_a_or_an(value: object, reason: str) -> None:
    with pytest.raises(EncodeError) as info:
        Codec().encode(value, what="the result of work.make_result")
    assert str(info.value) == f"the result of work.make_result cannot be sent: {reason}"


def test_an_error_gives_the_path_below_the_named_value_and_can_be_renamed() -> None:
    """A sender that wrapped the user's value names it, and the envelope's indexes vanish."""
    envelope = [7, "work", "f", [[1, {"k": [{2}]}], {}]]
    with pytest.raises(EncodeError, match=r"^cannot encode value\[3\]\[0\]\[1\]") as info:
        Codec().encode(envelope)
    assert info.value.path == (3, 0, 1, "k", 0)
    assert info.value.reason.startswith("a set is not encodable")
    renamed = info.value.naming("the argument 2 of work.f", 3)
    assert isinstance(renamed, EncodeError)
    assert str(renamed) == (
        "the argument 2 of work.f cannot be sent: at ['k'][0], "
        "a set is not encodable (send a list or tuple instead)"
    )


def test_a_frame_limit_error_names_the_value_too() -> None:
    with pytest.raises(EncodeError, match=r"^the reply of C.handle_call cannot be sent: encoded"):
        Codec(limits=Limits(frame=100)).encode(b"x" * 200, what="the reply of C.handle_call")
