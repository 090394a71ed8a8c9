"""IntrospectionVerifier (RFC 7662) behind the real HTTP server, against an endpoint the test runs.

The endpoint (``tests/_support/auth.py``) checks the resource server's client
credentials and answers from a table; its hits are counted to observe the
cache. Cache lifetimes are crossed with ``MockClock(rate=1).jump``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing
from _support.auth import CLIENT_ID, CLIENT_SECRET, ISSUER, RESOURCE, IdpServer
from _support.http_auth import bearer, call, challenge, serving, structured, whoami_server

from trio_mcp.auth import IntrospectionVerifier, InvalidToken, VerifierUnavailable

PRM = "http://127.0.0.1/.well-known/oauth-protected-resource/mcp"


@pytest.fixture
def idp() -> Iterator[IdpServer]:
    with IdpServer().running() as server:  # no keys: introspection only
        yield server


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(rate=1.0)


def active(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    answer = {
        "active": True,
        "sub": "alice",
        "scope": "mcp:tools",
        "client_id": "the-app",
        "iss": ISSUER,
        "aud": RESOURCE,
        "exp": now + 3600,
        "iat": now,
    }
    answer.update(overrides)
    return {k: v for k, v in answer.items() if v is not None}


def introspection(idp: IdpServer, **options: Any) -> IntrospectionVerifier:
    settings: dict[str, Any] = {
        "endpoint": f"{idp.url}/introspect",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "audience": RESOURCE,
        "issuer": ISSUER,
        **options,
    }
    return IntrospectionVerifier(**settings)


async def test_active_token_is_cached_until_the_max_ttl(
    idp: IdpServer, clock: trio.testing.MockClock
) -> None:
    idp.active["tok-a"] = active(team="blue")
    verify = introspection(idp, cache_ttl=60.0)
    async with serving(whoami_server(), bearer(verify)) as t:
        with trio.fail_after(20):
            seen = structured(await call(t.urls[0], "tok-a"))
            assert (seen["subject"], seen["scopes"]) == ("alice", ["mcp:tools"])
            assert seen["claims"]["team"] == "blue" and seen["claims"]["client_id"] == "the-app"
            for _ in range(3):
                structured(await call(t.urls[0], "tok-a"))
            assert idp.count("/introspect") == 1
        clock.jump(61)
        with trio.fail_after(20):
            structured(await call(t.urls[0], "tok-a"))
            assert idp.count("/introspect") == 2
        t.stop()
    assert idp.auth_seen == ["basic", "basic"]


async def test_the_cache_never_outlives_the_tokens_exp(
    idp: IdpServer, clock: trio.testing.MockClock
) -> None:
    idp.active["short"] = active(exp=int(time.time()) + 10)
    verify = introspection(idp, cache_ttl=600.0)
    with trio.fail_after(20):
        await verify("short")
        await verify("short")
        assert idp.count("/introspect") == 1
    clock.jump(15)
    with trio.fail_after(20):
        await verify("short")
        assert idp.count("/introspect") == 2  # asked again at exp, not after 600 s


async def test_inactive_token_is_401_and_negatively_cached(
    idp: IdpServer, clock: trio.testing.MockClock
) -> None:
    verify = introspection(idp, negative_ttl=10.0)
    async with serving(whoami_server(), bearer(verify)) as t:
        with trio.fail_after(20):
            for _ in range(3):
                r = await call(t.urls[0], "revoked")
                assert r.status_code == 401
                assert challenge(r) == {
                    "error": "invalid_token",
                    "error_description": "the token is not active",
                    "scope": "mcp:tools",
                    "resource_metadata": PRM,
                }
            assert idp.count("/introspect") == 1
        clock.jump(11)
        with trio.fail_after(20):
            idp.active["revoked"] = active()  # (say it was only late to be issued)
            structured(await call(t.urls[0], "revoked"))
            assert idp.count("/introspect") == 2
        t.stop()


@pytest.mark.parametrize(
    ("answer", "description"),
    [
        (
            lambda: active(aud="https://other.example/mcp"),
            "the token was not issued for this resource (aud)",
        ),
        (lambda: active(aud=["https://x.example", RESOURCE]), None),
        (lambda: active(iss="https://evil.test/"), "the token's issuer is not trusted (iss)"),
        (lambda: active(exp=int(time.time()) - 600), "the token has expired"),
        (lambda: active(nbf=int(time.time()) + 600), "the token is not valid yet"),
        (lambda: active(sub=None), "the token names no subject (sub)"),
        (lambda: active(scope="mcp:read"), "scope"),
    ],
)
async def test_answers_that_do_not_fit(
    idp: IdpServer, answer: Callable[[], dict[str, Any]], description: str | None
) -> None:
    """``answer`` is made when the test runs: a time taken at collection may be long past
    (``nbf`` 600 s ahead at collection is no longer ahead in a slow full run)."""
    idp.active["t"] = answer()
    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(introspection(idp))) as t:
            r = await call(t.urls[0], "t")
    if description is None:
        assert r.status_code == 200
    elif description == "scope":  # active, but without the required scope: step-up
        assert r.status_code == 403
        assert challenge(r)["error"] == "insufficient_scope"
        assert challenge(r)["scope"] == "mcp:tools"
    else:
        assert r.status_code == 401
        assert challenge(r)["error_description"] == description


async def test_client_secret_post(idp: IdpServer) -> None:
    idp.active["tok"] = active()
    verify = introspection(idp, auth_method="client_secret_post")
    with trio.fail_after(20):
        assert (await verify("tok")).subject == "alice"
    assert idp.auth_seen == ["post"]


async def test_refused_client_credentials_are_401_and_not_cached(idp: IdpServer) -> None:
    idp.active["tok"] = active()
    verify = introspection(idp, client_secret="wrong")
    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(verify)) as t:
            for _ in range(2):
                r = await call(t.urls[0], "tok")
                assert r.status_code == 401
                assert "answered 401" in challenge(r)["error_description"]
    assert idp.count("/introspect") == 2


async def held(idp: IdpServer) -> None:
    """Until the endpoint holds a request: its own signal, waited for in a thread (so a
    hang guard in real time, whatever the mock clock does)."""
    assert await trio.to_thread.run_sync(idp.requested.wait, 20)
    idp.requested.clear()


async def test_timeout_is_401_within_the_timeout(
    idp: IdpServer, clock: trio.testing.MockClock
) -> None:
    """The endpoint hangs: the request is answered 401 once the timeout has passed.

    The timeout runs on the mock clock, stopped until the endpoint has the request: on a
    loaded machine a real 0.3 s could run out before the endpoint's thread even read it
    (it was then not counted)."""
    idp.mode = "hang"
    verify = introspection(idp, timeout=0.3)
    got: list[Any] = []

    async def answer(t: Any) -> None:
        got.append(await call(t.urls[0], "tok"))

    async def again() -> None:
        with pytest.raises(VerifierUnavailable):
            await verify("tok")
        got.append("unavailable")

    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(verify)) as t:
            for task in (partial(answer, t), again):
                clock.rate = 0.0
                before = len(got)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(task)
                    await held(idp)
                    await trio.testing.wait_all_tasks_blocked()
                    assert len(got) == before  # no answer before the timeout
                    clock.jump(0.3)
                    clock.rate = 1.0
    r, unavailable = got
    assert r.status_code == 401 and r.headers["retry-after"] == "5"
    assert challenge(r)["error"] == "invalid_token"
    assert "no answer" in challenge(r)["error_description"]
    assert unavailable == "unavailable"
    assert idp.count("/introspect") == 2  # a failure is not cached


async def test_concurrent_requests_with_one_new_token_make_one_call(idp: IdpServer) -> None:
    idp.active["tok"] = active()
    idp.mode = "hold"
    verify = introspection(idp)
    subjects: list[str] = []

    async def one() -> None:
        subjects.append((await verify("tok")).subject)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for _ in range(8):
                nursery.start_soon(one)
            while idp.count("/introspect") == 0:
                await trio.sleep(0.01)
            await trio.testing.wait_all_tasks_blocked()
            idp.release.set()
    assert subjects == ["alice"] * 8
    assert idp.count("/introspect") == 1 and verify.calls == 1


async def test_the_cache_is_bounded(idp: IdpServer) -> None:
    for n in range(5):
        idp.active[f"t{n}"] = active(sub=f"user{n}")
    verify = introspection(idp, max_entries=2)
    with trio.fail_after(20):
        for n in range(5):
            await verify(f"t{n}")
        await verify("t4")  # still cached
        assert idp.count("/introspect") == 5
        await verify("t0")  # evicted long ago
        assert idp.count("/introspect") == 6
    assert len(verify._cache) <= 2


async def test_no_audience_check_when_told_so(idp: IdpServer) -> None:
    idp.active["t"] = active(aud=None)
    with pytest.raises(InvalidToken):
        with trio.fail_after(20):
            await introspection(idp)("t")
    with trio.fail_after(20):
        assert (await introspection(idp, audience=None)("t")).subject == "alice"
