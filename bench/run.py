"""countersign against plain git on the same generated repository: time and peak memory.

    python3 bench/run.py [--commits 100000] [--files 50000] [--refs 100000] [--runs 3]

Builds the release binary, generates (once, cached under target/bench-data) a seeded repository
with bench/generate.py, then times side by side:
  1. `countersign check` over the whole history, trailer rules only,
     vs `git log --format='%(trailers:only,unfold)'`;
  2. the same with a tier-1 path rule, vs `git log --name-only --format=%B`, on the repository as
     generated and again with changed-path filters in its commit-graph;
  3. a one-commit `git push` into a bare copy, with and without the hook, and the hook alone;
  4. with --refs N: the hooked push and the hook alone on a copy of the server with N unrelated
     refs added, taking turns with the server without them;
  5. unless --no-formats: the hooked push and the hook alone on a copy of the server migrated to
     reftable refs, taking turns with the files one; and the check with the path rule on the same
     history generated into a SHA-256 repository (cached too), against the SHA-1 one.
Each figure is the median wall time of --runs runs (pushes: --pushes runs); memory is the peak
resident set of the process (for a push: of the hook process tree's largest member).

Real histories instead (no network needed: give local copies, such as bare `--shared` clones of
git/git or ghostty-org/ghostty, with or without `git commit-graph write --reachable
--changed-paths`):

    python3 bench/run.py --real ~/data/git-graph:v2.40.0..v2.47.0 --real ~/data/crush-nograph

Each `PATH[:RANGE]` (RANGE defaults to HEAD, the whole history) is timed with the trailer rules
against `git log --format=%(trailers:only,unfold) RANGE`, and with a tier-1 path rule (globs that
match a busy directory of each of those projects) against `git log --name-only --format=%B RANGE`.
Their commits match nobody the policy lists, so every commit fails and every merge is examined
for its exemption: the worst case. --before BIN times another build too, the builds and git
taking turns run by run (the machine's speed drifts within minutes), for a before/now table.
--save-json DIR writes each JSON report, sorted, to compare verdicts between two builds (--bin).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402


def run(cmd, cwd=None, env=None, stdin=None):
    """Runs `cmd`, output discarded; returns (seconds, peak RSS in MiB, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if stdin:
        proc.stdin.write(stdin.encode())
        proc.stdin.close()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def median_run(cmd, runs, **kw):
    results = [run(cmd, **kw) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results), results[-1][2]


def git(*args, cwd=None, capture=False):
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return out.stdout.strip() if capture else None


def dataset(args, object_format="sha1"):
    suffix = "" if object_format == "sha1" else f"-{object_format}"
    data = ROOT / "target" / "bench-data" / f"c{args.commits}-f{args.files}-s{args.seed}{suffix}"
    if (data / ".complete").exists():
        return data
    shutil.rmtree(data, ignore_errors=True)
    data.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating {args.commits} commits over {args.files} files in {data} ...", flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), str(data), str(args.commits),
                    str(args.files), str(args.seed), object_format], check=True)
    # What a server holds after its first gc: one pack with deltas and a commit-graph.
    git("-C", str(data), "repack", "-adq")
    git("-C", str(data), "commit-graph", "write", "--reachable")
    (data / ".complete").touch()
    print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return data


def add_refs(repo, count, seed):
    """`count` unrelated refs (as a forge's pull-request refs) on commits spread over history."""
    commits = git("-C", str(repo), "rev-list", "main", capture=True).split()
    lines = "".join(f"create refs/pull/{i}/head {commits[(i * 7919 + seed) % len(commits)]}\n"
                    for i in range(count))
    subprocess.run(["git", "-C", str(repo), "update-ref", "--stdin"], input=lines, text=True, check=True)
    git("-C", str(repo), "pack-refs", "--all")


def hook_seconds(trace):
    """How long the pre-receive hook ran inside a push, from git's own trace2 events: the
    push's total varies by more than the hook costs."""
    started = set()
    for line in Path(trace).read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "child_start" and event.get("child_class") == "hook":
            started.add((event["sid"], event["child_id"]))
        elif event.get("event") == "child_exit" and (event["sid"], event["child_id"]) in started:
            return event["t_rel"]
    sys.exit("no pre-receive hook ran in the push")


