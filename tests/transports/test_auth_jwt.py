"""JWTVerifier behind the real HTTP server, with keys from a JWKS server the test runs.

Each case asserts the status and the ``WWW-Authenticate`` challenge. The JWKS is
served over real HTTP from a thread (``tests/_support/auth.py``); tokens are
signed with RSA and EC keys generated here. The clock is a ``MockClock`` running
at real speed (``rate=1``) so that cache lifetimes and the refresh rate limit are
crossed with ``clock.jump`` instead of waiting; ``fail_after`` guards never span
a jump.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import trio
import trio.testing
from _support.auth import ISSUER, RESOURCE, IdpServer, Signer
from _support.http_auth import bearer, call, challenge, serving, structured, whoami_server

from trio_mcp.auth import InvalidToken, JWTVerifier

PRM = "http://127.0.0.1/.well-known/oauth-protected-resource/mcp"


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def idp(signer: Signer) -> Iterator[IdpServer]:
    with IdpServer(signer).running() as server:
        yield server


@pytest.fixture
def clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(rate=1.0)


def verifier(idp: IdpServer, **options: object) -> JWTVerifier:
    settings: dict[str, object] = {
        "jwks_url": f"{idp.url}/jwks",
        "issuer": ISSUER,
        "audience": RESOURCE,
        "algorithms": ["RS256", "ES256"],
        "min_refresh": 30.0,
        **options,
    }
    return JWTVerifier(**settings)  # type: ignore[arg-type]


async def test_valid_tokens_reach_the_handler_with_their_claims(
    idp: IdpServer, signer: Signer
) -> None:
    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(verifier(idp))) as t:
            seen = structured(await call(t.urls[0], signer.token("rsa-1", team="blue")))
            assert seen["subject"] == "alice"
            assert seen["scopes"] == ["mcp:read", "mcp:tools"]
            assert seen["claims"]["team"] == "blue" and seen["claims"]["iss"] == ISSUER
            # An EC key of the same set, and Entra/Okta-style scopes in `scp`.
            token = signer.token("ec-1", sub="bob", scope=None, scp=["mcp:tools"])
            seen = structured(await call(t.urls[0], token))
            assert (seen["subject"], seen["scopes"]) == ("bob", ["mcp:tools"])
    assert idp.count("/jwks") == 1  # one fetch served both keys


REFUSED = {
    "expired": (lambda s: s.token(exp=int(time.time()) - 120), "the token has expired"),
    "not yet valid": (
        lambda s: s.token(nbf=int(time.time()) + 600),
        "the token is not valid yet (nbf or iat in the future)",
    ),
    "issued in the future": (
        lambda s: s.token(iat=int(time.time()) + 600),
        "the token is not valid yet (nbf or iat in the future)",
    ),
    "wrong iss": (
        lambda s: s.token(iss="https://evil.test/"),
        "the token's issuer is not trusted (iss)",
    ),
    "wrong aud": (
        lambda s: s.token(aud="https://other.example/mcp"),
        "the token was not issued for this resource (aud)",
    ),
    "no exp": (lambda s: s.token(exp=None), "the token lacks the exp claim"),
    "no sub": (lambda s: s.token(sub=None), "the token names no subject (sub)"),
    "bad signature": (lambda s: s.tampered(), "the token's signature is invalid"),
    "alg none": (lambda s: s.unsigned(), "the token's algorithm is not accepted"),
    "HS256 signed with the RSA public key": (
        lambda s: s.hs256_with_public_key(),
        "the token's algorithm is not accepted",
    ),
    "not a JWT": (lambda s: "opaque-token", "the token is not a JWT"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_refused_tokens_get_401_invalid_token(
    case: str, idp: IdpServer, signer: Signer
) -> None:
    make, description = REFUSED[case]
    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(verifier(idp))) as t:
            r = await call(t.urls[0], make(signer))
    assert r.status_code == 401, r.text
    assert challenge(r) == {
        "error": "invalid_token",
        "error_description": description,
        "scope": "mcp:tools",
        "resource_metadata": PRM,
    }


async def test_clock_skew_within_the_leeway_is_accepted(idp: IdpServer, signer: Signer) -> None:
    now = int(time.time())
    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(verifier(idp, leeway=300))) as t:
            late = signer.token(exp=now - 120, nbf=now + 120, iat=now + 120)
            assert structured(await call(t.urls[0], late))["subject"] == "alice"


async def test_a_signature_by_another_key_under_a_known_kid_is_refused(
    idp: IdpServer, signer: Signer
) -> None:
    forger = Signer()  # its own rsa-1: same kid, different key
    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(verifier(idp))) as t:
            r = await call(t.urls[0], forger.token("rsa-1"))
    assert r.status_code == 401
    assert challenge(r)["error_description"] == "the token's signature is invalid"


async def test_missing_token_and_missing_scope(idp: IdpServer, signer: Signer) -> None:
    auth = bearer(verifier(idp), required=("mcp:tools", "mcp:admin"))
    with trio.fail_after(20):
        async with serving(whoami_server(), auth) as t:
            r = await call(t.urls[0], None)
            assert r.status_code == 401
            assert challenge(r) == {"scope": "mcp:tools mcp:admin", "resource_metadata": PRM}
            # A valid token without mcp:admin: 403 and the step-up challenge naming
            # every scope the request needs (those it has too, so it keeps them).
            r = await call(t.urls[0], signer.token())
            assert r.status_code == 403, r.text
            assert challenge(r) == {
                "error": "insufficient_scope",
                "error_description": "the token lacks scope(s) mcp:admin",
                "scope": "mcp:tools mcp:admin",
                "resource_metadata": PRM,
            }
            r = await call(t.urls[0], signer.token(scope="mcp:tools mcp:admin"))
            assert structured(r)["scopes"] == ["mcp:admin", "mcp:tools"]
            async with httpx.AsyncClient() as c:
                r = await c.get(
                    t.urls[0].replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
                )
                prm = r.json()
    assert prm["scopes_supported"] == ["mcp:tools", "mcp:admin"]
    assert prm["resource"] == RESOURCE and prm["authorization_servers"] == ["https://idp.test/"]


async def test_key_rotation_is_one_refetch_and_refetches_are_rate_limited(
    idp: IdpServer, signer: Signer, clock: trio.testing.MockClock
) -> None:
    verify = verifier(idp, min_refresh=30.0)
    async with serving(whoami_server(), bearer(verify)) as t:
        url = t.urls[0]
        with trio.fail_after(20):
            structured(await call(url, signer.token("rsa-1")))
            assert idp.count("/jwks") == 1
        clock.jump(31)  # later, the issuer rotates: a new key, published; a token signed with it
        with trio.fail_after(20):
            signer.add_rsa("rsa-2")
            idp.jwks = signer.jwks()
            structured(await call(url, signer.token("rsa-2")))
            assert idp.count("/jwks") == 2  # one refetch, for the unknown kid
            structured(await call(url, signer.token("rsa-2")))
            assert idp.count("/jwks") == 2  # known now
            # Made-up kids within min_refresh: refused without asking the issuer again.
            for n in range(5):
                r = await call(url, signer.token(f"made-up-{n}", key="rsa-1"))
                assert r.status_code == 401
                assert challenge(r)["error_description"] == (
                    "the token's key (kid) is not one of the issuer's keys"
                )
            assert idp.count("/jwks") == 2
        clock.jump(31)
        with trio.fail_after(20):
            signer.add_ec("ec-2")
            idp.jwks = signer.jwks()
            structured(await call(url, signer.token("ec-2")))
            assert idp.count("/jwks") == 3  # past the rate limit: one more fetch
        t.stop()


async def test_concurrent_refreshes_are_one_fetch(idp: IdpServer, signer: Signer) -> None:
    verify = verifier(idp)
    idp.mode = "hold"  # hold the first fetch until every request waits for it
    results: list[str] = []

    async def one() -> None:
        results.append((await verify(signer.token("rsa-1"))).subject)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(one)
            while idp.count("/jwks") == 0:
                await trio.sleep(0.01)
            await trio.testing.wait_all_tasks_blocked()
            assert verify.jwks is not None and verify.jwks.fetches == 1
            idp.release.set()
    assert results == ["alice"] * 10
    assert idp.count("/jwks") == 1


async def test_a_cancelled_fetch_hands_over_to_a_waiter(idp: IdpServer, signer: Signer) -> None:
    verify = verifier(idp)
    idp.mode = "hold"
    results: list[str] = []
    first = trio.CancelScope()

    async def fetching() -> None:
        with first:
            await verify(signer.token())

    async def waiting() -> None:
        results.append((await verify(signer.token())).subject)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fetching)
            while idp.count("/jwks") == 0:
                await trio.sleep(0.01)
            nursery.start_soon(waiting)  # joins the fetch in flight
            await trio.testing.wait_all_tasks_blocked()
            first.cancel()  # the fetching request's client went away
            while idp.count("/jwks") < 2:  # the waiter fetches in its place
                await trio.sleep(0.01)
            idp.release.set()
    assert results == ["alice"]
    assert first.cancelled_caught


async def test_cache_control_max_age_is_honoured(
    idp: IdpServer, signer: Signer, clock: trio.testing.MockClock
) -> None:
    idp.cache_control = "public, max-age=600"
    verify = verifier(idp, cache_ttl=60.0)
    with trio.fail_after(20):
        await verify(signer.token())
    clock.jump(500)
    with trio.fail_after(20):
        await verify(signer.token())
        assert idp.count("/jwks") == 1  # fresh for 600 s, not the default 60
    clock.jump(101)
    with trio.fail_after(20):
        await verify(signer.token())
        assert idp.count("/jwks") == 2


async def test_jwks_down_a_cached_key_still_works(
    idp: IdpServer, signer: Signer, clock: trio.testing.MockClock
) -> None:
    verify = verifier(idp, cache_ttl=60.0)
    async with serving(whoami_server(), bearer(verify)) as t:
        with trio.fail_after(20):
            structured(await call(t.urls[0], signer.token()))
        idp.mode = "fail"
        clock.jump(61)  # the set is stale: a refetch is due, and fails
        with trio.fail_after(20):
            assert structured(await call(t.urls[0], signer.token()))["subject"] == "alice"
            assert idp.count("/jwks") == 2
            # A kid it cannot know while the issuer is down: a clear 401 saying
            # the keys could not be fetched, not a 500.
            r = await call(t.urls[0], signer.token("rotated", key="rsa-1"))
            assert r.status_code == 401 and r.headers["retry-after"] == "5"
            www = challenge(r)
            assert www["error"] == "invalid_token"
            assert "keys cannot be fetched" in www["error_description"]
        t.stop()


async def test_jwks_down_and_no_key_known_is_a_quick_401(
    idp: IdpServer, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    idp.mode = "fail"
    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(verifier(idp))) as t:
            r = await call(t.urls[0], signer.token())
            assert r.status_code == 401, r.text
            www = challenge(r)
            assert www["error"] == "invalid_token"
            assert www["error_description"].startswith("the token could not be verified: ")
            assert "keys cannot be fetched" in www["error_description"]
            assert "could not be verified" in r.json()["error"]["message"]
            r = await call(t.urls[0], signer.token())
            assert r.status_code == 401 and challenge(r)["error"] == "invalid_token"
    loud = [r for r in caplog.records if "the verifier is unavailable" in r.getMessage()]
    assert len(loud) == 2 and all(r.levelname == "ERROR" for r in loud)
    assert idp.count("/jwks") == 1  # the second request did not ask again (rate limit)


async def test_a_jwks_server_that_never_answers_costs_fetch_timeout(
    idp: IdpServer, signer: Signer
) -> None:
    idp.mode = "hang"
    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(verifier(idp, fetch_timeout=0.3))) as t:
            r = await call(t.urls[0], signer.token())
    assert r.status_code == 401
    assert "no answer" in challenge(r)["error_description"]


async def test_a_refused_connection_is_a_401(signer: Signer) -> None:
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    verify = JWTVerifier(
        jwks_url=f"http://127.0.0.1:{port}/jwks",
        issuer=ISSUER,
        audience=RESOURCE,
        algorithms=["RS256"],
    )
    with trio.fail_after(20):
        async with serving(whoami_server(), bearer(verify)) as t:
            r = await call(t.urls[0], signer.token())
    assert r.status_code == 401
    assert "keys cannot be fetched" in challenge(r)["error_description"]


async def test_static_public_key(signer: Signer) -> None:
    verify = JWTVerifier(
        public_key=signer.public_pem("ec-1"), issuer=ISSUER, audience=RESOURCE, algorithms=["ES256"]
    )
    assert (await verify(signer.token("ec-1"))).subject == "alice"
    with pytest.raises(InvalidToken, match="signature is invalid"):
        await verify(Signer().token("ec-1"))
    with pytest.raises(InvalidToken, match="algorithm is not accepted"):
        await verify(signer.token("rsa-1"))


def test_configurations_that_could_accept_forgeries_are_refused(signer: Signer) -> None:
    common = {"issuer": ISSUER, "audience": RESOURCE}
    pem = signer.public_pem("rsa-1")
    with pytest.raises(ValueError, match="none"):
        JWTVerifier(jwks_url="http://x/jwks", algorithms=["none"], **common)
    with pytest.raises(ValueError, match="HMAC"):
        JWTVerifier(jwks_url="http://x/jwks", algorithms=["RS256", "HS256"], **common)
    with pytest.raises(ValueError, match="HMAC"):
        JWTVerifier(public_key=pem, algorithms=["HS256"], **common)
    with pytest.raises(ValueError, match="PEM"):
        JWTVerifier(secret=pem, algorithms=["HS256"], **common)
    with pytest.raises(ValueError, match="verifies none"):
        JWTVerifier(public_key=pem, algorithms=["ES256"], **common)
    with pytest.raises(ValueError, match="audience"):
        JWTVerifier(public_key=pem, algorithms=["RS256"], issuer=ISSUER, audience=[])
    with pytest.raises(ValueError, match="exactly one"):
        JWTVerifier(algorithms=["RS256"], **common)
    with pytest.raises(ValueError, match="list of names"):
        JWTVerifier(public_key=pem, algorithms="RS256", **common)


async def test_shared_secret_hs256(signer: Signer) -> None:
    import jwt

    secret = b"k" * 32
    verify = JWTVerifier(secret=secret, issuer=ISSUER, audience=RESOURCE, algorithms=["HS256"])
    claims = signer.claims()
    assert (await verify(jwt.encode(claims, secret, algorithm="HS256"))).subject == "alice"


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_official_client_with_a_bearer_token(
    mode: str, idp: IdpServer, signer: Signer
) -> None:
    mcp = pytest.importorskip("mcp")
    httpx2 = pytest.importorskip("httpx2")
    from mcp.client.streamable_http import streamable_http_client

    token = signer.token("ec-1", sub="carol")
    with trio.fail_after(30):
        async with serving(whoami_server(), bearer(verifier(idp))) as t:
            headers = {"authorization": f"Bearer {token}"}
            async with (
                httpx2.AsyncClient(headers=headers) as http,
                mcp.Client(
                    streamable_http_client(t.urls[0], http_client=http),
                    mode=mode,
                    read_timeout_seconds=10,
                ) as client,
            ):
                tools = await client.list_tools()
                assert [tool.name for tool in tools.tools] == ["whoami"]
                result = await client.call_tool("whoami", {})
                assert result.structured_content["subject"] == "carol"
            if mode == "legacy":
                assert not t.sessions  # the client ended its session (DELETE, with the token)
