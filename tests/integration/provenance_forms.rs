//! Recall and precision of the built-in recognizers over generated commits: every real form of
//! `../shared/ai-provenance.md` (trailers, co-author and author identities, footer lines, Aider's
//! name and subject) and every listed near miss, dressed in seeded noise (other trailers around
//! them, key case, body paragraphs, human authors), made into commits by `git fast-import` and
//! judged by `countersign check --format json`. Every marked commit must be found, naming its
//! tool, and no unmarked one.

use std::collections::HashMap;
use std::fs;
use std::process::Command;

use crate::util::{BIN, XorShift};

/// Where a form goes in the commit.
#[derive(Clone, Copy)]
enum Place {
    /// A line of the trailer block.
    Trailer(&'static str),
    /// The author (and committer): `Name <email>`.
    Author(&'static str, &'static str),
    /// A line at the end of the body, after a blank line.
    Footer(&'static str),
    /// The subject line.
    Subject(&'static str),
}

/// Each real form and the tool its evidence must name.
const MARKED: &[(Place, &str)] = &[
    (Place::Trailer("Assisted-by: Claude:claude-opus-4-6 coccinelle sparse"), "Claude"),
    (Place::Trailer("Assisted-by: Crush:gpt-5"), "Crush"),
    (Place::Trailer("Assisted-by: Claude Code (claude-opus-4-6)"), "Claude Code"),
    (Place::Trailer("Assisted-by: generic LLM chatbot"), "generic LLM chatbot"),
    (Place::Trailer("Generated-by: GitHub Copilot"), "GitHub Copilot"),
    (Place::Trailer("AI-assisted: true"), "unnamed"),
    (Place::Trailer("AI-assisted-by: Gemini"), "Gemini"),
    (Place::Trailer("Co-authored-by-AI: GitHub Copilot (gpt-4.1)"), "GitHub Copilot"),
    (Place::Trailer("Made-with: Cursor"), "Cursor"),
    (
        Place::Trailer("Amp-Thread-ID: https://ampcode.com/threads/T-5f1c2a8e-1111-4222-8333-944455556666"),
        "Amp",
    ),
    (Place::Trailer("Claude-Session: https://claude.ai/code/session_01ABCdefGHIjkl"), "Claude Code"),
    (
        Place::Trailer(
            "Agent-Logs-Url: https://github.com/acme/app/sessions/0b4c6f0e-1d2e-4f5a-8b9c-0d1e2f3a4b5c",
        ),
        "GitHub Copilot",
    ),
    (Place::Trailer("Replit-Commit-Author: Agent"), "Replit Agent"),
    (Place::Trailer("Replit-Commit-Author: Assistant"), "Replit Agent"),
    (Place::Trailer("Entire-Checkpoint: a3b2c4d5e6f7"), "Entire"),
    (Place::Trailer("Entire-Checkpoint: 01JD7X2Q8V5K3M9N4P6R2T8W0Y"), "Entire"),
    (Place::Trailer("Co-Authored-By: Claude <noreply@anthropic.com>"), "Claude Code"),
    (Place::Trailer("Co-Authored-By: Claude Opus 4.6 (1M context) <noreply@anthropic.com>"), "Claude Code"),
    (
        Place::Trailer("Co-authored-by: claude[bot] <209825114+claude[bot]@users.noreply.github.com>"),
        "Claude",
    ),
    (Place::Author("copilot-swe-agent[bot]", "198982749+Copilot@users.noreply.github.com"), "GitHub Copilot"),
    (
        Place::Trailer("Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>"),
        "GitHub Copilot",
    ),
    (
        Place::Trailer("Co-authored-by: Copilot <223556219+Copilot@users.noreply.github.com>"),
        "GitHub Copilot",
    ),
    (Place::Trailer("Co-authored-by: Copilot <copilot@github.com>"), "GitHub Copilot"),
    (
        Place::Author(
            "Copilot Autofix powered by AI",
            "223894421+github-code-quality[bot]@users.noreply.github.com",
        ),
        "GitHub Copilot",
    ),
    (Place::Trailer("Co-authored-by: Codex <noreply@openai.com>"), "Codex"),
    (Place::Trailer("Co-authored-by: Codex <codex@openai.com>"), "Codex"),
    (
        Place::Trailer(
            "Co-authored-by: chatgpt-codex-connector[bot] <199175422+chatgpt-codex-connector[bot]@users.noreply.github.com>",
        ),
        "Codex",
    ),
    (Place::Trailer("Co-authored-by: aider <aider@aider.chat>"), "Aider"),
    (Place::Author("aider", "noreply@aider.dev"), "Aider"),
    (Place::Trailer("Co-authored-by: aider <noreply@aider.chat>"), "Aider"),
    (Place::Author("Paul Gauthier (aider)", "paul@example.com"), "Aider"),
    (Place::Trailer("Co-authored-by: Cursor Agent <cursoragent@cursor.com>"), "Cursor"),
    (
        Place::Trailer("Co-authored-by: cursor[bot] <206951365+cursor[bot]@users.noreply.github.com>"),
        "Cursor",
    ),
    (
        Place::Author(
            "devin-ai-integration[bot]",
            "158243242+devin-ai-integration[bot]@users.noreply.github.com",
        ),
        "Devin",
    ),
    (
        Place::Author("google-labs-jules[bot]", "161369871+google-labs-jules[bot]@users.noreply.github.com"),
        "Jules",
    ),
    (
        Place::Trailer(
            "Co-authored-by: gemini-code-assist[bot] <176961590+gemini-code-assist[bot]@users.noreply.github.com>",
        ),
        "Gemini Code Assist",
    ),
    (
        Place::Author(
            "amazon-q-developer[bot]",
            "208079219+amazon-q-developer[bot]@users.noreply.github.com",
        ),
        "Amazon Q Developer",
    ),
    (Place::Author("kiro-agent[bot]", "244629292+kiro-agent[bot]@users.noreply.github.com"), "Kiro"),
    (Place::Trailer("Co-authored-by: Amp <amp@ampcode.com>"), "Amp"),
    (Place::Trailer("Co-Authored-By: Crush <crush@charm.land>"), "Crush"),
    (Place::Trailer("Co-Authored-By: Cline <noreply@cline.bot>"), "Cline"),
    (Place::Trailer("Co-authored-by: cline[bot] <205137888+cline[bot]@users.noreply.github.com>"), "Cline"),
    (Place::Trailer("Co-Authored-By: Continue <noreply@continue.dev>"), "Continue"),
    (
        Place::Trailer("Co-authored-by: continue[bot] <230936708+continue[bot]@users.noreply.github.com>"),
        "Continue",
    ),
    (Place::Trailer("Co-Authored-By: Warp <agent@warp.dev>"), "Warp"),
    (
        Place::Trailer(
            "Co-authored-by: factory-droid[bot] <138933559+factory-droid[bot]@users.noreply.github.com>",
        ),
        "Factory",
    ),
    (
        Place::Trailer(
            "Co-authored-by: kiloconnect[bot] <240665456+kiloconnect[bot]@users.noreply.github.com>",
        ),
        "Kilo Code",
    ),
    (Place::Author("v0[bot]", "v0[bot]@users.noreply.github.com"), "v0"),
    (Place::Trailer("Co-authored-by: v0[bot] <v0[bot]@users.noreply.github.com>"), "v0"),
    (Place::Author("lovable-dev[bot]", "lovable-dev[bot]@users.noreply.github.com"), "Lovable"),
    (
        Place::Author("gpt-engineer-app[bot]", "159125892+gpt-engineer-app[bot]@users.noreply.github.com"),
        "Lovable",
    ),
    (Place::Author("sweep-ai[bot]", "128439645+sweep-ai[bot]@users.noreply.github.com"), "Sweep"),
    (
        Place::Trailer(
            "Co-authored-by: jetbrains-ai[bot] <220155983+jetbrains-ai[bot]@users.noreply.github.com>",
        ),
        "JetBrains AI",
    ),
    (
        Place::Author("jetbrains-junie[bot]", "201638009+jetbrains-junie[bot]@users.noreply.github.com"),
        "JetBrains Junie",
    ),
    (Place::Trailer("Co-authored-by: Codebuff <noreply@codebuff.com>"), "Codebuff"),
    (Place::Trailer("Co-authored-by: Freebuff <noreply@freebuff.com>"), "Freebuff"),
    (Place::Trailer("Co-authored-by: Qwen-Coder <qwen-coder@alibabacloud.com>"), "Qwen Code"),
    (Place::Trailer("Co-authored-by: opencode <noreply@opencode.ai>"), "OpenCode"),
    (Place::Trailer("Co-authored-by: Mistral Vibe <vibe@mistral.ai>"), "Mistral Vibe"),
    (Place::Trailer("Co-authored-by: openhands <openhands@all-hands.dev>"), "OpenHands"),
    (Place::Footer("🤖 Generated with [Claude Code](https://claude.com/claude-code)"), "Claude Code"),
    (Place::Footer("🤖 Generated with [Claude Code](https://claude.ai/code)"), "Claude Code"),
    (Place::Footer("Generated with [Devin](https://devin.ai)"), "Devin"),
    (Place::Footer("🤖 Generated with [opencode](https://opencode.ai)"), "OpenCode"),
    (Place::Footer("💘 Generated with Crush"), "Crush"),
    (Place::Footer("Generated by Mistral Vibe."), "Mistral Vibe"),
    (Place::Footer("🤖 Generated with [Cline](https://docs.cline.bot)"), "Cline"),
    (Place::Footer("Generated with [Continue](https://continue.dev)"), "Continue"),
    (Place::Footer("Generated with Codebuff"), "Codebuff"),
    (Place::Footer("🤖 Generated with Qwen Code"), "Qwen Code"),
    (Place::Subject("aider: fix the parser's off-by-one"), "Aider"),
];

/// Forms that look like a tool's and are not (`../shared/ai-provenance.md`, issue 19).
const NEAR_MISSES: &[Place] = &[
    Place::Author("Warp", "warp@example.com"),
    Place::Trailer("Co-authored-by: Warp <warp.person@example.com>"),
    Place::Trailer("Co-authored-by: Saoud <saoud@cline.bot>"),
    Place::Trailer("Co-authored-by: Aiden Cline <aiden@example.com>"),
    Place::Trailer("Replit-Commit-Author: Human"),
    Place::Author("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
    Place::Author("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com"),
    Place::Trailer("Co-authored-by: renovate[bot] <29139614+renovate[bot]@users.noreply.github.com>"),
    Place::Trailer("Co-authored-by: claude[bot] <1+claude[bot]@users.noreply.github.com>"),
    Place::Trailer("Co-authored-by: cline[bot] <205137889+cline[bot]@users.noreply.github.com>"),
    Place::Author("Copilot", "175728473+Copilot@users.noreply.github.com"),
    Place::Author("Codex", "codex@example.com"),
    Place::Trailer("Co-authored-by: Sam <sam@openai.com>"),
    Place::Author("Claude", "claude@example.com"),
    Place::Author("Jane", "jane@anthropic.com"),
    Place::Trailer("Assisted-by: Junio C Hamano <gitster@pobox.com>"),
    Place::Trailer("AI-assisted: no"),
    Place::Trailer("AI-assisted: None"),
    Place::Author("Paul (aider) Smith", "paul@example.com"),
    Place::Subject("Fix aider: typo in docs"),
    Place::Footer("We removed the Generated with [Claude Code]( badge."),
    Place::Author("Copilot Autofix powered by AI", "security@example.com"),
];

const HUMANS: &[(&str, &str)] =
    &[("Bob Dev", "bob@example.com"), ("Carol Dev", "carol@example.com"), ("Zoë Ünicode", "zoe@example.org")];
const OTHER_TRAILERS: &[&str] = &[
    "Signed-off-by: Bob Dev <bob@example.com>",
    "Reviewed-by: Carol Dev <carol@example.com>",
    "Fixes: #123",
    "Change-Id: I0123456789abcdef0123456789abcdef01234567",
    "Co-authored-by: Carol Dev <carol@example.com>",
];

/// A trailer's key in the case a project may write it.
fn recase(line: &str, rng: &mut XorShift) -> String {
    let (key, value) = line.split_once(": ").unwrap();
    let key = match rng.below(3) {
        0 => key.to_string(),
        1 => key.to_lowercase(),
        _ => key.split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect::<Vec<_>>().join("-"),
    };
    format!("{key}: {value}")
}

/// A commit carrying `form` (if any) among noise: `(author, message)`.
fn dress(form: Option<Place>, rng: &mut XorShift) -> ((String, String), String) {
    let (name, email) = HUMANS[rng.below(HUMANS.len())];
    let mut author = (name.to_string(), email.to_string());
    let mut subject = format!("Change {} in module {}", rng.below(1000), rng.below(50));
    let mut trailers: Vec<String> =
        (0..rng.below(3)).map(|_| OTHER_TRAILERS[rng.below(OTHER_TRAILERS.len())].to_string()).collect();
    let mut footer = None;
    match form {
        Some(Place::Trailer(line)) => {
            let at = rng.below(trailers.len() + 1);
            trailers.insert(at, recase(line, rng));
            // Replit writes its companions next to the author key.
            if line.starts_with("Replit") {
                trailers
                    .insert(at + 1, "Replit-Commit-Session-Id: 3f1b6a2e-9c0d-4e5f-8a7b-1c2d3e4f5a6b".into());
            }
        }
        Some(Place::Author(name, email)) => author = (name.to_string(), email.to_string()),
        Some(Place::Footer(line)) => footer = Some(line),
        Some(Place::Subject(line)) => subject = line.to_string(),
        None => {}
    }
    let mut message = subject + "\n";
    if rng.percent(60) {
        message.push_str("\nThe body explains why, over a line\nor two of prose.\n");
    }
    if let Some(line) = footer {
        message.push_str(&format!("\n{line}\n"));
    }
    if !trailers.is_empty() {
        message.push_str(&format!("\n{}\n", trailers.join("\n")));
    }
    (author, message)
}

#[test]
fn every_real_form_is_found_and_no_near_miss() {
    const COMMITS: usize = 800;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    // Every form and near miss at least once, then at random; a quarter plain human commits.
    let mut expected: Vec<Option<&str>> = Vec::new();
    let mut stream = String::new();
    for i in 0..COMMITS {
        let (form, tool) = match i {
            i if i < MARKED.len() => (Some(MARKED[i].0), Some(MARKED[i].1)),
            i if i < MARKED.len() + NEAR_MISSES.len() => (Some(NEAR_MISSES[i - MARKED.len()]), None),
            _ => match rng.below(4) {
                0 => (None, None),
                1 => (Some(NEAR_MISSES[rng.below(NEAR_MISSES.len())]), None),
                _ => {
                    let (form, tool) = MARKED[rng.below(MARKED.len())];
                    (Some(form), Some(tool))
                }
            },
        };
        let ((name, email), message) = dress(form, &mut rng);
        expected.push(tool);
        let parent = if i == 0 { String::new() } else { format!("from :{i}\n") };
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{}\nauthor {name} <{email}> {} +0000\ncommitter {name} <{email}> {} +0000\ndata {}\n{message}\n{parent}",
            i + 1,
            1_700_000_000 + i,
            1_700_000_000 + i,
            message.len(),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    let git = |args: &[&str], input: Option<&str>| {
        let mut command = Command::new("git");
        command.args(args).current_dir(repo).env("GIT_CONFIG_NOSYSTEM", "1").env("HOME", repo);
        match input {
            Some(input) => String::from_utf8(crate::util::output_fed(command, input.as_bytes())).unwrap(),
            None => String::from_utf8(command.output().unwrap().stdout).unwrap(),
        }
    };
    git(&["init", "-q", "-b", "main"], None);
    let marks = repo.join("marks");
    git(&["fast-import", "--quiet", &format!("--export-marks={}", marks.display())], Some(&stream));
    let mut index_of = HashMap::new();
    for line in fs::read_to_string(&marks).unwrap().lines() {
        let (mark, hash) = line.split_once(' ').unwrap();
        index_of.insert(hash.to_string(), mark[1..].parse::<usize>().unwrap() - 1);
    }
    fs::write(
        repo.join("policy.toml"),
        // Human help is help from a person the policy lists: Junio is one.
        "version = 1\n[[person]]\nname = \"Junio C Hamano\"\nemails = [\"gitster@pobox.com\"]\n\
         [[rule]]\nname = \"ai\"\nwhen = { ai_assisted = true }\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .args(["check", "--policy", "policy.toml", "--format", "json", "--dry-run", "main"])
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let commits = report["refs"][0]["commits"].as_array().unwrap();
    assert_eq!(commits.len(), COMMITS);

    let (mut hits, mut misses, mut false_alarms, mut wrong_tool) = (0, Vec::new(), Vec::new(), Vec::new());
    for commit in commits {
        let index = index_of[commit["id"].as_str().unwrap()];
        let found = commit["ai_assisted"].as_bool().unwrap();
        let tools: Vec<&str> =
            commit["evidence"].as_array().unwrap().iter().map(|e| e["tool"].as_str().unwrap()).collect();
        match (expected[index], found) {
            (Some(tool), true) => {
                hits += 1;
                if !tools.contains(&tool) {
                    wrong_tool.push(format!("#{index}: expected {tool}, got {tools:?}"));
                }
            }
            (Some(tool), false) => misses.push(format!("#{index} ({tool}): {}", commit["summary"])),
            (None, true) => false_alarms.push(format!("#{index}: {}", commit["evidence"])),
            (None, false) => {}
        }
    }
    let marked = expected.iter().filter(|e| e.is_some()).count();
    eprintln!(
        "provenance forms: {COMMITS} commits, {marked} marked; recall {hits}/{marked}, false positives {}",
        false_alarms.len()
    );
    assert!(misses.is_empty(), "missed:\n{}", misses.join("\n"));
    assert!(false_alarms.is_empty(), "false positives:\n{}", false_alarms.join("\n"));
    assert!(wrong_tool.is_empty(), "wrong tool:\n{}", wrong_tool.join("\n"));
}
