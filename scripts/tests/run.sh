#!/usr/bin/env bash
# Runs every shell test of the network scripts (scripts/tests/*-test.sh), then prints one line with the
# totals, `network-scripts: N passed, M failed`, and exits non-zero if anything failed. No Fabric binaries
# are needed: network.sh is driven against stand-ins (fake-fabric.sh).
#
# The configuration test parses YAML with PyYAML; when python3 cannot import it, this installs it from
# PyPI with pip (quietly, for the user) first.
set -uo pipefail
cd "$(dirname "$0")" || exit 1

if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import yaml' 2>/dev/null; then
  echo "run.sh: installing PyYAML for the configuration test (python3 -m pip install --user pyyaml)" >&2
  python3 -m pip install --quiet --disable-pip-version-check --user pyyaml >&2 ||
    python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages pyyaml >&2 ||
    echo "run.sh: could not install PyYAML; the configuration test will fail" >&2
fi

total_passed=0
total_failed=0
output=$(mktemp)
trap 'rm -f "$output"' EXIT
for test in ./*-test.sh; do
  bash "$test" 2>&1 | tee "$output"
  status=${PIPESTATUS[0]}
  summary=$(grep -E '^[[:alnum:]_-]+: [0-9]+ passed, [0-9]+ failed$' "$output" | tail -n 1)
  if [ -z "$summary" ]; then
    echo "FAIL: $test ended without a summary (exit $status)" >&2
    total_failed=$((total_failed + 1))
    continue
  fi
  counts=${summary#*: }
  passed=${counts%% passed*}
  failed=${counts#*passed, }
  failed=${failed%% failed}
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "FAIL: $test exited with $status" >&2
    failed=1
  fi
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
done

echo "network-scripts: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
