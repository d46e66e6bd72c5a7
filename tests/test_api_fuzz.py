"""schemathesis against the OpenAPI document: no input makes the JSON API answer 500."""

from __future__ import annotations

import asyncio
import warnings

import schemathesis
from test_browser import free_port  # noqa: F401  (the same free-port helper)

from jianyi import accounts
from jianyi.api.app import create_app


def fuzz(base: str, token: str, examples: int = 12) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    problems: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for result in schema.get_all_operations():
            operation = result.ok()
            strategy = operation.as_strategy()
            for _ in range(examples):
                case = strategy.example()
                response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"})
                if response.status_code >= 500:
                    problems.append(f"{operation.label}: {response.status_code} {response.text[:200]}")
    return problems


async def test_schemathesis_finds_no_500_in_the_json_api(env, settings, worker, engine):
    import uvicorn
    from helpers import submit_and_assign

    await submit_and_assign(engine)
    accounts.add_account(settings.db_url, "jr", "区地方金融工作局", "unit", "区地方金融工作局", password="fuzz-pass-1")
    accounts.change_password(settings.db_url, "jr", "fuzz-pass-1", "fuzz-pass-2")
    token = accounts.create_token(settings.db_url, "jr")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, env.client), host="127.0.0.1", port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        assert await asyncio.to_thread(fuzz, f"http://127.0.0.1:{port}", token) == []
    finally:
        server.should_exit = True
        await task
