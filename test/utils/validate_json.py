#!/usr/bin/python3
"""Validates a JSON document against a JSON Schema (python3-jsonschema).

Usage: validate_json.py SCHEMA DOCUMENT
Prints `valid: DOCUMENT` or the first validation error, exit 1 on error.
"""

import json
import sys

import jsonschema


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    with open(sys.argv[2]) as f:
        document = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(document),
                    key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        print(f"invalid: {sys.argv[2]}: at /{'/'.join(map(str, e.path))}: "
              f"{e.message}")
        return 1
    print(f"valid: {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
