#!/usr/bin/env bash
# The logic of countersign's GitLab CI template (ci/gitlab-ci.yml): judges the commits a merge
# request would land with the policy of its target branch, writes the markdown report to
# countersign.md (an artifact) and the job log, and exits as `countersign check` does: 0 pass,
# 1 a commit lacks approval, 2 error. No pipe stands between check and the exit code.
#
# It reads what GitLab sets for a merge request pipeline: CI_MERGE_REQUEST_TARGET_BRANCH_NAME,
# CI_MERGE_REQUEST_DIFF_BASE_SHA (where the merge request's diff starts), CI_COMMIT_SHA,
# CI_PROJECT_DIR; and COUNTERSIGN_POLICY_REF (REF:PATH; default: .countersign/policy.toml or
# policy.toml on the target branch as fetched), COUNTERSIGN_POLICY (a file instead),
# COUNTERSIGN_BIN (default: countersign on PATH).
set -euo pipefail
# shellcheck source=ci/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bin=${COUNTERSIGN_BIN:-countersign}
cd "${CI_PROJECT_DIR:-.}"
target_branch=${CI_MERGE_REQUEST_TARGET_BRANCH_NAME:-}
if [ -z "$target_branch" ]; then
	echo "countersign: not a merge request pipeline (CI_MERGE_REQUEST_TARGET_BRANCH_NAME is not set)" >&2
	exit 2
fi
target="refs/heads/$target_branch"
tracking="refs/remotes/origin/$target_branch"
fetch_target "$target_branch"
base=${CI_MERGE_REQUEST_DIFF_BASE_SHA:-$tracking}
policy_args "$tracking"

status=0
"$bin" check "${policy[@]}" --ref "$target" --format markdown \
	"$base..${CI_COMMIT_SHA:?CI_COMMIT_SHA is not set}" >countersign.md || status=$?
cat countersign.md
exit "$status"
