#!/usr/bin/env python3
"""Checks the Dockerfile against install-deps.sh, the chart and the project.

  check_dockerfile.py REPO_ROOT

There is no Docker engine in CI, so this reads the Dockerfile instead of
building it:
1. The build stage is debian:12 and installs every build package of
   gateway/scripts/install-deps.sh (all but the developer and test tools in
   NOT_FOR_THE_IMAGE); it builds a release with -DSILD_BUILD_BENCHMARKS=OFF.
2. The runtime stage is debian:12-slim and installs the runtime library of
   every -dev package the build stage installs (RUNTIME_OF).
3. The image runs as 10001, exposes 7443, starts sild-gateway and carries
   sild-gateway, sildctl and sild-audit.
4. Versions agree: CMake's project VERSION, the image label, the chart's
   appVersion; the chart's default image is sild/gateway.

Prints one line per problem and exits 1 if there is any.
"""
import os
import re
import sys

import yaml

# In install-deps.sh for developers and the test suite, not for the build.
NOT_FOR_THE_IMAGE = {
    "ccache", "git", "openssl", "sqlite3", "libbenchmark-dev", "nodejs", "npm",
    "yamllint", "python3-jsonschema", "python3-yaml",
    # The PostgreSQL server for the store tests; the image is a client.
    "postgresql",
    # The brokers the transport tests start; the image is their client.
    "nats-server", "rabbitmq-server",
}
# Build-stage -dev package -> runtime package (None: headers, static or
# build-time only).
RUNTIME_OF = {
    "libgrpc++-dev": "libgrpc++1.51",
    "libgrpc-dev": "libgrpc29",
    "libprotobuf-dev": "libprotobuf32",
    "libprotoc-dev": None,
    "libabsl-dev": "libabsl20220623",
    "libssl-dev": "libssl3",
    "libsqlite3-dev": "libsqlite3-0",
    "libpq-dev": "libpq5",
    "libpugixml-dev": "libpugixml1v5",
    "nlohmann-json3-dev": None,
    "libgtest-dev": None,
    "libgmock-dev": None,
    "libnats-dev": "libnats3.4",
    "librabbitmq-dev": "librabbitmq4",
    "librdkafka-dev": "librdkafka1",
    "libjemalloc-dev": "libjemalloc2",
}
# Pulled in by libgrpc++1.51 when not named.
IMPLIED = {"libgrpc29": "libgrpc++1.51"}


def install_deps_packages(path):
    text = open(path, encoding="utf-8").read()
    match = re.search(r"^PACKAGES=\((.*?)\)", text, re.S | re.M)
    if not match:
        return None
    body = re.sub(r"#[^\n]*", "", match.group(1))
    return body.split()


def stages(dockerfile):
    text = open(dockerfile, encoding="utf-8").read()
    # Join continuation lines.
    text = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith("#")]
    out = []
    for line in lines:
        if line.upper().startswith("FROM "):
            out.append({"from": line.split()[1], "lines": []})
        elif out:
            out[-1]["lines"].append(line)
    return out


def apt_packages(stage):
    packages = []
    for line in stage["lines"]:
        for match in re.finditer(r"apt-get install ([^&;]*)", line):
            packages += [w for w in match.group(1).split() if not w.startswith("-")]
    return packages


