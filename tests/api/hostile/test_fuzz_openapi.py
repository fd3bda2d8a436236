"""Schema-driven fuzzing of every operation in the server's own /openapi.json, on SQLite and
on PostgreSQL: no 5xx, documented status codes, bodies that match the documented schemas.

Operations and their request bodies come from the live document, so when routes declare
typed bodies the fuzzer reaches into them with no change here. Examples are bounded so the
whole run stays within about a minute."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import response_schema_conformance, status_code_conformance
from schemathesis.config import SchemathesisConfig

from fluxserve.catalog import API_MODELS
from tests.api.hostile.conftest import Target

CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"max-examples": 15},
    }
)
MAX_EXAMPLES = 15
# The test server runs no workers, so a valid request to a sync route waits out its (short)
# timeout and answers 504 Gateway Timeout; that one 5xx is the expected answer there.
ROUTES = [e for m in API_MODELS.values() for e in m.endpoints]
SYNC_PATHS = frozenset(route.path for route in ROUTES if route.mode == "sync")


def not_a_server_error(ctx: Any, response: Any, case: Any) -> bool:
    status = response.status_code
    expected_timeout = status == 504 and case.operation.path in SYNC_PATHS
    assert status < 500 or expected_timeout, (
        f"{case.method} {case.operation.path} answered {status}: {response.text[:300]}"
    )
    return True


def test_every_operation_survives_fuzzing(target: Target) -> None:
    schema = schemathesis.openapi.from_url(f"{target.url}/openapi.json", config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= len(ROUTES)

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(
                headers=target.headers(),
                timeout=30,
                checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
            )

        fuzz()
