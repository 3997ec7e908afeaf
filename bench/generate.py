"""Seeded generator of a large, realistic repository for the benchmark.

Writes a `git fast-import` stream: one import of a tree of FILES files in deep folders, then
COMMITS commits that modify, add, delete and rename files, with realistic messages (trailer
blocks, AI co-authors on a fraction, approvals), and topic branches merged back. The same seed
always gives the same repository, so figures from two runs compare.
"""

import random
import subprocess
import sys

TOPS = ["app", "lib", "services", "infra", "payments", "docs", "tools", "web", "mobile", "data"]
WORDS = (
    "retry payment calls cache invalidate token refresh config parser handle timeout error "
    "logging metrics queue worker schedule billing invoice refund login session upgrade "
    "dependency migrate schema index query batch export import report render layout"
).split()
PEOPLE = [(f"Dev {i:02d}", f"dev{i:02d}@example.com") for i in range(20)]
SENIORS = PEOPLE[:5]
DIRECTORS = PEOPLE[:2]
AI_TRAILERS = [
    "Co-authored-by: Claude <noreply@anthropic.com>",
    "Assisted-by: GitHub Copilot",
    "Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>",
    "Generated-by: Cursor",
]


def policy_toml(path_rule: bool) -> str:
    """The benchmark's policy: everyone listed, two-person and senior rules, and optionally a
    tier-1 path rule (the expensive kind: it needs every commit's changed paths)."""
    out = ["version = 1", "[gate]", 'protected = ["refs/heads/main"]', ""]
    for name, email in PEOPLE:
        roles = []
        if (name, email) in SENIORS:
            roles.append('"senior"')
        if (name, email) in DIRECTORS:
            roles.append('"director"')
        out += ["[[person]]", f'name = "{name}"', f'emails = ["{email}"]', f"roles = [{', '.join(roles)}]", ""]
    out += ["[[rule]]", 'name = "two-person review"', ""]
    out += ["[[rule]]", 'name = "senior sign-off for AI-assisted changes"', "when = { ai_assisted = true }",
            'from_role = "senior"', ""]
    if path_rule:
        out += ["[[rule]]", 'name = "director audit for tier-1 systems"',
                'when = { paths = ["infra/**", "payments/**", "services/m3/**"] }', 'from_role = "director"', ""]
    return "\n".join(out)


class Stream:
    def __init__(self, out):
        self.out = out
        self.mark = 0
        self.time = 1_600_000_000

    def data(self, text: str):
        raw = text.encode()
        self.out.write(b"data %d\n" % len(raw))
        self.out.write(raw)
        self.out.write(b"\n")

    def commit(self, ref, author, message, parents, changes):
        self.mark += 1
        self.time += 600
        name, email = author
        self.out.write(f"commit {ref}\nmark :{self.mark}\n".encode())
        self.out.write(f"author {name} <{email}> {self.time} +0000\n".encode())
        self.out.write(f"committer {name} <{email}> {self.time} +0000\n".encode())
        self.data(message)
        if parents:
            self.out.write(f"from :{parents[0]}\n".encode())
            for parent in parents[1:]:
                self.out.write(f"merge :{parent}\n".encode())
        for change in changes:
            self.out.write(change)
        self.out.write(b"\n")
        return self.mark


def modify(path, content):
    raw = content.encode()
    return b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(raw), raw)


def message(rng, author):
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))).capitalize()
    body = []
    for _ in range(rng.randint(0, 2)):
        body.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))))
    trailers = []
    ai = rng.random() < 0.2
    if ai:
        trailers.append(rng.choice(AI_TRAILERS))
    if rng.random() < 0.9:
        reviewer = rng.choice([p for p in PEOPLE if p != author])
        trailers.append(f"Reviewed-by: {reviewer[0]} <{reviewer[1]}>")
    if ai and rng.random() < 0.85:
        senior = rng.choice([p for p in SENIORS if p != author])
        trailers.append(f"Approved-by: {senior[0]} <{senior[1]}>")
    if rng.random() < 0.3:
        director = rng.choice([p for p in DIRECTORS if p != author])
        trailers.append(f"Approved-by: {director[0]} <{director[1]}>")
    trailers.append(f"Signed-off-by: {author[0]} <{author[1]}>")
    return "\n\n".join([subject] + body + ["\n".join(trailers)]) + "\n"


