"""What recorded approvals cost the hook: the hook alone on a one-commit push that a recorded
approval lets through, on a server holding N other recorded approvals and on one holding none,
taking turns so the machine's drift touches both alike.

    python3 bench/recorded.py [--approvals 100000] [--runs 41]

Builds the release binary; everything else is generated in a temporary directory.
"""

import argparse
import hashlib
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

POLICY = """version = 1
[gate]
protected = ["refs/heads/main"]
[approvals]
recorded = "required"
[[person]]
name = "Bob Dev"
emails = ["bob@example.com"]
logins = ["bob"]
[[person]]
name = "Carol Dev"
emails = ["carol@example.com"]
logins = ["carol"]
[[rule]]
name = "two-person review"
"""


def git(*args, cwd=None, stdin=None, env=None):
    out = subprocess.run(["git", *args], cwd=cwd, input=stdin, check=True, capture_output=True, text=True,
                         env=env)
    return out.stdout.strip()


def server(root, name, binary, approvals, seed_commit, work):
    bare = root / name
    git("clone", "-q", "--bare", str(work), str(bare))
    (bare / "policy.toml").write_text(POLICY)
    git("config", "countersign.policy", "policy.toml", cwd=bare)
    git("config", "countersign.bin", str(binary), cwd=bare)
    if approvals:
        lines = "".join(
            f"create refs/countersign/approvals/{hashlib.sha256(str(i).encode()).hexdigest()}/carol {seed_commit}\n"
            for i in range(approvals))
        git("update-ref", "--stdin", cwd=bare, stdin=lines)
        git("pack-refs", "--all", cwd=bare)
    return bare


def hook_once(binary, bare, stdin, env):
    start = time.perf_counter()
    proc = subprocess.run([str(binary), "pre-receive"], cwd=bare, input=stdin, capture_output=True, text=True,
                          env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the hook refused:\n{proc.stderr}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--approvals", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=41)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = ROOT / "target" / "release" / "countersign"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = dict(os.environ, GIT_AUTHOR_NAME="Bob Dev", GIT_AUTHOR_EMAIL="bob@example.com",
                   GIT_COMMITTER_NAME="Bob Dev", GIT_COMMITTER_EMAIL="bob@example.com")
        work = root / "work"
        git("init", "-q", "-b", "main", str(work))
        (work / "a.txt").write_text("a\n")
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "Base", cwd=work, env=env)
        base = git("rev-parse", "HEAD", cwd=work)
        empty = server(root, "empty.git", binary, 0, base, work)
        full = server(root, "full.git", binary, args.approvals, base, work)
        (work / "a.txt").write_text("b\n")
        git("commit", "-q", "-am", "Change", cwd=work, env=env)
        new = git("rev-parse", "HEAD", cwd=work)
        for bare in (empty, full):
            git("push", "-q", str(bare), f"{new}:refs/heads/topic", cwd=work)
            # Carol's approval, recorded as her push would: found by its patch-id.
            out = subprocess.run([str(binary), "check", "--policy", str(bare / "policy.toml"), "--repo", str(bare),
                                  "--format", "json", "--dry-run", f"{base}..{new}"], capture_output=True, text=True)
            patch_id = __import__("json").loads(out.stdout)["refs"][0]["commits"][0]["patch_id"]
            git("update-ref", f"refs/countersign/approvals/{patch_id}/carol", new, cwd=bare)
        stdin = f"{base} {new} refs/heads/main\n"
        hook_env = dict(os.environ, GIT_DIR=".")
        times = {empty: [], full: []}
        for _ in range(args.runs):
            for bare in (empty, full):
                times[bare].append(hook_once(binary, bare, stdin, hook_env))
        none, many = (statistics.median(times[b]) * 1000 for b in (empty, full))
        print("| the hook alone, one commit approved by recording | time |")
        print("| --- | ---: |")
        print(f"| no other recorded approvals | {none:.1f} ms |")
        print(f"| {args.approvals} other recorded approvals (packed) | {many:.1f} ms |")
        print(f"| ratio | {many / none:.2f}x |")


if __name__ == "__main__":
    main()
