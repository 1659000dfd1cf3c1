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


def test_the_schema_says_what_the_server_accepts_without_kind():
    """An input or weights object without "kind" is its union's default member (issue 14 §5); the published
    schema says so (a discriminator would make kind required: schemathesis then saw {"input": {}} as
    schema-violating yet accepted), and every other member still needs its kind."""
    import jsonschema
    from fastapi.testclient import TestClient
    spec = APP.openapi()
    validator = jsonschema.Draft202012Validator({"$ref": "#/components/schemas/ConvolveRequest",
                                                 "components": spec["components"]})
    client = TestClient(APP, raise_server_exceptions=False)
    for body, accepted in [({"input": {}}, True), ({"weights": {"seed": 1}}, True), ({"input": {"name": "edges"}}, True),
                           ({"input": {"shape": [1, 4, 4]}}, False), ({"weights": {"name": "sobel_x"}}, False),
                           ({"input": {"id": "0" * 64}}, False), ({"input": {"kind": "random", "shape": [1, 4, 4]}}, True)]:
        body = {**body, "encoding": "npy"}
        assert validator.is_valid(body) == accepted, body
        assert (client.post("/api/convolve", json=body).status_code == 200) == accepted, body
