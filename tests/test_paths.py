"""Record ids in paths: the core's checks (unit level) and the pipeline's last guard, over real HTTP."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.toy.server import ToyServer
from unified_sdk import Client
from unified_sdk.errors import ValidationError
from unified_sdk.provider import build_path, check_id
from unified_sdk.testing import HOSTILE_IDS


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_hostile_ids_are_refused_naming_the_field(hostile: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build_path("/v1/deals/{id}", id=hostile)
    assert caught.value.details["fields"] == ["id"]
    assert "nothing was sent" in (caught.value.hint or "")


def test_a_provider_pattern_is_a_full_match() -> None:
    assert check_id("12345", pattern=r"[0-9]+") == "12345"
    for bad in ("12a", "a12", "1 2"):
        with pytest.raises(ValidationError):
            check_id(bad, pattern=r"[0-9]+")


def test_the_error_does_not_echo_a_huge_id() -> None:
    with pytest.raises(ValidationError) as caught:
        check_id("x" * 10_000)
    assert len(str(caught.value)) < 400


@given(st.text(min_size=1, max_size=60))
def test_every_accepted_id_is_exactly_one_segment_that_decodes_back(value: str) -> None:
    try:
        path = build_path("/v1/deals/{id}", id=value)
    except ValidationError:
        return
    prefix = "/v1/deals/"
    assert path.startswith(prefix)
    encoded = path[len(prefix) :]
    assert "/" not in encoded and "?" not in encoded and "#" not in encoded
    assert encoded not in (".", "..")
    assert unquote(encoded) == value


def test_the_pipeline_refuses_a_dot_segment_an_adapter_forgot_to_encode(
    toy_server: ToyServer, toy_client: Client
) -> None:
    conn = toy_client.connections.create(
        provider="toy", credentials={"api_key": "k"}, config={"base_url": toy_server.url}
    )
    before = len(toy_server.received_requests)
    for path in ("/v1/deals/../contacts/1", "/v1/deals/%2e%2e/contacts", "/v1/./deals", "/v1/deals#x"):
        with pytest.raises(ValidationError) as caught:
            toy_client.passthrough.request(conn.id, "DELETE", path)
        assert caught.value.connection_id == conn.id and caught.value.provider == "toy"
    assert toy_server.received_requests[before:] == []
