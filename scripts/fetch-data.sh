#!/usr/bin/env bash
# Fetch and verify MNIST / Fashion-MNIST into static/data (see fetch_data.py).
set -euo pipefail
exec python3 "$(dirname "$0")/fetch_data.py" "$@"
