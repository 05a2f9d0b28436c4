#!/usr/bin/env bash
# Moves the schema evolution baseline forward: copies BUILD_DIR's descriptor
# set (the current sild.v1 schema) over proto/baseline/. Run it when a
# release's schema is final; commit the result. See docs/connectors.md.
#
#   proto/update-baseline.sh build
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
build="$1"
cmake --build "$build" --target sild_descriptor_set >/dev/null
set_file="$build/proto/sild_descriptor_set.binpb"
if [[ ! -s "$set_file" ]]; then
  echo "$set_file missing: configure and build $build first" >&2
  exit 1
fi
mkdir -p "$here/baseline"
cp "$set_file" "$here/baseline/sild_v1_descriptor_set.binpb"
echo "baseline updated from $set_file"
