use super::*;
use crate::globs::{GlobKind, GlobList};

fn config() -> ProvenanceConfig {
    ProvenanceConfig {
        builtin: true,
        trailer_keys: vec!["Assisted-by".into(), "Generated-by".into(), "AI-assisted".into()],
        none_values: vec!["no".into(), "none".into(), "false".into()],
        footers: true,
        notes: Vec::new(),
        identities: GlobList::new(
            vec!["*@agents.example.com".into(), "ai-bot@example.com".into()],
            GlobKind::Email,
        )
        .unwrap(),
    }
}

fn sig(name: &str, email: &str) -> Signature {
    Signature { name: name.into(), email: email.into() }
}

fn commit_by(author: Signature, message: &str) -> CommitFacts {
    CommitFacts::of_message("0".repeat(40), author.clone(), author, message.into())
}

fn commit(message: &str) -> CommitFacts {
    commit_by(sig("Bob Dev", "bob@example.com"), message)
}

fn detect_with(config: &ProvenanceConfig, commit: &CommitFacts) -> Provenance {
    Detector::new(config).detect(commit)
}

fn detect(commit: &CommitFacts) -> Provenance {
    detect_with(&config(), commit)
}

fn kinds(p: &Provenance) -> Vec<(EvidenceKind, &str)> {
    p.evidence.iter().map(|e| (e.kind, e.text.as_str())).collect()
}

/// Asserts the message's trailer block alone marks the commit, citing that exact line.
fn assert_trailer_marks(message_trailer: &str, kind: EvidenceKind) {
    let p = detect(&commit(&format!("Fix it\n\nBody.\n\n{message_trailer}\n")));
    assert!(p.ai_assisted, "{message_trailer}");
    assert_eq!(kinds(&p), [(kind, message_trailer)], "{message_trailer}");
}

#[test]
fn kernel_assisted_by_with_agent_and_tools() {
    assert_trailer_marks("Assisted-by: Claude:claude-opus-4-6 coccinelle sparse", EvidenceKind::Trailer);
}

#[test]
fn assisted_by_crush_and_generic_chatbot() {
    assert_trailer_marks("Assisted-by: Crush:gpt-5", EvidenceKind::Trailer);
    assert_trailer_marks("Assisted-by: generic LLM chatbot", EvidenceKind::Trailer);
}

#[test]
fn generated_by_copilot() {
    assert_trailer_marks("Generated-by: GitHub Copilot", EvidenceKind::Trailer);
}

#[test]
fn ai_assisted_variants() {
    assert_trailer_marks("AI-assisted: true", EvidenceKind::Trailer);
    assert_trailer_marks("AI-assisted-by: Gemini", EvidenceKind::Trailer);
    assert_trailer_marks("Co-authored-by-AI: GitHub Copilot (gpt-4.1)", EvidenceKind::Trailer);
}

#[test]
fn cursor_amp_claude_session_copilot_agent_trailers() {
    assert_trailer_marks("Made-with: Cursor", EvidenceKind::Trailer);
    assert_trailer_marks(
        "Amp-Thread-ID: https://ampcode.com/threads/T-5f1c2a8e-1111-4222-8333-944455556666",
        EvidenceKind::Trailer,
    );
    assert_trailer_marks("Claude-Session: https://claude.ai/code/session_01ABCdef", EvidenceKind::Trailer);
    assert_trailer_marks(
        "Agent-Logs-Url: https://github.com/acme/app/sessions/0b4c6f0e-1d2e-4f5a-8b9c-0d1e2f3a4b5c",
        EvidenceKind::Trailer,
    );
}

#[test]
fn trailer_keys_compare_case_insensitively() {
    assert_trailer_marks("assisted-BY: Claude", EvidenceKind::Trailer);
    assert_trailer_marks("Co-Authored-By: Claude <noreply@anthropic.com>", EvidenceKind::Identity);
}

