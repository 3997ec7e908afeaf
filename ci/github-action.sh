#!/usr/bin/env bash
# The logic of countersign's GitHub Action (action.yml at the repository's root): judges the
# commits a pull request would land, writes the markdown report to the job
# summary, and exits as `countersign check` does: 0 pass, 1 a commit lacks approval, 2 error.
#
# It reads what a runner sets: GITHUB_EVENT_PATH (the event's payload: pull_request.head.sha),
# GITHUB_BASE_REF, GITHUB_WORKSPACE, GITHUB_STEP_SUMMARY; and the
# action's inputs: COUNTERSIGN_POLICY_REF (REF:PATH; default: the policy committed on the
# target branch as fetched, .countersign/policy.toml or policy.toml), COUNTERSIGN_POLICY (a
# file instead), COUNTERSIGN_BIN (default: countersign on PATH).
set -euo pipefail
# shellcheck source=ci/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bin=${COUNTERSIGN_BIN:-countersign}
cd "${GITHUB_WORKSPACE:-.}"

# One field of the event's payload (python3 is on every GitHub-hosted runner).
field() {
	python3 -c 'import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2:]:
    value = value.get(key) if isinstance(value, dict) else None
print(value or "")' "$GITHUB_EVENT_PATH" "$@"
}

head=$(field pull_request head sha)
if [ -z "$head" ]; then
	echo "countersign: this action checks pull requests: ${GITHUB_EVENT_NAME:-the event} has no pull_request in its payload" >&2
	exit 2
fi
# What the pull request would land on its base branch, as fetched now.
base_ref=${GITHUB_BASE_REF:-$(field pull_request base ref)}
target="refs/heads/$base_ref"
base="refs/remotes/origin/$base_ref"
fetch_target "$base_ref"
policy_args "$base"

report=$(mktemp)
status=0
"$bin" check "${policy[@]}" --ref "$target" --format markdown "$base..$head" >"$report" || status=$?
cat "$report"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
	cat "$report" >>"$GITHUB_STEP_SUMMARY"
fi
rm -f "$report"
exit "$status"
