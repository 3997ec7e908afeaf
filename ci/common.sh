# Shared by ci/github-action.sh and ci/gitlab-ci.sh (sourced, not run).

# Fetches the target branch into refs/remotes/origin/<branch> unless the checkout has it.
fetch_target() { # <branch>
	if ! git rev-parse --verify --quiet "refs/remotes/origin/$1^{commit}" >/dev/null; then
		git fetch --quiet origin "+refs/heads/$1:refs/remotes/origin/$1"
	fi
}

# Sets policy=(...), the policy arguments of `countersign check`: COUNTERSIGN_POLICY (a file),
# else COUNTERSIGN_POLICY_REF (REF:PATH), else the policy committed on <tracking ref>
# (.countersign/policy.toml, else policy.toml): the rules the change would land under, never a
# policy it edits itself.
policy_args() { # <tracking ref>
	policy=()
	if [ -n "${COUNTERSIGN_POLICY:-}" ]; then
		policy=(--policy "$COUNTERSIGN_POLICY")
	elif [ -n "${COUNTERSIGN_POLICY_REF:-}" ]; then
		policy=(--policy-ref "$COUNTERSIGN_POLICY_REF")
	else
		for path in .countersign/policy.toml policy.toml; do
			if git cat-file -e "$1:$path" 2>/dev/null; then
				policy=(--policy-ref "$1:$path")
				return
			fi
		done
	fi
}
