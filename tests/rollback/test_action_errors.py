"""A failed rollback action says, as fields, whether to retry and what the acted-on API answered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.rollback.base import ActionError, Target
from monitor.rollback.configured import ActionType, RollbackAction
from monitor.rollback.http import feature_flag

TARGET = Target("d-1", "checkout", "production", "v2", "v1", {"rollback/feature-flag": "new-cart"}, "flags")


@pytest.fixture
async def flags() -> AsyncIterator[TestServer]:
    """A flag service answering the status its path names (``/flags/403``)."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["status"]), text="no")

    app = web.Application()
    app.router.add_route("*", "/flags/{status}", answer)
    server = TestServer(app)
    await server.start_server()
    yield server
    await server.close()


@pytest.mark.parametrize(("status", "retryable"), [(403, False), (404, False), (429, True), (503, True)])
async def test_an_answered_failure_carries_its_status(
    flags: TestServer, status: int, retryable: bool
) -> None:
    action = RollbackAction(
        "flags", ActionType.FEATURE_FLAG, (("url", str(flags.make_url(f"/flags/{status}"))),)
    )
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ActionError) as caught:
            await feature_flag(session, action, TARGET, dry_run=False)
    assert (caught.value.status, caught.value.retryable) == (status, retryable)


async def test_an_unanswered_request_has_no_status() -> None:
    action = RollbackAction("flags", ActionType.FEATURE_FLAG, (("url", "http://127.0.0.1:9/flags/x"),))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ActionError) as caught:
            await feature_flag(session, action, TARGET, dry_run=False)
    assert (caught.value.status, caught.value.retryable) == (None, True)