def install_hook(server, binary, policy, hook):
    hook_path = server / "hooks" / "pre-receive"
    if hook:
        shutil.copy(ROOT / "hooks" / "pre-receive", hook_path)
        hook_path.chmod(0o755)
        git("-C", str(server), "config", "countersign.bin", str(binary))
        git("-C", str(server), "config", "countersign.policy", str(policy))
    elif hook_path.exists():
        hook_path.unlink()


def push_timings(servers, work, args, hook, old):
    """Per server, the median seconds of a one-commit push, resetting main to `old` before each
    (the servers take turns, so a drift in the machine's speed touches them alike); with the
    hook, also the median time the hook itself ran within the push."""
    times = {server: [] for server in servers}
    hook_times = {server: [] for server in servers}
    trace = work.parent / "trace2.json"
    for _ in range(args.pushes):
        for server in servers:
            git("-C", str(server), "update-ref", "refs/heads/main", old)
            trace.unlink(missing_ok=True)
            env = dict(os.environ, GIT_TRACE2_EVENT=str(trace))
            seconds, _, code = run(["git", "-C", str(work), "push", "-q", str(server), "HEAD:main"], env=env)
            if code != 0:
                sys.exit(f"push failed (hook={hook})")
            times[server].append(seconds)
            if hook:
                hook_times[server].append(hook_seconds(trace))
    return [(statistics.median(times[s]), statistics.median(hook_times[s]) if hook else None) for s in servers]


