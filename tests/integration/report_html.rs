//! `report --format html` in a real browser: Debian's headless Chromium (`.ci/run` installs
//! it) loads the page and a probe the test appends measures what it rendered — the bars'
//! heights and colours, the tables' text — and writes it into the DOM that `--dump-dom`
//! prints. The page itself must carry no script and fetch nothing.

use std::path::Path;
use std::process::Command;

use crate::util::*;

const POLICY_HTML: &str = r#"
version = 1
[gate]
protected = ["refs/heads/main"]
[[person]]
name = "Alice Senior"
emails = ["alice@example.com"]
roles = ["senior"]
[[person]]
name = "Bob Dev"
emails = ["bob@example.com"]
[[person]]
name = "Dana Director"
emails = ["dana@example.com"]
roles = ["senior", "director"]
[[person]]
name = "Sam Security"
emails = ["sam@example.com"]
roles = ["security"]
[[rule]]
name = "senior sign-off for AI-assisted changes"
when = { ai_assisted = true }
from_role = "senior"
[[rule]]
name = "director sign-off for AI-assisted changes"
when = { ai_assisted = true }
from_role = "director"
since = 2026-04-01
[[rule]]
name = "security look at payments"
when = { paths = ["payments/**"] }
from_role = "security"
mode = "warn"
"#;

fn commit_on(server: &Server, date: &str, path: &str, message: &str) {
    server.write(path, date);
    server.git_work(&["add", "-A"]);
    let date = format!("{date}T12:00:00Z");
    let output = server
        .command(&server.work, &["commit", "-q", "--cleanup=verbatim", "-m", message])
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// What the probe measures in the rendered page, as JSON in `<pre id="probe">`.
const PROBE: &str = r#"<script>
(() => {
  const height = (el) => el.getBoundingClientRect().height;
  const chart = document.querySelector('#month-chart').getBoundingClientRect();
  const bars = [...document.querySelectorAll('#month-chart g.month')].map((g) => ({
    month: g.dataset.month,
    full: height(g.querySelector('rect.none')),
    signed: height(g.querySelector('rect.signed')),
    unsigned: height(g.querySelector('rect.unsigned')),
    signedFill: getComputedStyle(g.querySelector('rect.signed')).fill,
    unsignedFill: getComputedStyle(g.querySelector('rect.unsigned')).fill,
  }));
  const rows = (sel) => [...document.querySelectorAll(sel + ' tr')].slice(1).map((tr) => tr.innerText);
  const shareBars = [...document.querySelectorAll('#by-tool svg.share rect.signed')].map((r) => r.getBoundingClientRect().width);
  const probe = document.createElement('pre');
  probe.id = 'probe';
  probe.textContent = JSON.stringify({
    title: document.title,
    scripts: document.scripts.length,
    summary: document.querySelector('#summary').innerText,
    chart: { width: chart.width, height: chart.height },
    bars,
    tools: rows('#by-tool'),
    shareBars,
    authors: rows('#by-author'),
    landed: rows('#landed-without'),
    overflow: document.documentElement.scrollWidth > window.innerWidth,
  });
  document.body.appendChild(probe);
})();
</script>"#;

/// Whether Debian's chromium is here to render with (skipped on a machine without it, required
/// under CI).
fn chromium() -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("chromium").is_file()));
    machine_has("needs chromium: apt-get install chromium", found)
}

