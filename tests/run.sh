#!/usr/bin/env bash
# The whole sild test suite, as CI runs it:
#   1. installs the Debian packages it needs (apt-get update first),
#   2. builds the release tree and runs every test with CTest,
#   3. builds an AddressSanitizer + UndefinedBehaviorSanitizer tree and runs
#      the suite again under the sanitizers.
# Servers the tests need are started by the tests themselves on loopback.
#
#   tests/run.sh               # everything
#   tests/run.sh --no-sanitize # skip the sanitizer pass (quicker local runs)
#   SILD_SKIP_APT=1 tests/run.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

sanitize=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitize) sanitize=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if [[ ! -d ../shared/testdata ]]; then
  echo "tests/run.sh: ../shared/testdata not found beside the repository" >&2
  exit 2
fi

bash gateway/scripts/install-deps.sh
jobs=${SILD_JOBS:-$(nproc)}
start=$(date +%s)

run_suite() {
  local dir=$1
  echo "==> ctest in $dir"
  ctest --test-dir "$dir" -j "$jobs" --output-on-failure --timeout 600 \
    --no-tests=error
}

bash gateway/scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_suite build

if [[ $sanitize -eq 1 ]]; then
  bash gateway/scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug \
    -DSILD_SANITIZE=ON -DSILD_BUILD_BENCHMARKS=OFF
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # Debian 12's c-ares leaks inside ares_getaddrinfo when gRPC resolves a
  # host name; the native (getaddrinfo) resolver keeps LeakSanitizer's
  # findings to the project's own code.
  export GRPC_DNS_RESOLVER=native
  run_suite build-asan
fi
echo "==> all tests passed in $(( $(date +%s) - start ))s"
