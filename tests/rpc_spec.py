"""The execution-apis specification, as vendored (tests/vectors/execution_apis, made
by scripts/vendor-execution-apis), and a check of an answer against a method's
result schema."""

import json
from pathlib import Path
from typing import Any

import jsonschema

SPEC = json.loads((Path(__file__).parent / "vectors/execution_apis/openrpc.json").read_text())
METHODS = {m["name"]: m for m in SPEC["methods"]}


def check_result(method: str, result: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``result`` fits ``method``'s schema."""
    schema = {"allOf": [METHODS[method]["result"]["schema"]], "components": SPEC["components"]}
    jsonschema.Draft7Validator(schema).validate(result)
