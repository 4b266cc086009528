"""Check InferenceService documents against the KServe SDK's models: every key known, every type right.

Run with the KServe virtualenv's Python: `python kserve_check.py FILE...`; prints a JSON list of errors.
The SDK models are generated from KServe's OpenAPI schema, and embed the Kubernetes client models.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import kserve
import kubernetes.client
import yaml

_PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object, "datetime": str,
               "bytes": str, "ResourceQuantity": (str, int, float)}


def _model(name: str) -> Any:
    return getattr(kserve, name, None) or getattr(kubernetes.client, name)


def check(value: Any, kind: str, where: str, errors: list[str]) -> None:
    """Append to `errors` every way `value` departs from OpenAPI type `kind`."""
    if (match := re.fullmatch(r"[lL]ist\[(.+)\]", kind)):
        if not isinstance(value, list):
            errors.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            check(item, match[1], f"{where}[{index}]", errors)
    elif (match := re.fullmatch(r"dict\(str, (.+)\)|Dict\[str, (.+)\]", kind)):
        if not isinstance(value, dict):
            errors.append(f"{where}: expected a mapping, got {type(value).__name__}")
            return
        for key, item in value.items():
            check(item, match[1] or match[2], f"{where}.{key}", errors)
    elif kind in _PRIMITIVES:
        if not isinstance(value, _PRIMITIVES[kind]) or (kind == "int" and isinstance(value, bool)):
            errors.append(f"{where}: expected {kind}, got {type(value).__name__}")
    else:
        model = _model(kind)
        if not isinstance(value, dict):
            errors.append(f"{where}: expected {kind}, got {type(value).__name__}")
            return
        fields = {json_name: model.openapi_types[attr] for attr, json_name in model.attribute_map.items()}
        for key, item in value.items():
            if key not in fields:
                errors.append(f"{where}: unknown field `{key}` in {kind}")
            else:
                check(item, fields[key], f"{where}.{key}", errors)


def main(paths: list[str]) -> None:
    errors: list[str] = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        check(doc, "V1beta1InferenceService", path, errors)
    print(json.dumps(errors))


if __name__ == "__main__":
    main(sys.argv[1:])