#[test]
fn every_builtin_identity_marks_a_co_author() {
    for (name, email) in [
        ("Claude", "noreply@anthropic.com"),
        ("Claude Opus 4.6 (1M context)", "noreply@anthropic.com"),
        ("claude[bot]", "209825114+claude[bot]@users.noreply.github.com"),
        ("Copilot", "175728472+Copilot@users.noreply.github.com"),
        ("Copilot", "223556219+Copilot@users.noreply.github.com"),
        ("Copilot", "copilot@github.com"),
        ("github-code-quality[bot]", "223894421+github-code-quality[bot]@users.noreply.github.com"),
        ("Codex", "noreply@openai.com"),
        ("chatgpt-codex-connector[bot]", "199175422+chatgpt-codex-connector[bot]@users.noreply.github.com"),
        ("aider", "aider@aider.chat"),
        ("aider", "noreply@aider.dev"),
        ("aider", "noreply@aider.chat"),
        ("Cursor Agent", "cursoragent@cursor.com"),
        ("devin-ai-integration[bot]", "158243242+devin-ai-integration[bot]@users.noreply.github.com"),
        ("google-labs-jules[bot]", "161369871+google-labs-jules[bot]@users.noreply.github.com"),
        ("Amp", "amp@ampcode.com"),
        ("Crush", "crush@charm.land"),
        ("Qwen-Coder", "qwen-coder@alibabacloud.com"),
        ("opencode", "noreply@opencode.ai"),
        ("Mistral Vibe", "vibe@mistral.ai"),
        ("openhands", "openhands@all-hands.dev"),
        ("gemini-code-assist[bot]", "176961590+gemini-code-assist[bot]@users.noreply.github.com"),
    ] {
        assert_trailer_marks(&format!("Co-authored-by: {name} <{email}>"), EvidenceKind::Identity);
    }
}

#[test]
fn copilot_coding_agent_as_author() {
    let author = sig("copilot-swe-agent[bot]", "198982749+Copilot@users.noreply.github.com");
    let p = detect(&commit_by(author, "Add retries\n"));
    assert!(p.ai_assisted);
    assert_eq!(p.evidence.len(), 2, "author and committer: {:?}", p.evidence);
    assert_eq!(
        p.evidence[0].text,
        "author: copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>"
    );
}

#[test]
fn aider_name_suffix_and_subject() {
    let p = detect(&commit_by(sig("Paul Gauthier (aider)", "paul@example.com"), "aider: fix parser\n"));
    assert!(p.ai_assisted);
    assert_eq!(
        kinds(&p),
        [
            (EvidenceKind::Name, "author name: Paul Gauthier (aider)"),
            (EvidenceKind::Name, "committer name: Paul Gauthier (aider)"),
            (EvidenceKind::Footer, "subject: aider: fix parser"),
        ]
    );
}

#[test]
fn footer_lines_of_each_tool() {
    for line in [
        "🤖 Generated with [Claude Code](https://claude.com/claude-code)",
        "🤖 Generated with [Claude Code](https://claude.ai/code)",
        "Generated with [Devin](https://devin.ai)",
        "🤖 Generated with [opencode](https://opencode.ai)",
        "💘 Generated with Crush",
        "Generated by Mistral Vibe.",
    ] {
        let p = detect(&commit(&format!("Subject\n\nBody text.\n\n{line}\n")));
        assert_eq!(kinds(&p), [(EvidenceKind::Footer, line)], "{line}");
        assert!(p.ai_assisted, "{line}");
    }
}

#[test]
fn footers_are_reported_but_do_not_count_when_policy_says_so() {
    let config = ProvenanceConfig { footers: false, ..config() };
    let p = detect_with(
        &config,
        &commit("S\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)\n"),
    );
    assert_eq!(p.evidence.len(), 1);
    assert!(!p.ai_assisted);
}

#[test]
fn policy_identity_globs_mark_authors_and_trailers() {
    let p = detect(&commit_by(sig("Deploy Bot", "deployer@agents.example.com"), "S\n"));
    assert!(p.ai_assisted);
    assert_trailer_marks("Co-authored-by: Bot <AI-BOT@example.com>", EvidenceKind::Identity);
}