fn render_in_chromium(html: &str, dir: &Path) -> serde_json::Value {
    let page = dir.join("probe.html");
    std::fs::write(&page, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let output = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--window-size=1280,900"])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(["--dump-dom", &format!("file://{}", page.display())])
        .output()
        .expect("Debian's chromium runs this test (.ci/run installs it)");
    assert!(output.status.success(), "chromium: {}", String::from_utf8_lossy(&output.stderr));
    let dom = String::from_utf8_lossy(&output.stdout);
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + "<pre id=\"probe\">".len();
    let json = &dom[start..start + dom[start..].find("</pre>").unwrap()];
    let json = json.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
    serde_json::from_str(&json).unwrap()
}

#[test]
fn html_report_renders_its_charts_and_tables_in_chromium() {
    if !chromium() {
        return;
    }
    let server = Server::new(POLICY_HTML);
    let claude = "Co-authored-by: Claude <noreply@anthropic.com>";
    commit_on(
        &server,
        "2026-02-03",
        "app/a.rs",
        &format!("Early AI\n\n{claude}\nApproved-by: Alice Senior <alice@example.com>\n"),
    );
    commit_on(&server, "2026-02-04", "app/h.rs", "By hand\n");
    commit_on(
        &server,
        "2026-05-05",
        "app/b.rs",
        "Reviewed AI\n\nMade-with: Cursor\nApproved-by: Dana Director <dana@example.com>\n",
    );
    commit_on(
        &server,
        "2026-05-06",
        "payments/p.rs",
        "Payments AI\n\nMade-with: Cursor\nApproved-by: Dana Director <dana@example.com>\n",
    );
    commit_on(
        &server,
        "2026-05-07",
        "app/x.rs",
        &format!("<script>document.title='pwned'</script> fix\n\n{claude}\n"),
    );

    let policy = server.bare.join("policy.toml");
    let output = Command::new(BIN)
        .args(["report", "--format", "html", "--policy", policy.to_str().unwrap(), "main"])
        .current_dir(&server.work)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let html = String::from_utf8(output.stdout).unwrap();
    // Self-contained: no script, nothing to fetch (the SVG namespace is a name, not a fetch).
    assert!(!html.to_lowercase().contains("<script"), "the page carries a script");
    for fetch in [" src=", " href=", "url(", "@import", "https:"] {
        assert!(!html.contains(fetch), "the page fetches something: {fetch}");
    }
    assert_eq!(html.matches("http://").count(), html.matches("http://www.w3.org/2000/svg").count());

    let page = render_in_chromium(&html, &server.home);
    assert_eq!(page["title"], "AI provenance", "a commit's text ran as script");
    assert_eq!(page["scripts"], 1, "only the probe's");
    assert_eq!(
        page["summary"],
        "6 commits, 4 AI-assisted (67%); 1 of those signed off as the policy asks (25%)."
    );
    assert!(
        page["chart"]["width"].as_f64().unwrap() > 100.0 && page["chart"]["height"].as_f64().unwrap() > 150.0
    );
    assert_eq!(page["overflow"], false, "the page fits a 1280 px window");

    // The bars, as drawn: February 1 of 2 AI-assisted, unsigned (a later rule's `since`);
    // May 3 of 3, 1 signed off; this month's import, none.
    let bars = page["bars"].as_array().unwrap();
    let months: Vec<&str> = bars.iter().map(|b| b["month"].as_str().unwrap()).collect();
    assert_eq!(months[..2], ["2026-02", "2026-05"]);
    let (feb, may) = (&bars[0], &bars[1]);
    let full = feb["full"].as_f64().unwrap();
    assert!((full - 160.0).abs() < 0.5, "{feb}");
    let close = |value: &serde_json::Value, expected: f64| (value.as_f64().unwrap() - expected).abs() < 0.6;
    assert!(close(&feb["signed"], 0.0) && close(&feb["unsigned"], full / 2.0), "{feb}");
    assert!(close(&may["signed"], full / 3.0) && close(&may["unsigned"], full * 2.0 / 3.0), "{may}");
    assert_eq!(may["signedFill"], "rgb(47, 111, 189)");
    assert_eq!(may["unsignedFill"], "rgb(224, 146, 58)");
    assert!(close(&bars[2]["signed"], 0.0) && close(&bars[2]["unsigned"], 0.0), "{}", bars[2]);

    // Per tool: Claude Code 0 of 2 signed off, Cursor 1 of 2 (a half-width bar).
    let tools: Vec<&str> = page["tools"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(tools, ["Claude Code\t2\t0\t0%\t", "Cursor\t2\t1\t50%\t"]);
    assert_eq!(page["shareBars"], serde_json::json!([0, 80]));
    assert_eq!(page["authors"], serde_json::json!(["Bob Dev <bob@example.com>\t4\t1\t25%\t"]));

    // The commits that landed without sign-off, newest first as the history lists them, each
    // with how it could land; the pusher's markup shown as text.
    let landed: Vec<&str> = page["landed"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(landed.len(), 3, "{landed:?}");
    assert!(
        landed[0].contains(
            "<script>document.title='pwned'</script> fix\tClaude Code\tby override, or before the gate"
        ),
        "{}",
        landed[0]
    );
    assert!(
        landed[1].contains("Payments AI\tCursor\twarn mode (security look at payments)"),
        "{}",
        landed[1]
    );
    assert!(
        landed[2].contains("Early AI\tClaude Code\tbefore the rule existed (`director sign-off for AI-assisted changes` since 2026-04-01)"),
        "{}",
        landed[2]
    );
}

#[test]
fn the_audit_log_says_which_commits_landed_by_override() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("audit.jsonl");
    let policy = POLICY
        .replace("emails = [\"dana@example.com\"]", "emails = [\"dana@example.com\"]\nlogins = [\"dana\"]");
    let policy = format!(
        "{policy}\n[audit]\npath = \"{}\"\n[override]\npeople = [\"Dana Director\"]\n",
        log.display()
    );
    let server = Server::new(&policy);
    server.git_server(&["config", "receive.advertisePushOptions", "true"]);
    server.write("app/hot.rs", "fn fix() {}\n");
    let overridden = server.commit(BOB, "Hotfix\n\nAssisted-by: Claude Code\n");
    let push = server.push_as(
        &[("GL_USERNAME", "dana")],
        &["-o", "countersign.override=INC-1234: payments are down", "origin", "main"],
    );
    assert!(push.ok, "{}", push.stderr);
    server.write("app/other.rs", "fn other() {}\n");
    let unrecorded = server.commit(BOB, "Unrecorded\n\nMade-with: Cursor\n");

    let report = |extra: &[&str]| -> serde_json::Value {
        let output = Command::new(BIN)
            .args([
                "report",
                "--format",
                "json",
                "--policy",
                server.bare.join("policy.toml").to_str().unwrap(),
            ])
            .args(extra)
            .arg("main")
            .current_dir(&server.work)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let why = |report: &serde_json::Value, id: &str| -> String {
        let landed = report["landed_without"].as_array().unwrap();
        let commit =
            landed.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} not in {landed:?}"));
        commit["why"].as_str().unwrap().to_string()
    };
    let with_log = report(&["--audit", log.to_str().unwrap()]);
    let recorded = why(&with_log, &overridden);
    assert!(recorded.starts_with("by override of Dana Director on 20"), "{recorded}");
    assert!(recorded.ends_with(": \"INC-1234: payments are down\""), "{recorded}");
    assert!(why(&with_log, &unrecorded).contains("not in the audit log read"));
    // Without the log, the report can only say what may have happened.
    assert!(why(&report(&[]), &overridden).starts_with("by override, or before the gate guarded the ref"));
}

#[test]
fn years_of_history_and_long_words_fit_the_window() {
    if !chromium() {
        return;
    }
    let server = Server::new(POLICY_HTML);
    let long_word = "x".repeat(400);
    for month in 0..48 {
        let date = format!("{}-{:02}-15", 2022 + month / 12, month % 12 + 1);
        let message = format!("{long_word}\n\nCo-authored-by: Claude <noreply@anthropic.com>\n");
        commit_on(&server, &date, &format!("app/m{month}.rs"), &message);
    }
    let policy = server.bare.join("policy.toml");
    let output = Command::new(BIN)
        .args(["report", "--format", "html", "--policy", policy.to_str().unwrap(), "main"])
        .current_dir(&server.work)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let page = render_in_chromium(&String::from_utf8(output.stdout).unwrap(), &server.home);
    assert_eq!(page["bars"].as_array().unwrap().len(), 49, "48 months and this one");
    assert_eq!(page["overflow"], false, "the page fits a 1280 px window");
    assert!(page["chart"]["width"].as_f64().unwrap() <= 1280.0, "{}", page["chart"]);
    assert_eq!(page["landed"].as_array().unwrap().len(), 48);
}
