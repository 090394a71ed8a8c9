"""Settings: Server() arguments < TRIO_MCP_* environment < CLI flags; clear errors."""

from __future__ import annotations

import logging

import pytest

from trio_mcp import Context, Server, Settings, SettingsError
from trio_mcp.testing import connect


def test_defaults_and_arguments() -> None:
    s = Settings()
    assert (s.timeout, s.max_in_flight, s.grace, s.max_message_size) == (60.0, 1024, 2.0, 4 << 20)
    server = Server("x", timeout=5, max_in_flight=3)
    assert (server.settings.timeout, server.max_in_flight) == (5.0, 3)


def test_environment_overrides_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_MCP_TIMEOUT", "7.5")
    monkeypatch.setenv("TRIO_MCP_MAX_IN_FLIGHT", "12")
    monkeypatch.setenv("TRIO_MCP_HTTP_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    server = Server("x", timeout=5, max_in_flight=3)
    assert server.timeout == 7.5 and server.max_in_flight == 12
    assert server.settings.http_allowed_origins == ("https://a.example", "https://b.example")
    # CLI flags (configure) override the environment.
    server.configure("--timeout", timeout=1)
    assert server.timeout == 1.0 and server.max_in_flight == 12


def test_redis_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Server("x").settings.redis_url is None  # in memory unless asked
    monkeypatch.setenv("TRIO_MCP_REDIS_URL", "redis://cache.internal:6379/2")
    monkeypatch.setenv("TRIO_MCP_TASK_LEASE", "4.5")
    settings = Server("x").settings
    assert (settings.redis_url, settings.task_lease) == ("redis://cache.internal:6379/2", 4.5)
    monkeypatch.setenv("TRIO_MCP_REDIS_URL", "")
    assert Server("x").settings.redis_url is None


def test_timeout_none_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIO_MCP_TIMEOUT", "none")
    assert Server("x").timeout is None


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        (
            "TRIO_MCP_MAX_IN_FLIGHT",
            "lots",
            "TRIO_MCP_MAX_IN_FLIGHT: max_in_flight expected an integer, got 'lots'",
        ),
        ("TRIO_MCP_TIMEOUT", "soon", "TRIO_MCP_TIMEOUT: timeout expected a number, got 'soon'"),
        ("TRIO_MCP_GRACE", "-1", "TRIO_MCP_GRACE: must not be negative"),
        ("TRIO_MCP_LOG_LEVEL", "LOUD", "TRIO_MCP_LOG_LEVEL: expected one of"),
        (
            "TRIO_MCP_REDIS_URL",
            "localhost:6379",
            "TRIO_MCP_REDIS_URL: expected a redis://, rediss://, unix:// or redis+sentinel:// URL,"
            " got 'localhost:6379'",
        ),
        (
            "TRIO_MCP_REDIS_URL",
            "redis+cluster://10.0.0.1:7000,10.0.0.2:7000",
            "TRIO_MCP_REDIS_URL: Redis Cluster is not supported: the stores' scripts",
        ),
        (
            "TRIO_MCP_REDIS_URL",
            "redis+sentinel://:pw@10.0.0.1:26379",
            "TRIO_MCP_REDIS_URL: a Sentinel URL ends with /<service>[/<db>]:"
            " 'redis+sentinel://:***@10.0.0.1:26379'",
        ),
        ("TRIO_MCP_TASK_LEASE", "0", "TRIO_MCP_TASK_LEASE: must be positive"),
    ],
)
def test_bad_environment_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as info:
        Server("x")
    assert message in str(info.value)


def test_bad_arguments_and_unknown_names() -> None:
    with pytest.raises(SettingsError, match="max_in_flight: must be positive"):
        Server("x", max_in_flight=0)
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        Server("x").configure("--colour", colour="red")


async def test_secrets_never_reach_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = b"s3cr3t-state-key-0123456789abcdef"
    server = Server("x", state_secret=secret)

    @server.tool()
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("name?")
        return str(answer.content)

    caplog.set_level(logging.DEBUG)
    async with connect(server, era="modern", capabilities={"elicitation": {}}) as client:
        first = await client.call_tool("ask")
        await client.request(
            "tools/call",
            {
                "name": "ask",
                "arguments": {},
                "inputResponses": {"elicit-0": {"action": "accept", "content": {"n": "a"}}},
                "requestState": first["requestState"],
            },
        )
    text = secret.decode()
    assert text not in repr(server) and text not in repr(server.settings)
    assert text not in caplog.text
    assert secret.hex() not in caplog.text
