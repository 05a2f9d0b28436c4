#!/usr/bin/env python3
"""Renders the chart's gateway config without Helm and has sild-gateway check it.

  check_gateway_config.py CHART_DIR [--gateway-bin BIN --pki DIR]

helm/sild/files/gateway.json.tpl is rendered by templates/configmap.yaml with
Helm's `tpl`. It is kept to a small subset of Go template actions so that this
test can render it exactly, without Helm:

  {{ toJson .Values.a.b }}   {{ if .Values.a.b }}   {{ if eq .Values.a.b "x" }}
  {{ else }}   {{ end }}   {{/* comments */}}   (each with optional - trims)

Anything else is reported as unsupported rather than guessed at. For the
default values and for values.yaml overlaid with each ci/*-values.yaml, the
test renders the file, parses the JSON, checks the instance-name placeholder
and that every file path is a folder the Deployment mounts, then (with
--gateway-bin) maps the paths onto the development PKI and runs
`sild-gateway --config FILE --check-config`: the config must be accepted with
the pod name substituted, and refused while the placeholder is still there.

Exits 1 on any problem.
"""
import argparse
import copy
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ACTION = re.compile(r"\{\{(-?)(\s*)(.*?)(\s*)(-?)\}\}", re.S)
PLACEHOLDER = "@SILD_INSTANCE_NAME@"
POD_NAME = "sild-7c9d5b8f6-x2k9q"
# Container path -> file of the development PKI (certs/make-dev-pki.sh), or
# None for files the test writes itself.
PKI_FILES = {
    "/etc/sild/tls/tls.crt": "gateway.crt",
    "/etc/sild/tls/tls.key": "gateway.key",
    "/etc/sild/federation-ca/ca.crt": "ca.crt",
    "/etc/sild/crl": "crl",
    "/etc/sild/audit-signing-key/signing.key": "gateway-audit-signing.key",
    "/etc/sild/pseudonym-key/pseudonym.key": "gateway-pseudonym.key",
    "/etc/sild/payload-key/payload.key": "gateway-store.key",
    "/etc/sild/postgres/dsn": None,
    "/var/lib/sild/sild.db": None,
}


class Unsupported(Exception):
    pass


def lookup(values, dotted):
    node = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise Unsupported(".Values.%s is not in the values" % dotted)
        node = node[part]
    return node


def truthy(value):
    # Go templates: false, 0, nil, and empty strings, maps and lists are false.
    return value not in (None, False, 0, "") and value != [] and value != {}


def to_json(value):
    # Helm's toJson is Go's json.Marshal: compact, map keys sorted.
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def render(template, values):
    """Renders the supported subset of Go template syntax."""
    pieces = []  # ("text", str) | ("action", str, ltrim, rtrim)
    pos = 0
    for match in ACTION.finditer(template):
        pieces.append(["text", template[pos:match.start()]])
        ltrim, rtrim = match.group(1) == "-", match.group(5) == "-"
        if ltrim and not match.group(2) or rtrim and not match.group(4):
            raise Unsupported("trim markers need a space: %r" % match.group(0))
        pieces.append(["action", match.group(3).strip(), ltrim, rtrim])
        pos = match.end()
    pieces.append(["text", template[pos:]])
    for i, piece in enumerate(pieces):
        if piece[0] != "action":
            continue
        if piece[2] and i > 0:
            pieces[i - 1][1] = pieces[i - 1][1].rstrip()
        if piece[3] and i + 1 < len(pieces):
            pieces[i + 1][1] = pieces[i + 1][1].lstrip()

    out = []
    # Each open `if` holds [condition, in_else]; text is emitted when every
    # enclosing branch is taken.
    stack = []

    def active():
        return all(cond != in_else for cond, in_else in stack)

    for piece in pieces:
        if piece[0] == "text":
            if active():
                out.append(piece[1])
            continue
        action = piece[1]
        if action.startswith("/*") and action.endswith("*/"):
            continue
        m = re.fullmatch(r"toJson\s+\.Values\.([\w.]+)", action)
        if m:
            if active():
                out.append(to_json(lookup(values, m.group(1))))
            continue
        m = re.fullmatch(r"if\s+\.Values\.([\w.]+)", action)
        if m:
            stack.append([truthy(lookup(values, m.group(1))), False])
            continue
        m = re.fullmatch(r'if\s+eq\s+\.Values\.([\w.]+)\s+"([^"\\]*)"', action)
        if m:
            stack.append([lookup(values, m.group(1)) == m.group(2), False])
            continue
        if action == "else":
            if not stack or stack[-1][1]:
                raise Unsupported("else without if")
            stack[-1][1] = True
            continue
        if action == "end":
            if not stack:
                raise Unsupported("end without if")
            stack.pop()
            continue
        raise Unsupported("action {{ %s }} is outside the subset this test renders" % action)
    if stack:
        raise Unsupported("if without end")
    return "".join(out)


def deep_merge(base, overlay):
    for key, value in overlay.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def container_paths(node, found):
    if isinstance(node, dict):
        for value in node.values():
            container_paths(value, found)
    elif isinstance(node, list):
        for value in node:
            container_paths(value, found)
    elif isinstance(node, str) and node.startswith(("/etc/", "/var/")):
        found.add(node)
    return found


def replace_paths(node, mapping):
    if isinstance(node, dict):
        return {k: replace_paths(v, mapping) for k, v in node.items()}
    if isinstance(node, list):
        return [replace_paths(v, mapping) for v in node]
    return mapping.get(node, node) if isinstance(node, str) else node


