#!/usr/bin/env bash
#===- scripts/gen-fixtures.sh - regenerate the importer's test fixtures ---===#
#
# Rewrites test/Fixtures/*.mlir and *.ref.json from the model corpus with the
# PyTorch importer (python/remat), using Debian's python3 and python3-torch.
# test/Import/fixtures-up-to-date.test fails until this has been rerun after
# a change to the importer or the corpus.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHONPATH="$ROOT/python" exec /usr/bin/python3 -m remat fixtures \
  --out test/Fixtures "$@"
