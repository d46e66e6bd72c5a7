"""schemathesis against the OpenAPI document: no input makes the JSON API answer 500."""

from __future__ import annotations

import asyncio
import warnings

import schemathesis
from web_helpers import served

from jianyi import accounts


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
    from helpers import submit_and_assign

    await submit_and_assign(engine)
    accounts.add_account(settings.db_url, "jr", "区地方金融工作局", "unit", "区地方金融工作局", password="fuzz-pass-1")
    accounts.change_password(settings.db_url, "jr", "fuzz-pass-1", "fuzz-pass-2")
    token = accounts.create_token(settings.db_url, "jr")
    async with served(settings, env.client) as base:
        assert await asyncio.to_thread(fuzz, base, token) == []