def check_case(name, values, template, mounts, args, workdir):
    problems = []
    try:
        text = render(template, values)
    except Unsupported as e:
        return ["%s: files/gateway.json.tpl: %s" % (name, e)]
    try:
        config = json.loads(text)
    except ValueError as e:
        return ["%s: rendered gateway.json is not JSON: %s\n%s" % (name, e, text)]
    if config.get("instanceName") != PLACEHOLDER:
        problems.append("%s: instanceName is %r, not the placeholder %s that the start command replaces"
                        % (name, config.get("instanceName"), PLACEHOLDER))
    paths = container_paths(config, set())
    for path in sorted(paths):
        if path not in PKI_FILES:
            problems.append("%s: %s is not a path this test knows (add it to PKI_FILES)" % (name, path))
        folder = path if PKI_FILES.get(path) == "crl" else os.path.dirname(path)
        if folder not in mounts:
            problems.append("%s: %s is not under a mountPath of templates/deployment.yaml" % (name, path))
    if problems or not args.gateway_bin:
        return problems

    case_dir = tempfile.mkdtemp(prefix=re.sub(r"\W+", "-", name) + "-", dir=workdir)
    dsn = os.path.join(case_dir, "dsn")
    with open(dsn, "w") as f:
        f.write("host=postgres.invalid dbname=sild user=sild\n")
    mapping = {}
    for path in paths:
        pki_name = PKI_FILES[path]
        if pki_name is not None:
            mapping[path] = os.path.join(args.pki, pki_name)
        elif path.endswith("/dsn"):
            mapping[path] = dsn
        else:
            mapping[path] = os.path.join(case_dir, os.path.basename(path))
    local = replace_paths(config, mapping)

    def check_config(instance_name, suffix):
        cfg = copy.deepcopy(local)
        cfg["instanceName"] = instance_name
        path = os.path.join(case_dir, "gateway%s.json" % suffix)
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2, ensure_ascii=False)
        run = subprocess.run([args.gateway_bin, "--config", path, "--check-config"],
                             capture_output=True, text=True, timeout=60)
        lines = (run.stdout + run.stderr).strip().splitlines()
        return run.returncode, lines[-1] if lines else ""

    # What the container's start command does: the pod name in place of the
    # placeholder (the same sed expression, applied to the JSON text).
    substituted = text.replace(PLACEHOLDER, POD_NAME)
    if json.loads(substituted)["instanceName"] != POD_NAME:
        problems.append("%s: substituting the pod name did not set instanceName" % name)
    code, output = check_config(POD_NAME, "")
    if code != 0:
        problems.append("%s: sild-gateway --check-config refused the rendered config (exit %d): %s"
                        % (name, code, output))
    else:
        print("ok: %s: %s" % (name, output))
    code, output = check_config(PLACEHOLDER, "-unsubstituted")
    if code == 0:
        problems.append("%s: sild-gateway accepted instanceName %s; a config that missed the "
                        "substitution must not load" % (name, PLACEHOLDER))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chart")
    parser.add_argument("--gateway-bin", help="sild-gateway to run --check-config with")
    parser.add_argument("--pki", help="development PKI folder (certs/make-dev-pki.sh)")
    args = parser.parse_args()
    if bool(args.gateway_bin) != bool(args.pki):
        parser.error("--gateway-bin and --pki go together")
    if args.pki:
        args.pki = os.path.abspath(args.pki)
        args.gateway_bin = os.path.abspath(args.gateway_bin)

    template = open(os.path.join(args.chart, "files", "gateway.json.tpl"), encoding="utf-8").read()
    deployment = open(os.path.join(args.chart, "templates", "deployment.yaml"), encoding="utf-8").read()
    mounts = set(re.findall(r"mountPath:\s*(\S+)", deployment))
    problems = []
    sed = 's/%s/${SILD_INSTANCE_NAME}/g' % PLACEHOLDER
    if sed not in deployment or "/etc/sild/config/gateway.json >/tmp/gateway.json" not in deployment \
            or "exec sild-gateway --config /tmp/gateway.json" not in deployment:
        problems.append("templates/deployment.yaml: the start command no longer writes the config with "
                        "%s replaced to /tmp/gateway.json and execs sild-gateway on it" % PLACEHOLDER)
    if "fieldPath: metadata.name" not in deployment:
        problems.append("templates/deployment.yaml: SILD_INSTANCE_NAME must come from metadata.name")

    defaults = yaml.safe_load(open(os.path.join(args.chart, "values.yaml"), encoding="utf-8"))
    cases = [("default values", defaults)]
    for path in sorted(glob.glob(os.path.join(args.chart, "ci", "*.yaml"))):
        overlay = yaml.safe_load(open(path, encoding="utf-8")) or {}
        cases.append((os.path.relpath(path, args.chart), deep_merge(copy.deepcopy(defaults), overlay)))
    with tempfile.TemporaryDirectory(prefix="sild-helm-") as workdir:
        for name, values in cases:
            problems += check_case(name, values, template, mounts, args, workdir)

    for problem in problems:
        print("FAIL " + problem)
    if problems:
        print("%d problem(s) with helm/sild/files/gateway.json.tpl" % len(problems))
        return 1
    print("ok: gateway.json rendered and checked for %d values file(s)%s" % (
        len(cases), "" if args.gateway_bin else " (without sild-gateway --check-config)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
