#!/usr/bin/env python3
"""Writes the introspection JSON of the official register schemas
(schemas/netwerkmodel/*.graphql -> *.introspection.json) with graphql-core,
the GraphQL reference implementation's Python port.

graphql_client's SDL parser refuses a description on the `schema` block, which
both official files have; its introspection reader does not. So the gateway's
queries are checked at compile time against this JSON, and the test
`tests/netwerkmodel.rs` regenerates it and fails when it is not exactly what
the official SDL files give (compared as schemas: the JSON, read back, must
print the same schema as the SDL; graphql-core versions differ in the
introspection fields they emit).

    python3 scripts/netwerkmodel-introspect.py [--check]
"""
import json
import os
import sys

from graphql import build_client_schema, build_schema, introspection_from_schema, print_schema

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schemas", "netwerkmodel")
NAMES = ["Indicatieregister", "Bemiddelingregister"]


def official(name):
    with open(os.path.join(HERE, name + ".graphql"), encoding="utf-8") as f:
        return build_schema(f.read())


def render(name):
    return json.dumps({"data": introspection_from_schema(official(name))}, indent=1, sort_keys=True) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name in NAMES:
        path = os.path.join(HERE, name + ".introspection.json")
        if check:
            with open(path, encoding="utf-8") as f:
                committed = build_client_schema(json.load(f)["data"])
            if print_schema(committed) != print_schema(official(name)):
                stale.append(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(render(name))
    if stale:
        print("stale introspection (run scripts/netwerkmodel-introspect.py):", *stale, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