def main():
    if len(sys.argv) != 2:
        print("usage: check_dockerfile.py REPO_ROOT", file=sys.stderr)
        return 2
    root = sys.argv[1]
    problems = []
    dockerfile = os.path.join(root, "Dockerfile")
    found = stages(dockerfile)
    if len(found) < 2:
        print("FAIL Dockerfile: expected a build stage and a runtime stage")
        return 1
    build, runtime = found[0], found[-1]
    if build["from"] != "debian:12":
        problems.append("Dockerfile: the build stage must start FROM debian:12, not %s" % build["from"])
    if runtime["from"] != "debian:12-slim":
        problems.append("Dockerfile: the runtime stage must start FROM debian:12-slim, not %s" % runtime["from"])

    deps = install_deps_packages(os.path.join(root, "gateway", "scripts", "install-deps.sh"))
    if deps is None:
        problems.append("gateway/scripts/install-deps.sh: no PACKAGES=( ... ) array")
        deps = []
    build_pkgs, runtime_pkgs = set(apt_packages(build)), set(apt_packages(runtime))
    for package in deps:
        if package not in NOT_FOR_THE_IMAGE and package not in build_pkgs:
            problems.append(
                "Dockerfile: install-deps.sh installs %s but the build stage does not (add it there, "
                "or to NOT_FOR_THE_IMAGE in tests/helm/check_dockerfile.py if the build does not need it)"
                % package)
    for package in sorted(build_pkgs):
        if not package.endswith("-dev"):
            continue
        if package not in RUNTIME_OF:
            problems.append(
                "Dockerfile: the build stage installs %s; add its runtime library to the runtime stage "
                "and to RUNTIME_OF in tests/helm/check_dockerfile.py" % package)
            continue
        lib = RUNTIME_OF[package]
        if lib and lib not in runtime_pkgs and IMPLIED.get(lib) not in runtime_pkgs:
            problems.append("Dockerfile: the runtime stage lacks %s (the library of %s)" % (lib, package))
    if "ca-certificates" not in runtime_pkgs:
        problems.append("Dockerfile: the runtime stage lacks ca-certificates")
    for package in sorted(runtime_pkgs):
        if package.endswith("-dev"):
            problems.append("Dockerfile: the runtime stage installs the build package %s" % package)

    build_text = " ".join(build["lines"])
    for needle in ("-DSILD_BUILD_BENCHMARKS=OFF", "-DCMAKE_BUILD_TYPE=Release", "-G Ninja"):
        if needle not in build_text:
            problems.append("Dockerfile: the build stage's cmake lacks %s" % needle)
    runtime_text = "\n".join(runtime["lines"])
    for program in ("sild-gateway", "sildctl", "sild-audit"):
        if program not in build_text:
            problems.append("Dockerfile: %s is not built and copied" % program)
    expectations = {
        r"^USER 10001(:10001)?$": "USER 10001",
        r"^EXPOSE 7443$": "EXPOSE 7443",
        r'^ENTRYPOINT \["sild-gateway"\]$': 'ENTRYPOINT ["sild-gateway"]',
        r"^COPY --from=\S+ /out/ /usr/local/bin/$": "the programs copied to /usr/local/bin",
        r"useradd .*--uid 10001": "a user with uid 10001",
    }
    for pattern, what in expectations.items():
        if not re.search(pattern, runtime_text, re.M):
            problems.append("Dockerfile: the runtime stage lacks %s" % what)

    cmake = open(os.path.join(root, "CMakeLists.txt"), encoding="utf-8").read()
    project = re.search(r"project\(sild VERSION ([0-9.]+)", cmake)
    chart = yaml.safe_load(open(os.path.join(root, "helm", "sild", "Chart.yaml"), encoding="utf-8"))
    values = yaml.safe_load(open(os.path.join(root, "helm", "sild", "values.yaml"), encoding="utf-8"))
    label = re.search(r'org\.opencontainers\.image\.version="([^"]+)"', runtime_text)
    versions = {
        "CMakeLists.txt project VERSION": project.group(1) if project else None,
        "helm/sild/Chart.yaml appVersion": str(chart.get("appVersion")),
        "Dockerfile org.opencontainers.image.version": label.group(1) if label else None,
    }
    if len(set(versions.values())) != 1:
        problems.append("versions disagree: %s" % ", ".join("%s %s" % kv for kv in versions.items()))
    if values["image"]["repository"] != "sild/gateway":
        problems.append("helm/sild/values.yaml: image.repository is %s, the image docs/deploy.md builds is "
                        "sild/gateway" % values["image"]["repository"])

    for problem in problems:
        print("FAIL " + problem)
    if problems:
        print("%d problem(s) in the Dockerfile" % len(problems))
        return 1
    print("ok: Dockerfile builds with %d packages, runs with %d, image sild/gateway:%s" % (
        len(build_pkgs), len(runtime_pkgs), versions["CMakeLists.txt project VERSION"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
