"""Schemathesis over every operation of the OpenAPI schema, in process: no 5xx, responses that match
their schema, no crash. Bounded in examples so the suite stays quick; benchmarks can run it longer."""
from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.main import create_app
from app.settings import Settings

# Small limits, so that generated sizes are refused quickly instead of computing for seconds.
APP = create_app(Settings(data_dir=Path(tempfile.mkdtemp(prefix="convlens-fuzz-")), max_macs=5 * 10**7,
                          max_measure_macs=10**8, max_input_elements=2**20, max_output_elements=2**20,
                          measure_budget_s=1))
# A schema-violating body may also be refused for its size before it is parsed (413, the JSON limits of
# app/api/json_scan.py): schemathesis generates arrays far longer than maxItems.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]}}})
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)
CASES = Path(tempfile.gettempdir()) / "convlens-fuzz-cases.txt"  # one line per case run: how much was fuzzed
CASES.write_text("")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_operations(case):
    # Every check runs (no 5xx, status codes, content types and bodies as documented, schema-violating
    # requests refused) except "schema-valid requests are accepted": the engine rightly refuses layers
    # JSON Schema cannot describe (groups that do not divide C_in, kernels larger than the input, limits).
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    with CASES.open("a") as f:
        f.write(f"{case.operation.label} {response.status_code}\n")
