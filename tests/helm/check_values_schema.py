#!/usr/bin/env python3
"""Checks the sild chart's values.schema.json.

  check_values_schema.py CHART_DIR PROTO_DIR

1. values.schema.json is a valid JSON Schema (draft-07, as Helm uses).
2. values.yaml, and values.yaml overlaid with each ci/*-values.yaml (as
   `helm -f` merges them), validate against it.
3. The schema rejects what it exists to reject (a misspelt key, an enum name
   the protos lack, an unquoted registry code): a schema that accepts
   everything would pass 2.
4. The gateway-config parts of the schema follow proto/sild/config/v1 and the
   enums in proto/sild/v1: every enum lists exactly the proto's values
   (without *_UNSPECIFIED), and every object that is copied verbatim into
   gateway.json has exactly the message's fields (proto3 JSON names).

Prints one line per problem and exits 1 if there is any.
"""
import copy
import glob
import json
import os
import re
import sys

import jsonschema
import yaml

# Schema location -> (proto file, message, fields the chart sets itself).
MESSAGES = {
    "definitions/agency": ("config/v1/config.proto", "AgencyConfig", set()),
    "definitions/route": ("config/v1/config.proto", "RouteConfig", set()),
    "definitions/rule": ("config/v1/config.proto", "LegalBasisRule", set()),
    "definitions/referralDeadline": ("config/v1/config.proto", "ReferralDeadline", set()),
    "properties/gateway/properties/consentPolicy": ("config/v1/config.proto", "ConsentPolicy", set()),
    "properties/gateway/properties/limits": ("config/v1/config.proto", "LimitsConfig", set()),
    "properties/gateway/properties/delivery": ("config/v1/config.proto", "DeliveryConfig", set()),
    "properties/gateway/properties/deadlines": ("config/v1/config.proto", "DeadlineConfig", set()),
    "properties/gateway/properties/logging": ("config/v1/config.proto", "LoggingConfig", set()),
    "properties/gateway/properties/audit": (
        "config/v1/config.proto", "AuditConfig", {"signingKeyFile", "pseudonymKeyFile"}),
}
ENUMS = {
    "AgencyKind": "v1/common.proto",
    "AgencyRole": "config/v1/config.proto",
    "ServiceType": "v1/referral.proto",
    "Purpose": "v1/common.proto",
    "MessageKind": "v1/common.proto",
    "DataCategory": "v1/options.proto",
    "RepresentativeRelation": "v1/common.proto",
}


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def block(text, keyword, name):
    """The body of `keyword name { ... }`, braces balanced."""
    match = re.search(r"\b%s\s+%s\s*\{" % (keyword, name), text)
    if not match:
        return None
    depth, start = 1, match.end()
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return None


def proto_enum(proto_dir, path, name):
    body = block(strip_comments(open(os.path.join(proto_dir, path)).read()), "enum", name)
    if body is None:
        return None
    return [v for v in re.findall(r"\b([A-Z][A-Z0-9_]*)\s*=\s*\d+", body)
            if not v.endswith("_UNSPECIFIED")]


def lower_camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def proto_fields(proto_dir, path, name):
    body = block(strip_comments(open(os.path.join(proto_dir, path)).read()), "message", name)
    if body is None:
        return None
    # Nested messages/enums would need more care; config messages have none.
    fields = re.findall(r"(?:repeated\s+)?[A-Za-z_][\w.]*\s+([a-z_][a-z0-9_]*)\s*=\s*\d+\s*;", body)
    return {lower_camel(f) for f in fields}


def at(schema, pointer):
    node = schema
    for part in pointer.split("/"):
        node = node[part]
    return node


def deep_merge(base, overlay):
    for key, value in overlay.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def errors_of(validator, values):
    return sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path))


def describe(error):
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    return "%s: %s" % (where, error.message)


