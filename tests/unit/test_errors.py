"""The status → error table, the messages built from B2B and V2 error bodies, the attributes
every error keeps (status, method, URL, request id, bounded body excerpt), and DecodeError;
directly and through the request pipeline."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest
from aioresponses import aioresponses

from bcb2b_async import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    B2BClient,
    BadRequestError,
    BigCommerceError,
    ConflictError,
    DecodeError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServerError,
    UnprocessableEntityError,
)
from bcb2b_async._decode import decode, decoder_for
from bcb2b_async.errors import (
    BODY_EXCERPT_CHARS,
    error_class_for_status,
    error_for_status,
    excerpt,
    server_message,
)

B2B = "https://api-b2b.bigcommerce.com/api/v3/io"
V2 = "https://api.bigcommerce.com/stores/abc123/v2"
URL = f"{B2B}/orders/123"
MAX_EXCERPT = BODY_EXCERPT_CHARS + 1  # the cut is marked with one "…"

TABLE = [
    (400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError),
    (404, NotFoundError), (409, ConflictError), (413, RequestTooLargeError),
    (422, UnprocessableEntityError), (429, RateLimitError), (500, ServerError),
    (501, ServerError), (502, ServerError), (503, ServerError), (504, ServerError),
    (507, ServerError), (599, ServerError),
]


def b2b_body(message: str | None = None, err_msg: Any = None, **top: Any) -> bytes:
    doc: dict[str, Any] = {"code": 422, "data": {} if err_msg is None else {"errMsg": err_msg}}
    if message is not None:
        doc["meta"] = {"message": message}
    doc.update(top)
    return json.dumps(doc).encode()


# -- the table -----------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "cls"), TABLE)
def test_status_maps_to_class(status: int, cls: type[APIStatusError]) -> None:
    assert error_class_for_status(status) is cls
    err = error_for_status(status, method="GET", url=URL, body=None)
    assert type(err) is cls and err.status == status
    assert isinstance(err, APIStatusError) and isinstance(err, BigCommerceError)


@pytest.mark.parametrize("status", [300, 304, 405, 406, 415, 418])
def test_unlisted_status_is_the_base_class(status: int) -> None:
    assert type(error_for_status(status, method="GET", url=URL, body=None)) is APIStatusError


def test_classes_are_distinct() -> None:
    classes = {cls for _, cls in TABLE}
    assert len(classes) == 9
    for cls in classes:
        assert issubclass(cls, APIStatusError)
    assert not issubclass(NotFoundError, ServerError)


# -- attributes and messages ---------------------------------------------------------------
def test_attributes() -> None:
    body = b2b_body("Order Does Not Exist.")
    err = error_for_status(404, method="GET", url=URL, body=body, request_id="req-1",
                           retry_after=1.5)
    assert (err.status, err.method, err.url, err.request_id, err.retry_after) == (
        404, "GET", URL, "req-1", 1.5)
    assert err.body == body.decode()
    assert err.server_message == "Order Does Not Exist."
    assert str(err) == f"GET {URL} -> 404: Order Does Not Exist. (request id req-1)"
    assert err.attempts == 1


def test_meta_message() -> None:
    err = error_for_status(404, method="GET", url=URL, body=b2b_body("Not Found Error"))
    assert "Not Found Error" in str(err)


def test_top_level_message() -> None:
    body = json.dumps({"code": 404, "message": "Top level", "data": {}}).encode()
    assert "Top level" in str(error_for_status(404, method="GET", url=URL, body=body))


def test_err_msg_string() -> None:
    err = error_for_status(422, method="PUT", url=URL, body=b2b_body(
        "Invalid data", "[Fintech ID] is a required extra field"))
    assert err.server_message == "Invalid data | [Fintech ID] is a required extra field"
    assert "[Fintech ID] is a required extra field" in str(err)


def test_err_msg_equal_to_message_shown_once() -> None:
    msg = "[fieldName] is a required extra field"
    err = error_for_status(422, method="PUT", url=URL, body=b2b_body(msg, msg))
    assert err.server_message == msg and str(err).count(msg) == 1


def test_err_msg_per_field_object() -> None:
    err = error_for_status(422, method="PUT", url=URL, body=b2b_body(
        "Validation failed", {"poNumber": "too long", "extraFields": "Fintech ID is required"}))
    text = str(err)
    assert "Validation failed" in text
    assert "poNumber: too long" in text and "extraFields: Fintech ID is required" in text


def test_err_msg_without_message() -> None:
    err = error_for_status(400, method="POST", url=URL, body=b2b_body(None, "The order exists"))
    assert err.server_message == "The order exists"


def test_v2_error_list() -> None:
    body = json.dumps([{"status": 404, "message": "The requested resource was not found."},
                       {"status": 400, "message": "external_id is read-only"}]).encode()
    err = error_for_status(404, method="GET", url=f"{V2}/orders/9", body=body)
    assert err.server_message == (
        "[404] The requested resource was not found. | [400] external_id is read-only")
    assert "[404] The requested resource was not found." in str(err)


@pytest.mark.parametrize("body", [b"<html>Bad Gateway</html>", b"null", b'"text"', b"[1, 2]",
                                  b'{"meta": "x"}', b'{"meta": {"message": 5}}', b"{"])
def test_body_without_a_message_shows_the_excerpt(body: bytes) -> None:
    err = error_for_status(502, method="GET", url=URL, body=body)
    assert err.server_message is None
    assert str(err) == f"GET {URL} -> 502: {body.decode()}"


def test_empty_body() -> None:
    err = error_for_status(500, method="GET", url=URL, body=b"")
    assert str(err) == f"GET {URL} -> 500" and err.body == ""
    assert server_message(None) is None


def test_body_excerpt_is_bounded() -> None:
    body = b"x" * 100_000
    err = error_for_status(500, method="GET", url=URL, body=body)
    assert len(err.body) == MAX_EXCERPT and err.body.endswith("…")
    assert len(str(err)) < 1000


def test_server_message_is_bounded() -> None:
    err = error_for_status(422, method="PUT", url=URL, body=b2b_body("m", "y" * 100_000))
    assert err.server_message is not None and len(err.server_message) <= MAX_EXCERPT
    fields = {f"field{i}": "bad" for i in range(1000)}
    err = error_for_status(422, method="PUT", url=URL, body=b2b_body("m", fields))
    assert err.server_message is not None and len(err.server_message) <= MAX_EXCERPT
    assert len(str(err)) < 1000


def test_excerpt() -> None:
    assert excerpt(None) == ""
    assert excerpt("abc", limit=3) == "abc"
    assert excerpt("abcd", limit=3) == "abc…"
    assert excerpt(b"\xff\xfeok") == "\ufffd\ufffdok"


def test_attempts_in_message() -> None:
    err = error_for_status(503, method="GET", url=URL, body=None)
    err.attempts = 3
    assert str(err).endswith("(after 3 attempts)")


def test_invalid_argument_is_a_value_error() -> None:
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(InvalidArgumentError, BigCommerceError)


# -- DecodeError -----------------------------------------------------------------------------
def test_decode_error_names_endpoint_status_and_excerpt() -> None:
    body = b'{"code": 200, "data": [{"bcOrderId": 1'
    with pytest.raises(DecodeError) as info:
        decode(decoder_for(dict[str, Any]), body, method="GET", url=URL, status=200)
    err = info.value
    assert (err.method, err.url, err.status, err.malformed) == ("GET", URL, 200, True)
    assert err.body == body.decode()
    assert str(err).startswith(f"GET {URL} -> 200: response is not valid JSON")
    assert body.decode() in str(err)
    assert isinstance(err.__cause__, msgspec.DecodeError)


def test_decode_error_wrong_shape() -> None:
    with pytest.raises(DecodeError) as info:
        decode(decoder_for(list[int]), b'["a"]', method="GET", url=URL, status=201)
    err = info.value
    assert not err.malformed and err.status == 201
    assert "does not match the expected shape" in str(err) and "$[0]" in str(err)
    assert isinstance(err.__cause__, msgspec.ValidationError)


def test_decode_error_excerpt_is_bounded() -> None:
    body = b'{"data": "' + b"z" * 100_000
    with pytest.raises(DecodeError) as info:
        decode(decoder_for(dict[str, Any]), body, method="GET", url=URL, status=200)
    assert len(info.value.body) == MAX_EXCERPT
    assert len(str(info.value)) < 1500


# -- through the pipeline ------------------------------------------------------------------
@pytest.mark.parametrize(("status", "cls"), TABLE)
async def test_pipeline_raises_the_class(client: B2BClient, status: int,
                                         cls: type[APIStatusError]) -> None:
    with aioresponses() as m:
        m.get(URL, status=status, repeat=True, headers={"X-Request-Id": f"req-{status}"},
              payload={"code": status, "data": {"errMsg": "field: bad"},
                       "meta": {"message": f"message {status}"}})
        with pytest.raises(cls) as info:
            await client.orders.get(123)
        attempts = sum(len(v) for v in m.requests.values())
    err = info.value
    assert type(err) is cls
    assert (err.status, err.method, err.url, err.request_id) == (
        status, "GET", URL, f"req-{status}")
    assert f"message {status}" in str(err) and "field: bad" in str(err)
    assert f"message {status}" in err.body
    # 429 and the retryable 5xx are tried 1 + max_retries (2) times; the rest once.
    expected = 3 if status in (429, 500, 502, 503, 504) else 1
    assert attempts == expected and err.attempts == expected


async def test_pipeline_v2_error_list(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(f"{V2}/orders/9", status=404, headers={"X-Request-Id": "v2-req"},
              payload=[{"status": 404, "message": "The requested resource was not found."}])
        with pytest.raises(NotFoundError) as info:
            await client.v2.orders.get(9)
    err = info.value
    assert err.url == f"{V2}/orders/9" and err.request_id == "v2-req"
    assert "[404] The requested resource was not found." in str(err)


async def test_pipeline_body_excerpt_bounded(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(URL, status=400, body=b"<html>" + b"e" * 50_000 + b"</html>")
        with pytest.raises(BadRequestError) as info:
            await client.orders.get(123)
    assert len(info.value.body) == MAX_EXCERPT and info.value.body.startswith("<html>eee")


async def test_pipeline_url_has_the_query_not_the_token(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(re.compile(re.escape(B2B) + r"/orders\?.*"), status=413,
              payload={"code": 413, "meta": {"message": "Request Entity Too Large"}, "data": {}})
        with pytest.raises(RequestTooLargeError) as info:
            await client.orders.list(channel_ids=[1, 2]).to_list()
    err = info.value
    assert err.url.startswith(f"{B2B}/orders?limit=200&offset=0&")
    assert "channelIds%5B%5D=1&channelIds%5B%5D=2" in err.url
    assert "tok-SECRET-1234" not in err.url and "Request Entity Too Large" in str(err)


async def test_pipeline_decode_error(client: B2BClient) -> None:
    body = b'{"code": 200, "data": [{"bcOrderId": 123, "po' + b"N" * 5000
    with aioresponses() as m:
        m.get(URL, status=200, body=body, repeat=True)
        with pytest.raises(DecodeError) as info:
            await client.orders.get(123)
    err = info.value
    assert (err.method, err.url, err.status) == ("GET", URL, 200)
    assert err.body.startswith('{"code": 200, "data": [{"bcOrderId": 123')
    assert len(err.body) == MAX_EXCERPT
    assert f"GET {URL} -> 200" in str(err) and err.attempts == 3


async def test_pipeline_empty_2xx_body_is_decode_error(client: B2BClient) -> None:
    with aioresponses() as m:
        m.get(URL, status=200, body=b"", repeat=True)
        with pytest.raises(DecodeError, match="empty response body") as info:
            await client.orders.get(123)
    assert info.value.status == 200


async def test_pipeline_connection_error_names_the_request(client: B2BClient) -> None:
    import aiohttp

    with aioresponses() as m:
        m.get(URL, exception=aiohttp.ServerDisconnectedError(), repeat=True)
        with pytest.raises(APIConnectionError) as info:
            await client.orders.get(123)
    err = info.value
    assert err.method == "GET" and err.url == URL and err.attempts == 3
    assert isinstance(err.__cause__, aiohttp.ServerDisconnectedError)
