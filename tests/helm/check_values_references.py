#!/usr/bin/env python3
"""Checks that the sild chart's templates and README agree with values.yaml.

  check_values_references.py CHART_DIR

1. Every `.Values.a.b` referenced in templates/*.yaml, templates/*.tpl,
   templates/NOTES.txt and files/*.tpl exists in values.yaml (a typo there
   renders as an empty string in Helm, silently).
2. Every value in values.yaml is documented in README.md's values table
   (under "## Values"):
   a row whose key is the value's path, or the path of a map that contains
   it (a row for a map documents the map as a whole).
3. Every key in README.md's table exists in values.yaml (no stale rows), and
   the default column matches values.yaml for scalars and empty lists/maps.

Prints one line per problem and exits 1 if there is any.
"""
import json
import os
import re
import sys

import yaml

VALUE_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
COMMENT = re.compile(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.S)
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|([^|]*)\|(.*?)\|")


def template_files(chart):
    out = []
    for sub in ("templates", "files"):
        folder = os.path.join(chart, sub)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.endswith((".yaml", ".tpl", ".txt")):
                out.append(os.path.join(folder, name))
    return out


def lookup(values, path):
    """Returns (found, where it stopped) for a dotted path."""
    node = values
    walked = []
    for part in path:
        if not isinstance(node, dict):
            return False, ".".join(walked) + " is not a map"
        if part not in node:
            return False, "no key %r under %s" % (part, ".".join(walked) or "the top level")
        node = node[part]
        walked.append(part)
    return True, ""


def check_references(chart, values):
    problems = []
    count = 0
    for path in template_files(chart):
        text = open(path, encoding="utf-8").read()
        # Template comments may mention example paths; blank them but keep
        # the line numbers.
        text = COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        for lineno, line in enumerate(text.splitlines(), 1):
            for match in VALUE_REF.finditer(line):
                count += 1
                parts = match.group(1).lstrip(".").split(".")
                found, why = lookup(values, parts)
                if not found:
                    problems.append("%s:%d: .Values.%s is not in values.yaml (%s)" % (
                        os.path.relpath(path, chart), lineno, ".".join(parts), why))
    return problems, count


def readme_rows(chart):
    """Rows of the table under the "## Values" heading."""
    rows = {}
    in_values = False
    for line in open(os.path.join(chart, "README.md"), encoding="utf-8"):
        if line.startswith("## "):
            in_values = line.strip() == "## Values"
            continue
        match = ROW.match(line) if in_values else None
        if match and match.group(1) != "key":
            rows[match.group(1)] = line
    return rows


def expected_default(value):
    if isinstance(value, (list, dict)) and value:
        return None  # documented in prose ("see values.yaml")
    return "`%s`" % json.dumps(value, ensure_ascii=False)


def check_documented(values, rows):
    problems = []
    leaves = []

    def walk(node, path):
        if path and ".".join(path) in rows:
            leaves.append(".".join(path))
            return
        if isinstance(node, dict) and node:
            for key, child in node.items():
                walk(child, path + [str(key)])
            return
        problems.append("README.md: value %s (default %s) has no row in the values table" % (
            ".".join(path), json.dumps(node, ensure_ascii=False)))

    walk(values, [])
    for key, line in rows.items():
        found, why = lookup(values, key.split("."))
        if not found:
            problems.append("README.md: row %s names no value in values.yaml (%s)" % (key, why))
            continue
        node = values
        for part in key.split("."):
            node = node[part]
        want = expected_default(node)
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if want is not None and len(cells) >= 3 and cells[2] != want:
            problems.append("README.md: row %s shows default %s, values.yaml has %s" % (
                key, cells[2], want))
    return problems, len(leaves)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    chart = sys.argv[1]
    values = yaml.safe_load(open(os.path.join(chart, "values.yaml"), encoding="utf-8"))
    ref_problems, ref_count = check_references(chart, values)
    doc_problems, doc_count = check_documented(values, readme_rows(chart))
    problems = ref_problems + doc_problems
    for problem in problems:
        print("FAIL " + problem)
    if problems:
        print("%d problem(s): templates and README.md must match values.yaml" % len(problems))
        return 1
    print("ok: %d .Values references resolve; %d values documented in README.md" % (
        ref_count, doc_count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