#[test]
fn policy_trailer_keys_extend_the_builtin_list() {
    let config = ProvenanceConfig { trailer_keys: vec!["X-AI".into()], ..config() };
    assert!(detect_with(&config, &commit("S\n\nX-AI: yes\n")).ai_assisted);
    // Built-ins still apply alongside.
    assert!(detect_with(&config, &commit("S\n\nMade-with: Cursor\n")).ai_assisted);
}

#[test]
fn builtin_off_keeps_only_the_policy_recognizers() {
    let config = ProvenanceConfig { builtin: false, ..config() };
    assert!(
        !detect_with(&config, &commit("S\n\nCo-authored-by: Claude <noreply@anthropic.com>\n")).ai_assisted
    );
    assert!(!detect_with(&config, &commit("S\n\nMade-with: Cursor\n")).ai_assisted);
    assert!(detect_with(&config, &commit("S\n\nAssisted-by: Claude\n")).ai_assisted);
}

// Near misses: each must NOT mark the commit.

#[test]
fn human_named_like_a_tool_is_not_ai() {
    for (name, email) in [
        ("Aiden Cline", "aiden@example.com"),
        ("Codex", "codex@example.com"),
        ("Claude", "claude@example.com"),
    ] {
        let p = detect(&commit_by(sig(name, email), &format!("S\n\nCo-authored-by: {name} <{email}>\n")));
        assert!(p.evidence.is_empty(), "{name}: {:?}", p.evidence);
    }
}

#[test]
fn human_at_an_ai_vendor_is_not_ai() {
    let p = detect(&commit(
        "S\n\nCo-authored-by: Sam Altman <sam@openai.com>\nReviewed-by: Eng <eng@anthropic.com>\n",
    ));
    assert!(p.evidence.is_empty(), "{:?}", p.evidence);
}

#[test]
fn declared_no_ai_is_not_ai() {
    for value in ["no", "None", " FALSE "] {
        let p = detect(&commit(&format!("S\n\nAI-assisted: {value}\n")));
        assert!(!p.ai_assisted, "{value}");
    }
}

fn policy_knowing_junio() -> Policy {
    let text = "version = 1\n[approvals]\nreviewers = [\"*@reviewers.example\"]\n\
                [[person]]\nname = \"Junio C Hamano\"\nemails = [\"gitster@pobox.com\"]\n";
    let source = crate::policy::PolicySource::new("test", text.to_string());
    Policy::parse(source, jiff::civil::Date::new(2026, 1, 1).unwrap()).unwrap()
}

#[test]
fn assisted_by_a_person_the_policy_lists_is_human_help() {
    let policy = policy_knowing_junio();
    let detector = Detector::of(&policy);
    for line in
        ["Assisted-by: Junio C Hamano <gitster@pobox.com>", "Assisted-by: Pat <pat@reviewers.example>"]
    {
        let p = detector.detect(&commit(&format!("S\n\n{line}\n")));
        assert!(p.evidence.is_empty(), "{line}: {:?}", p.evidence);
    }
}

#[test]
fn assisted_by_an_address_the_policy_does_not_know_is_ai() {
    let policy = policy_knowing_junio();
    for line in ["Assisted-by: ChatGPT <chatgpt@openai.com>", "Generated-by: Helper <helper@example.org>"] {
        let p = Detector::of(&policy).detect(&commit(&format!("S\n\n{line}\n")));
        assert!(p.ai_assisted, "{line}");
        assert_eq!(p.evidence[0].kind, EvidenceKind::Trailer, "{line}");
        assert_eq!(p.evidence[0].text, line);
    }
    // Without a policy nobody's help is known to be human.
    assert!(detect(&commit("S\n\nAssisted-by: Junio C Hamano <gitster@pobox.com>\n")).ai_assisted);
}