def main():
    if len(sys.argv) != 3:
        print("usage: check_values_schema.py CHART_DIR PROTO_DIR", file=sys.stderr)
        return 2
    chart, proto_dir = sys.argv[1], sys.argv[2]
    problems = []
    schema = json.load(open(os.path.join(chart, "values.schema.json"), encoding="utf-8"))

    # 1. The schema itself.
    if schema.get("$schema") != "http://json-schema.org/draft-07/schema#":
        problems.append("values.schema.json: $schema must be draft-07 (what Helm validates with)")
    try:
        jsonschema.Draft7Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        print("FAIL values.schema.json is not a valid draft-07 schema: %s" % e.message)
        return 1
    validator = jsonschema.Draft7Validator(schema)

    # 2. values.yaml and the ci/ values files.
    defaults = yaml.safe_load(open(os.path.join(chart, "values.yaml"), encoding="utf-8"))
    cases = [("values.yaml", defaults)]
    for path in sorted(glob.glob(os.path.join(chart, "ci", "*.yaml"))):
        overlay = yaml.safe_load(open(path, encoding="utf-8")) or {}
        cases.append(("values.yaml + " + os.path.relpath(path, chart),
                      deep_merge(copy.deepcopy(defaults), overlay)))
    for name, values in cases:
        for error in errors_of(validator, values):
            problems.append("%s does not match values.schema.json: %s" % (name, describe(error)))

    # 3. The schema rejects typical mistakes.
    def mutated(change):
        values = copy.deepcopy(defaults)
        change(values)
        return values

    must_fail = {
        "a misspelt top-level key": lambda v: v.update(replicaCont=2),
        "a misspelt agency field": lambda v: v["gateway"]["agencies"][0].update(registyCode="75001017"),
        "an unknown agency kind": lambda v: v["gateway"]["agencies"][0].update(kind="AGENCY_KIND_BAKERY"),
        "an unquoted registry code": lambda v: v["gateway"]["agencies"][0].update(registryCode=75001017),
        "an unknown store type": lambda v: v["store"].update(type="mysql"),
        "a string replica count": lambda v: v.update(replicaCount="2"),
    }
    for what, change in must_fail.items():
        if not list(validator.iter_errors(mutated(change))):
            problems.append("values.schema.json accepts %s" % what)

    # 4. Enums and messages follow the protos.
    for name, path in ENUMS.items():
        want = proto_enum(proto_dir, path, name)
        have = schema.get("definitions", {}).get(name, {}).get("enum")
        if want is None:
            problems.append("proto %s has no enum %s (update tests/helm/check_values_schema.py)" % (path, name))
        elif have is None:
            problems.append("values.schema.json: definitions/%s has no enum" % name)
        else:
            for value in sorted(set(want) - set(have)):
                problems.append("values.schema.json: definitions/%s lacks %s (in %s)" % (name, value, path))
            for value in sorted(set(have) - set(want)):
                problems.append("values.schema.json: definitions/%s has %s, which %s does not" % (
                    name, value, path))
    for pointer, (path, message, chart_owned) in MESSAGES.items():
        want = proto_fields(proto_dir, path, message)
        if want is None:
            problems.append("proto %s has no message %s (update tests/helm/check_values_schema.py)" % (
                path, message))
            continue
        want -= chart_owned
        try:
            node = at(schema, pointer)
        except KeyError:
            problems.append("values.schema.json has no %s (for %s)" % (pointer, message))
            continue
        have = set(node.get("properties", {}))
        if node.get("additionalProperties", True) is not False:
            problems.append("values.schema.json: %s must set additionalProperties: false" % pointer)
        for field in sorted(want - have):
            problems.append("values.schema.json: %s lacks %s.%s (proto3 JSON name)" % (pointer, message, field))
        for field in sorted(have - want):
            problems.append("values.schema.json: %s has %s, which %s does not" % (pointer, field, message))

    for problem in problems:
        print("FAIL " + problem)
    if problems:
        print("%d problem(s) in helm/sild/values.schema.json or the values files" % len(problems))
        return 1
    print("ok: schema is draft-07; %d values file(s) validate; %d mistakes rejected; "
          "%d enums and %d messages match the protos" % (len(cases), len(must_fail), len(ENUMS), len(MESSAGES)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
