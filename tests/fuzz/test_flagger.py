"""Fuzz: Flagger's webhook body, posted to ``/api/v1/integrations/flagger/{hook}`` of the real app.

Property: every answer is below 500; a 4xx other than Flagger's 412 is problem+json; a 200 or 412
is the verdict document of the deployment the metadata names. The app's store holds one
deployment (``REGISTERED``), so generated metadata reaches the lookup and the verdict.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient
from hypothesis import event, example, given
from hypothesis import strategies as st

from fuzz.profiles import fuzz_profile
from fuzz.strategies import JSON_VALUES, REGISTERED, TEXT, dumps, raw_bodies
from monitor.api.integrations import FLAGGER_HOOKS
from monitor.api.problems import PROBLEM_JSON

_FOUND = {key: st.just(REGISTERED[key]) for key in ("service", "environment", "version")}
_WRONG = st.sampled_from(["nope", "v1", "staging"]) | TEXT | JSON_VALUES
METADATA = st.fixed_dictionaries(
    {"service": _FOUND["service"] | _WRONG},
    optional={"environment": _FOUND["environment"] | _WRONG, "version": _FOUND["version"] | _WRONG,
              "token": _WRONG, "extra": JSON_VALUES},
)  # fmt: skip
PAYLOADS = st.fixed_dictionaries(
    {"metadata": METADATA | JSON_VALUES},
    optional={"name": TEXT | JSON_VALUES, "namespace": TEXT | JSON_VALUES, "phase": TEXT | JSON_VALUES,
              "checksum": JSON_VALUES},
)  # fmt: skip
# Path segments as a client could send them; aiohttp's router sees them percent-decoded.
ANY_HOOK = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_.~%20", max_size=30)


async def _post(client: TestClient[Any, Any], hook: str, raw: bytes) -> None:
    """The property, for one request."""
    answer = await client.post(
        f"/api/v1/integrations/flagger/{hook}", data=raw, headers={"Content-Type": "application/json"}
    )
    text = await answer.text()
    event(f"HTTP {answer.status}")
    assert answer.status < 500, text
    if answer.status in (200, 412):
        document = json.loads(text)
        assert document["hook"] == hook and document["verdict"] == "running", text
        assert json.loads(raw)["metadata"]["service"] == REGISTERED["service"], text
    else:
        assert answer.content_type == PROBLEM_JSON and answer.status in (400, 404, 405), text


@fuzz_profile
@given(hook=st.sampled_from(FLAGGER_HOOKS), payload=PAYLOADS)
@example(hook="rollout", payload={"metadata": {"service": "checkout", "version": 2}})
async def test_flagger_payload_answers_below_500(
    client: TestClient[Any, Any], hook: str, payload: dict[str, Any]
) -> None:
    await _post(client, hook, dumps(payload))


@fuzz_profile
@given(hook=st.sampled_from(FLAGGER_HOOKS) | ANY_HOOK, raw=raw_bodies(PAYLOADS))
async def test_flagger_raw_body_answers_below_500(
    client: TestClient[Any, Any], hook: str, raw: bytes
) -> None:
    await _post(client, hook, raw)