#[test]
fn trailer_lookalike_in_the_body_is_not_evidence() {
    let p = detect(&commit(
        "S\n\nAssisted-by: Claude\nthis paragraph is prose, not trailers.\n\nReviewed-by: A <a@example.com>\n",
    ));
    assert!(p.evidence.is_empty(), "{:?}", p.evidence);
}

#[test]
fn footer_text_inside_a_sentence_is_not_a_footer() {
    let p = detect(&commit("S\n\nWe removed the Generated with [Claude Code]( badge.\n"));
    assert!(p.evidence.is_empty(), "{:?}", p.evidence);
}

#[test]
fn aider_inside_a_name_or_subject_is_not_aider() {
    let p = detect(&commit_by(sig("Paul (aider) Smith", "p@example.com"), "Fix aider: typo\n"));
    assert!(p.evidence.is_empty(), "{:?}", p.evidence);
}

#[test]
fn vendor_domain_is_not_an_identity() {
    let p = detect(&commit_by(sig("Jane", "jane@anthropic.com"), "S\n"));
    assert!(p.evidence.is_empty());
}

#[test]
fn trailer_values_are_unfolded_before_matching() {
    let p = detect(&commit("S\n\nCo-authored-by: Claude\n <noreply@anthropic.com>\n"));
    assert_eq!(kinds(&p), [(EvidenceKind::Identity, "Co-authored-by: Claude <noreply@anthropic.com>")]);
}

#[test]
fn evidence_names_the_tool() {
    let tools = |message: &str| -> Vec<String> {
        detect(&commit(message)).evidence.into_iter().map(|e| e.tool).collect()
    };
    assert_eq!(tools("S\n\nAssisted-by: Claude:claude-opus-4-6 coccinelle\n"), ["Claude"]);
    assert_eq!(tools("S\n\nCo-authored-by-AI: GitHub Copilot (gpt-4.1)\n"), ["GitHub Copilot"]);
    assert_eq!(tools("S\n\nAI-assisted: true\n"), ["unnamed"]);
    assert_eq!(tools("S\n\nAmp-Thread-ID: https://ampcode.com/threads/T-1\n"), ["Amp"]);
    assert_eq!(tools("S\n\nCo-authored-by: Claude <noreply@anthropic.com>\n"), ["Claude Code"]);
    assert_eq!(tools("S\n\nCo-authored-by: Bot <x@agents.example.com>\n"), ["x@agents.example.com"]);
    assert_eq!(tools("S\n\n💘 Generated with Crush\n"), ["Crush"]);
}

#[test]
fn late_2026_identities_mark_a_co_author() {
    for (name, email, tool) in [
        ("Codex", "codex@openai.com", "Codex"),
        ("cursor[bot]", "206951365+cursor[bot]@users.noreply.github.com", "Cursor"),
        (
            "amazon-q-developer[bot]",
            "208079219+amazon-q-developer[bot]@users.noreply.github.com",
            "Amazon Q Developer",
        ),
        ("Cline", "noreply@cline.bot", "Cline"),
        ("cline[bot]", "205137888+cline[bot]@users.noreply.github.com", "Cline"),
        ("Continue", "noreply@continue.dev", "Continue"),
        ("continue[bot]", "230936708+continue[bot]@users.noreply.github.com", "Continue"),
        ("Warp", "agent@warp.dev", "Warp"),
        ("factory-droid[bot]", "138933559+factory-droid[bot]@users.noreply.github.com", "Factory"),
        ("kiloconnect[bot]", "240665456+kiloconnect[bot]@users.noreply.github.com", "Kilo Code"),
        ("v0[bot]", "v0[bot]@users.noreply.github.com", "v0"),
        ("jetbrains-ai[bot]", "220155983+jetbrains-ai[bot]@users.noreply.github.com", "JetBrains AI"),
        ("Codebuff", "noreply@codebuff.com", "Codebuff"),
        ("Freebuff", "noreply@freebuff.com", "Freebuff"),
        ("kiro-agent[bot]", "244629292+kiro-agent[bot]@users.noreply.github.com", "Kiro"),
        ("lovable-dev[bot]", "lovable-dev[bot]@users.noreply.github.com", "Lovable"),
        ("gpt-engineer-app[bot]", "159125892+gpt-engineer-app[bot]@users.noreply.github.com", "Lovable"),
        ("sweep-ai[bot]", "128439645+sweep-ai[bot]@users.noreply.github.com", "Sweep"),
        (
            "jetbrains-junie[bot]",
            "201638009+jetbrains-junie[bot]@users.noreply.github.com",
            "JetBrains Junie",
        ),
    ] {
        let line = format!("Co-authored-by: {name} <{email}>");
        assert_trailer_marks(&line, EvidenceKind::Identity);
        let p = detect(&commit(&format!("S\n\n{line}\n")));
        assert_eq!(p.evidence[0].tool, tool, "{line}");
    }
}

