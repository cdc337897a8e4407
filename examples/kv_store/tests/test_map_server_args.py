"""MapServer's client API says how to call it when the arguments are wrong (no node needed)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kv_store.map_server import MapServer

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    "call, args, forms",
    [
        (MapServer.put, ("a",), "put(k, v) or put(node, k, v)"),
        (MapServer.put, (), "put(k, v) or put(node, k, v)"),
        (MapServer.put, ("n@h", "a", 1, 2), "put(k, v) or put(node, k, v)"),
        (MapServer.get, (), "get(k) or get(node, k)"),
        (MapServer.get, ("n@h", "a", "b"), "get(k) or get(node, k)"),
    ],
)
def test_wrong_number_of_arguments_is_a_type_error_naming_the_forms(call, args, forms):
    with pytest.raises(TypeError) as err:
        call(*args)
    assert f"MapServer.{forms}; got {len(args)} argument" in str(err.value)
