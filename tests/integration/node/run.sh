#!/usr/bin/env bash
# Runs the Node.js gRPC client test (CTest: node_grpc_client_test).
#
#   run.sh INSTALL_DIR [node --test arguments...]
#
# Copies package.json and package-lock.json to INSTALL_DIR (in the build
# tree), installs the pinned packages there with `npm ci` (skipped when the
# same lock file, package.json and Node version were installed before), and
# runs gateway_client.test.mjs with Node's built-in test runner. The test
# loads the packages from INSTALL_DIR (SILD_NODE_CLIENT_DIR), so no
# node_modules ever lands in the source tree.
#
# Needs SILD_GATEWAY_BIN, SILD_PKI_DIR and SILD_SOURCE_DIR (CTest sets them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -lt 1 ]]; then
  echo "usage: $0 INSTALL_DIR [node --test arguments...]" >&2
  exit 2
fi
install_dir=$1
shift
NODE=${NODE:-node}
NPM=${NPM:-npm}

mkdir -p "$install_dir"
install_dir=$(cd "$install_dir" && pwd)

stamp_file=$install_dir/node_modules/.sild-install-stamp
stamp=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)
stamp="$stamp node-$("$NODE" --version)"

if [[ -f $stamp_file && "$(cat "$stamp_file")" == "$stamp" ]]; then
  echo "run.sh: reusing $install_dir/node_modules (lock file unchanged)"
else
  cp "$here/package.json" "$here/package-lock.json" "$install_dir/"
  echo "run.sh: npm ci in $install_dir"
  start=$(date +%s)
  # --ignore-scripts: the packages are pure JavaScript and need no install
  # scripts; running none is the safer default for a test dependency.
  (cd "$install_dir" &&
    NPM_CONFIG_UPDATE_NOTIFIER=false "$NPM" ci --no-audit --no-fund \
      --ignore-scripts --prefer-offline)
  echo "run.sh: npm ci took $(( $(date +%s) - start ))s"
  echo "$stamp" > "$stamp_file"
fi

export SILD_NODE_CLIENT_DIR=$install_dir
echo "run.sh: $("$NODE" --version), testing with $SILD_GATEWAY_BIN"
exec "$NODE" --test "$@" "$here/gateway_client.test.mjs"