#[test]
fn tools_that_commit_as_the_author() {
    for (name, email, tool) in [
        ("v0[bot]", "v0[bot]@users.noreply.github.com", "v0"),
        ("lovable-dev[bot]", "161227000+lovable-dev[bot]@users.noreply.github.com", "Lovable"),
        (
            "amazon-q-developer[bot]",
            "208079219+amazon-q-developer[bot]@users.noreply.github.com",
            "Amazon Q Developer",
        ),
        (
            "Copilot Autofix powered by AI",
            "223894421+github-code-quality[bot]@users.noreply.github.com",
            "GitHub Copilot",
        ),
        ("Copilot", "223556219+Copilot@users.noreply.github.com", "GitHub Copilot"),
    ] {
        let p = detect(&commit_by(sig(name, email), "Fix the alert\n"));
        assert!(p.ai_assisted, "{email}");
        assert_eq!(p.evidence[0].text, format!("author: {name} <{email}>"));
        assert_eq!(p.evidence[0].tool, tool);
    }
}

#[test]
fn replit_agent_and_entire_trailers() {
    let replit = "Replit-Commit-Author: Agent\nReplit-Commit-Session-Id: 3f1b6a2e-9c0d-4e5f-8a7b-1c2d3e4f5a6b\nReplit-Commit-Checkpoint-Type: full_checkpoint";
    let p = detect(&commit_by(
        sig("alice", "12345678-alice@users.noreply.replit.com"),
        &format!("Add login\n\n{replit}\n"),
    ));
    assert_eq!(kinds(&p), [(EvidenceKind::Trailer, "Replit-Commit-Author: Agent")]);
    assert_eq!(p.evidence[0].tool, "Replit Agent");
    assert_trailer_marks("Replit-Commit-Author: Assistant", EvidenceKind::Trailer);
    assert_trailer_marks("Entire-Checkpoint: a3b2c4d5e6f7", EvidenceKind::Trailer);
    assert_trailer_marks("Entire-Checkpoint: 01JD7X2Q8V5K3M9N4P6R2T8W0Y", EvidenceKind::Trailer);
    let p = detect(&commit("S\n\nEntire-Checkpoint: a3b2c4d5e6f7\n"));
    assert_eq!(p.evidence[0].tool, "Entire");
}

#[test]
fn late_2026_footer_lines() {
    for (line, tool) in [
        ("🤖 Generated with [Cline](https://docs.cline.bot)", "Cline"),
        ("Generated with [Continue](https://continue.dev)", "Continue"),
        ("Generated with Codebuff", "Codebuff"),
        ("🤖 Generated with Qwen Code", "Qwen Code"),
    ] {
        let p = detect(&commit(&format!("Subject\n\nBody text.\n\n{line}\n")));
        assert_eq!(kinds(&p), [(EvidenceKind::Footer, line)], "{line}");
        assert_eq!(p.evidence[0].tool, tool);
    }
}

// Near misses of the late-2026 rows.