def generate(out, commits: int, files: int, seed: int):
    rng = random.Random(seed)
    stream = Stream(out)
    paths = []
    seen = set()
    while len(paths) < files:
        depth = rng.randint(1, 5)
        parts = [rng.choice(TOPS)] + [f"m{rng.randrange(8)}" for _ in range(depth)]
        path = "/".join(parts) + f"/f{len(paths)}.rs"
        if path not in seen:
            seen.add(path)
            paths.append(path)
    version = {}
    initial = []
    for path in paths:
        version[path] = 0
        initial.append(modify(path, f"{path} v0\n"))
    head = stream.commit("refs/heads/main", PEOPLE[0], "Initial import\n", [], initial)
    live = list(paths)
    made = 1
    next_file = files

    def edit(path):
        version[path] = version.get(path, 0) + 1
        return modify(path, f"{path} v{version[path]}\n")

    while made < commits:
        if made % 50 == 0 and commits - made > 8:
            # A topic branch of three commits, two more on main, then a merge.
            topic = head
            touched = {}
            for _ in range(3):
                author = rng.choice(PEOPLE)
                picks = rng.sample(live, 2)
                topic = stream.commit("refs/heads/topic", author, message(rng, author), [topic],
                                      [edit(p) for p in picks])
                touched.update({p: version[p] for p in picks})
                made += 1
            for _ in range(2):
                author = rng.choice(PEOPLE)
                head = stream.commit("refs/heads/main", author, message(rng, author), [head],
                                     [edit(p) for p in rng.sample(live, 2)])
                made += 1
            author = rng.choice(PEOPLE)
            merge_changes = [modify(p, f"{p} v{v} merged\n") for p, v in touched.items()]
            head = stream.commit("refs/heads/main", author, f"Merge topic\n\nReviewed-by: {PEOPLE[3][0]} <{PEOPLE[3][1]}>\n",
                                 [head, topic], merge_changes)
            made += 1
            continue
        author = rng.choice(PEOPLE)
        roll = rng.random()
        if roll < 0.03:
            parent = rng.choice(live).rsplit("/", 1)[0]
            path = f"{parent}/n{next_file}.rs"
            next_file += 1
            live.append(path)
            changes = [edit(path)]
        elif roll < 0.05 and len(live) > files // 2:
            path = live.pop(rng.randrange(len(live)))
            changes = [f"D {path}\n".encode()]
        elif roll < 0.07:
            index = rng.randrange(len(live))
            old = live[index]
            new = f"{rng.choice(TOPS)}/m{rng.randrange(8)}/r{next_file}.rs"
            next_file += 1
            live[index] = new
            version[new] = version.get(old, 0)
            changes = [f"R {old} {new}\n".encode()]
        else:
            changes = [edit(p) for p in rng.sample(live, rng.randint(1, 4))]
        head = stream.commit("refs/heads/main", author, message(rng, author), [head], changes)
        made += 1
    out.write(b"done\n")


def main():
    repo, commits, files, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    object_format = sys.argv[5] if len(sys.argv) > 5 else "sha1"
    subprocess.run(["git", "init", "-q", "-b", "main", f"--object-format={object_format}", repo], check=True)
    importer = subprocess.Popen(["git", "-C", repo, "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE)
    generate(importer.stdin, commits, files, seed)
    importer.stdin.close()
    if importer.wait() != 0:
        sys.exit("git fast-import failed")
    subprocess.run(["git", "-C", repo, "branch", "-q", "-D", "topic"], check=False)


if __name__ == "__main__":
    main()