def hook_alone(servers, binary, policy, old, new, runs):
    """Per server, the median seconds and peak RSS of the hook run by hand, servers in turn."""
    results = {server: [] for server in servers}
    for _ in range(runs):
        for server in servers:
            env = dict(os.environ, GIT_DIR=str(server))
            stdin = f"{old} {new} refs/heads/main\n"
            result = run([str(binary), "pre-receive", "--policy", str(policy)], env=env, stdin=stdin)
            if result[2] != 0:
                sys.exit(f"the hook refused the benchmark's approved commit (exit {result[2]})")
            results[server].append(result)
    return [(statistics.median(r[0] for r in results[s]), max(r[1] for r in results[s])) for s in servers]


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               "unknown cpu")
    mem = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    git_version = git("--version", capture=True)
    return f"{os.cpu_count()} cores ({cpu}), {mem / 2**20:.0f} GiB, {git_version}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--refs", type=int, default=100_000, help="unrelated refs for the refs test (0: skip)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pushes", type=int, default=15)
    parser.add_argument("--bin", type=Path, help="a built countersign (default: cargo build --release)")
    parser.add_argument("--no-formats", action="store_true", help="skip the reftable and SHA-256 measurements")
    parser.add_argument("--real", action="append", default=[], metavar="PATH[:RANGE]",
                        help="time a local copy of a real history instead of the generated one (repeatable)")
    parser.add_argument("--timeout", type=float, default=900,
                        help="with --real: give up on a countersign run after this many seconds")
    parser.add_argument("--before", type=Path, metavar="BIN",
                        help="with --real: time this build as well, taking turns with --bin and git")
    parser.add_argument("--save-json", type=Path, metavar="DIR",
                        help="with --real: write each history's JSON report, sorted, into DIR")
    args = parser.parse_args()

    binary = args.bin
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
        binary = ROOT / "target" / "release" / "countersign"
    binary = binary.resolve()
    if args.real:
        real_histories(args, binary)
        return
    data = dataset(args)
    scratch = Path(tempfile.mkdtemp(prefix="countersign-bench-"))
    try:
        rows = measure(args, binary, data, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nmachine: {machine()}")
    print(f"data: {args.commits} commits, {args.files} files (seed {args.seed}); median of {args.runs} runs, "
          f"pushes median of {args.pushes}\n")
    print("| measurement | countersign | git | ratio | countersign peak RSS | git peak RSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, ours, theirs, ours_rss, theirs_rss in rows:
        ratio = f"{ours / theirs:.2f}x" if theirs else ""
        theirs_text = f"{theirs * 1000:.1f} ms" if theirs else ""
        theirs_rss_text = f"{theirs_rss:.0f} MiB" if theirs_rss else ""
        ours_rss_text = f"{ours_rss:.0f} MiB" if ours_rss else ""
        print(f"| {name} | {ours * 1000:.1f} ms | {theirs_text} | {ratio} | {ours_rss_text} | {theirs_rss_text} |")


def measure(args, binary, data, scratch):
    rows = []
    trailers_policy = scratch / "trailers.toml"
    trailers_policy.write_text(generate.policy_toml(path_rule=False))
    paths_policy = scratch / "paths.toml"
    paths_policy.write_text(generate.policy_toml(path_rule=True))

    def check(policy, repo=data):
        return [str(binary), "check", "--dry-run", "--repo", str(repo), "--policy", str(policy), "main"]

    ours = median_run(check(trailers_policy), args.runs)
    theirs = median_run(["git", "-C", str(data), "log", "--format=%(trailers:only,unfold)", "main"], args.runs)
    rows.append(("check, trailer rules only / git log --format=%(trailers:only,unfold)",
                 ours[0], theirs[0], ours[1], theirs[1]))
    ours = median_run(check(paths_policy), args.runs)
    theirs = median_run(["git", "-C", str(data), "log", "--name-only", "--format=%B", "main"], args.runs)
    rows.append(("check, with a tier-1 path rule / git log --name-only --format=%B",
                 ours[0], theirs[0], ours[1], theirs[1]))

    # The same history on a server whose commit-graph carries changed-path filters (GitLab's
    # housekeeping writes them; `git commit-graph write --changed-paths` does by hand).
    filtered = scratch / "filtered.git"
    git("clone", "-q", "--bare", "--shared", str(data), str(filtered))
    git("-C", str(filtered), "commit-graph", "write", "--reachable", "--changed-paths")
    ours = median_run([str(binary), "check", "--dry-run", "--repo", str(filtered), "--policy", str(paths_policy),
                       "main"], args.runs)
    theirs = median_run(["git", "-C", str(filtered), "log", "--name-only", "--format=%B", "main"], args.runs)
    rows.append(("  the same, the commit-graph with changed-path filters",
                 ours[0], theirs[0], ours[1], theirs[1]))

    server = scratch / "server.git"
    work = scratch / "work"
    git("clone", "-q", "--bare", str(data), str(server))
    git("clone", "-q", "--shared", str(server), str(work))
    (work / "bench.txt").write_text("one more line\n")
    git("-C", str(work), "add", "bench.txt")
    git("-C", str(work), "-c", "user.name=Dev 07", "-c", "user.email=dev07@example.com", "commit", "-q", "-m",
        "Add a line\n\nReviewed-by: Dev 08 <dev08@example.com>\nApproved-by: Dev 01 <dev01@example.com>")
    old = git("-C", str(server), "rev-parse", "main", capture=True)
    new = git("-C", str(work), "rev-parse", "HEAD", capture=True)

    install_hook(server, binary, paths_policy, False)
    [(plain, _)] = push_timings([server], work, args, False, old)
    install_hook(server, binary, paths_policy, True)
    [(hooked, in_push)] = push_timings([server], work, args, True, old)
    rows.append(("one-commit git push, hook installed / no hook", hooked, plain, None, None))
    rows.append(("  the hook within the push (git's trace2)", in_push, None, None, None))
    [(alone, alone_rss)] = hook_alone([server], binary, paths_policy, old, new, args.pushes)
    rows.append(("the hook alone (countersign pre-receive)", alone, None, alone_rss, None))

    if args.refs:
        # The same server with the refs added, the hook timed on both in turn.
        with_refs = scratch / "with-refs.git"
        git("clone", "-q", "--bare", str(server), str(with_refs))
        install_hook(with_refs, binary, paths_policy, True)
        add_refs(with_refs, args.refs, args.seed)
        (hooked, in_push), (hooked_refs, in_push_refs) = push_timings([server, with_refs], work, args, True, old)
        rows.append((f"one-commit push with the hook, {args.refs} more refs / without them", hooked_refs, hooked,
                     None, None))
        rows.append(("  the hook within the push (git's trace2)", in_push_refs, in_push, None, None))
        (alone, alone_rss), (alone_refs, rss_refs) = hook_alone([server, with_refs], binary, paths_policy, old,
                                                                 new, args.pushes)
        rows.append((f"the hook alone, {args.refs} more refs / without them", alone_refs, alone, rss_refs,
                     alone_rss))

    if not args.no_formats:
        # The same server with its refs in a reftable (read by git, objects still by libgit2).
        reftable = scratch / "reftable.git"
        git("clone", "-q", "--bare", str(server), str(reftable))
        git("-C", str(reftable), "refs", "migrate", "--ref-format=reftable")
        install_hook(reftable, binary, paths_policy, True)
        (hooked, in_push), (hooked_reftable, in_push_reftable) = push_timings([server, reftable], work, args, True,
                                                                              old)
        rows.append(("one-commit push with the hook, reftable refs / files refs", hooked_reftable, hooked, None,
                     None))
        rows.append(("  the hook within the push (git's trace2)", in_push_reftable, in_push, None, None))
        (alone, alone_rss), (alone_reftable, rss_reftable) = hook_alone([server, reftable], binary, paths_policy,
                                                                       old, new, args.pushes)
        rows.append(("the hook alone, reftable refs / files refs", alone_reftable, alone, rss_reftable, alone_rss))
        # The same history with SHA-256 ids (libgit2's experimental SHA-256 reads it).
        sha256 = dataset(args, "sha256")
        ours = median_run(check(paths_policy, sha256), args.runs)
        theirs = median_run(check(paths_policy), args.runs)
        rows.append(("check with the path rule, SHA-256 repository / SHA-1 (same history)", ours[0], theirs[0],
                     ours[1], theirs[1]))
    return rows


# The tier-1 path rule of the real histories: a busy directory of each project, so the rule
# applies often and the walk has trees to read.
REAL_TIER1 = ["builtin/**", "refs/**", "src/terminal/**", "aider/coders/**", "internal/llm/**", "*.toml"]


def real_policy(path_rule):
    text = generate.policy_toml(path_rule=False)
    if path_rule:
        globs = ", ".join(f'"{g}"' for g in REAL_TIER1)
        text += f'\n[[rule]]\nname = "director audit for tier-1 systems"\nwhen = {{ paths = [{globs}] }}\n' \
                'from_role = "director"\n'
    return text


def real_histories(args, binary):
    scratch = Path(tempfile.mkdtemp(prefix="countersign-bench-"))
    trailers_policy = scratch / "trailers.toml"
    trailers_policy.write_text(real_policy(False))
    paths_policy = scratch / "paths.toml"
    paths_policy.write_text(real_policy(True))
    rows = []
    try:
        for spec in args.real:
            path, _, revision = spec.partition(":")
            revision = revision or "HEAD"
            repo = Path(path).expanduser().resolve()
            info = repo / "objects" / "info"
            graph = (info / "commit-graph").exists() or (info / "commit-graphs").exists()
            graph_bytes = b"".join(p.read_bytes() for p in [info / "commit-graph"] if p.exists())
            graph_text = ("with filters" if b"BDAT" in graph_bytes else "yes") if graph else "no"
            count = git("-C", str(repo), "rev-list", "--count", revision, capture=True)
            merges = git("-C", str(repo), "rev-list", "--count", "--merges", revision, capture=True)
            row = [repo.name, revision if revision != "HEAD" else "whole history", f"{int(count):,} ({int(merges):,})",
                   graph_text]
            for policy, git_cmd in [
                (trailers_policy, ["log", "--format=%(trailers:only,unfold)", revision]),
                (paths_policy, ["log", "--name-only", "--format=%B", revision]),
            ]:
                builds = {"now": binary, **({"before": args.before.resolve()} if args.before else {})}
                commands = {name: [str(build), "check", "--dry-run", "--repo", str(repo), "--policy", str(policy),
                                   revision] for name, build in builds.items()}
                commands["git"] = ["git", "-C", str(repo), *git_cmd]
                timed = taking_turns(commands, args.runs, args.timeout)
                row.append(timed)
                print(f"  {spec} {policy.stem}: " + ", ".join(
                    f"{name} {fmt_seconds(wall)} ({fmt_seconds(cpu)} CPU)" for name, (wall, cpu, _) in timed.items()),
                    flush=True)
            if args.save_json:
                for policy in [trailers_policy, paths_policy]:
                    save_json(args.save_json, repo, revision, binary, policy, args.timeout)
            rows.append(row)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nmachine: {machine()}")
    print(f"median of {args.runs} runs, wall time (CPU time, user + system, in brackets); tier-1 globs "
          f"{REAL_TIER1}\n")
    columns = ["before", "now", "git", "ratio"] if args.before else ["countersign", "git", "ratio"]
    header = [f"{rules}: {columns[0]}" if i == 0 else column for rules in ["trailer rules", "path rule"]
              for i, column in enumerate(columns)]
    print("| history | range | commits (merges) | commit-graph | " + " | ".join(header) + " | peak RSS |")
    print("| --- | --- | ---: | --- | " + " | ".join("---:" for _ in header) + " | ---: |")
    for name, revision, commits, graph, *policies in rows:
        cells = [name, revision, commits, graph]
        for timed in policies:
            (ours, _, _), (theirs, _, _) = timed["now"], timed["git"]
            ratio = f"{ours / theirs:.1f}x" if ours and theirs else ""
            builds = ["before", "now"] if args.before else ["now"]
            cells += [f"{fmt_seconds(timed[b][0])} ({fmt_seconds(timed[b][1])})" for b in builds]
            cells += [fmt_seconds(theirs), ratio]
        rss = max(timed["now"][2] for timed in policies)
        cells.append(f"{rss:.0f} MiB" if rss else "")
        print("| " + " | ".join(cells) + " |")


def taking_turns(commands, runs, timeout):
    """Per named command, the median wall and CPU (user + system) seconds of `runs` runs, one
    run of each in turn, and the largest peak RSS; (None, None, 0) for a command a run of which
    was slower than `timeout` seconds (it is not run again)."""
    results = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            if results[name] is None:
                continue
            result = run_with_timeout(cmd, timeout)
            results[name] = None if result[0] is None else results[name] + [result]
    return {name: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs), max(r[2] for r in rs))
            if rs else (None, None, 0) for name, rs in results.items()}