#[test]
fn a_person_named_like_a_new_tool_is_not_ai() {
    for (name, email) in [
        ("Warp", "warp@example.com"),
        ("Cline", "cline@example.com"),
        ("Continue", "continue@example.com"),
        ("Kiro", "kiro@example.com"),
        ("Copilot Autofix powered by AI", "sec@example.com"),
        ("v0[bot]", "v0@example.com"),
    ] {
        let p = detect(&commit_by(sig(name, email), &format!("S\n\nCo-authored-by: {name} <{email}>\n")));
        assert!(p.evidence.is_empty(), "{name}: {:?}", p.evidence);
    }
}

#[test]
fn a_human_at_a_tool_vendor_is_not_ai() {
    for email in
        ["saoud@cline.bot", "nate@continue.dev", "zach@warp.dev", "founders@codebuff.com", "dev@replit.com"]
    {
        let p = detect(&commit(&format!("S\n\nCo-authored-by: Someone <{email}>\n")));
        assert!(p.evidence.is_empty(), "{email}: {:?}", p.evidence);
    }
}

#[test]
fn replit_human_author_is_not_ai() {
    for value in ["Human", "alice", ""] {
        let p =
            detect(&commit(&format!("S\n\nReplit-Commit-Author: {value}\nReplit-Commit-Session-Id: 1\n")));
        assert!(p.evidence.is_empty(), "{value}: {:?}", p.evidence);
    }
}

#[test]
fn ci_bots_are_not_ai() {
    for email in [
        "49699333+dependabot[bot]@users.noreply.github.com",
        "41898282+github-actions[bot]@users.noreply.github.com",
        "29139614+renovate[bot]@users.noreply.github.com",
        "66853113+pre-commit-ci[bot]@users.noreply.github.com",
    ] {
        let p = detect(&commit_by(sig("bot", email), &format!("S\n\nCo-authored-by: bot <{email}>\n")));
        assert!(p.evidence.is_empty(), "{email}: {:?}", p.evidence);
    }
}

#[test]
fn a_known_bot_login_under_another_numeric_id_is_not_that_bot() {
    for email in [
        "1+claude[bot]@users.noreply.github.com",
        "205137889+cline[bot]@users.noreply.github.com",
        "cline[bot]@users.noreply.github.com",
        "175728473+Copilot@users.noreply.github.com",
        "138933559+factory-droid@users.noreply.github.com",
        "12+v0[bot]@users.noreply.github.com",
        // An id that is not a number, or a login that only ends like a bot's.
        "x+sweep-ai[bot]@users.noreply.github.com",
        "1+my-sweep-ai[bot]@users.noreply.github.com",
        "sweep-ai[bot]@users.noreply.github.com.evil.example",
    ] {
        let p = detect(&commit(&format!("S\n\nCo-authored-by: bot <{email}>\n")));
        assert!(p.evidence.is_empty(), "{email}: {:?}", p.evidence);
    }
}

#[test]
fn the_codex_placeholder_address_is_not_evidence() {
    let p = detect(&commit_by(sig("Codex", "codex@example.com"), "S\n"));
    assert!(p.evidence.is_empty(), "{:?}", p.evidence);
}

#[test]
fn prose_that_starts_like_a_footer_is_not_one() {
    // Charm Crush's own history: a wrapped sentence about the footer.
    for line in [
        "Generated with Crush line, including validation and default preservation.",
        "Generated with [Claude Code](https://claude.com/claude-code) and then edited by hand",
        "🤖 Generated with [Cline](https://docs.cline.bot) mostly.",
        "Generated with [Devin]() ",
    ] {
        let p = detect(&commit(&format!("Subject\n\nAdd options for the\n{line}\n")));
        assert!(p.evidence.is_empty(), "{line}: {:?}", p.evidence);
    }
    let p = detect(&commit("S\n\n💖 Generated with Crush\n"));
    assert_eq!(kinds(&p), [(EvidenceKind::Footer, "💖 Generated with Crush")]);
}
