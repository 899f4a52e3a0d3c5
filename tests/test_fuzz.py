"""Fuzz the HTTP API with schemathesis from the gateway's own ``/openapi.json``: bounded
examples per operation, against a real gateway on a private Redis (no workers, so accepted
uploads stay queued), with and without API keys: no answer is a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ethos_testing.procs import Stack, private_stack
from tests.test_security import new_key

EXAMPLES = 25


@pytest.fixture(scope="module", params=["open", "keys"])
def fuzz_target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[Stack, dict[str, str]]]:
    env = {"ETHOS_GATEWAY__SYNC_WAIT_S": "0.5", "ETHOS_AUTH__REQUESTS_PER_MINUTE": "0"}
    if request.param == "keys":
        env["ETHOS_AUTH__REQUIRED"] = "true"
    with private_stack(tmp_path_factory.mktemp(f"fuzz-{request.param}"), **env) as st:
        st.gateway()
        headers = {"Authorization": f"Bearer {new_key(st, 'fuzz')}"} if request.param == "keys" else {}
        yield st, headers


def test_no_operation_answers_5xx(fuzz_target: tuple[Stack, dict[str, str]]) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings

    st, headers = fuzz_target
    schema = schemathesis.openapi.from_url(st.url + "/openapi.json")
    failures: list[str] = []
    operations = 0
    for found in schema.get_all_operations():
        op = found.ok()
        operations += 1

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            resp = case.call(base_url=st.url, headers={**(case.headers or {}), **headers}, timeout=30)
            documented = case.formatted_path == "/readyz" and resp.status_code == 503  # no workers here
            if resp.status_code >= 500 and not documented:
                failures.append(f"{case.method} {case.formatted_path} → {resp.status_code}: {resp.text[:200]}")

        run()
    assert operations >= 15
    assert failures == [], "\n".join(failures[:20])