def run_with_timeout(cmd, timeout):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            if os.waitstatus_to_exitcode(status) not in (0, 1):
                sys.exit(f"{cmd} failed")
            return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
        if time.perf_counter() - start > timeout:
            proc.kill()
            proc.wait()
            return None, None, 0
        time.sleep(0.002)


def fmt_seconds(seconds):
    return "> timeout" if seconds is None else f"{seconds:.2f} s"


def save_json(directory, repo, revision, binary, policy, timeout):
    """The JSON report, its commits sorted by id, as DIR/<repo>-<range>-<policy>.json.

    Written and sorted by child processes: a report of a whole history takes gigabytes to parse
    here, and every process this one starts afterwards would count them in its peak RSS (a
    child's high-water mark includes the parent's pages it starts out with)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{repo.name}-{revision.replace('/', '_')}-{policy.stem}.json"
    cmd = [str(binary), "check", "--dry-run", "--format", "json", "--repo", str(repo), "--policy", str(policy),
           revision]
    try:
        with open(path, "wb") as out:
            subprocess.run(cmd, stdout=out, stderr=subprocess.DEVNULL, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        path.unlink()
        return
    subprocess.run([sys.executable, "-c", SORT_REPORT, str(path)], check=True)


SORT_REPORT = """
import json, sys
report = json.load(open(sys.argv[1]))
for ref in report["refs"]:
    ref["commits"].sort(key=lambda c: c["id"])
open(sys.argv[1], "w").write(json.dumps(report, indent=1, sort_keys=True))
"""


if __name__ == "__main__":
    main()
