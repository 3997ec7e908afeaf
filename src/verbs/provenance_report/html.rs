//! `countersign report --format html`: the provenance report as one self-contained page for
//! the people who sign, who would rather look than read. Inline SVG charts, inline CSS, no
//! script and nothing fetched, so it opens from a mail attachment or an archive years later.
//! Every text from a commit is escaped.

use std::fmt::Write as _;

use crate::verbs::provenance_report::{ProvenanceReport, Row};

const STYLE: &str = "
body { font: 15px/1.45 system-ui, sans-serif; color: #1d2430; margin: 2em auto; max-width: 70em; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #d0d6e0; }
.summary { font-size: 1.1em; }
.summary b { font-size: 1.3em; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { text-align: left; padding: .25em .8em .25em 0; vertical-align: top; overflow-wrap: anywhere; }
td.n, th.n { text-align: right; }
tr + tr td { border-top: 1px solid #eceff4; }
code { font-size: .95em; }
.legend span { display: inline-block; width: .9em; height: .9em; margin: 0 .35em 0 1.2em; vertical-align: -.1em; }
.legend span:first-child { margin-left: 0; }
.signed { fill: #2f6fbd; background: #2f6fbd; }
.unsigned { fill: #e0923a; background: #e0923a; }
.none { fill: #e6e9ef; background: #e6e9ef; }
svg text { font: 11px system-ui, sans-serif; fill: #1d2430; }
/* Years of months shrink to the page's width rather than run off it. */
#month-chart { width: 100%; height: auto; }
footer { margin-top: 3em; color: #5c6675; font-size: .9em; }
";

/// The page.
pub fn render(report: &ProvenanceReport) -> String {
    let mut out = String::new();
    let since = report.since.as_ref().map(|s| format!(" since {s}")).unwrap_or_default();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>AI provenance{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&since)
    );
    let t = &report.total;
    let _ = writeln!(out, "<h1>AI provenance{}</h1>", escape(&since));
    let _ = writeln!(
        out,
        "<p class=\"summary\" id=\"summary\"><b>{}</b> commits, <b>{}</b> AI-assisted ({}); \
         <b>{}</b> of those signed off as the policy asks ({}).</p>",
        t.commits,
        t.ai_assisted,
        percent(t.ai_assisted, t.commits),
        t.signed_off,
        percent(t.signed_off, t.ai_assisted)
    );
    out.push_str(
        "<p class=\"legend\"><span class=\"signed\"></span>AI-assisted and signed off \
         <span class=\"unsigned\"></span>AI-assisted without sign-off \
         <span class=\"none\"></span>not AI-assisted</p>\n",
    );

    out.push_str("<section id=\"by-month\">\n<h2>AI-assisted share per month (UTC)</h2>\n");
    month_chart(&mut out, &report.by_month);
    rows_table(&mut out, "month", &report.by_month);
    out.push_str("</section>\n");

    out.push_str("<section id=\"by-tool\">\n<h2>Sign-off of AI-assisted commits, per tool</h2>\n");
    share_table(&mut out, "tool", &report.by_tool);
    out.push_str(
        "</section>\n<section id=\"by-author\">\n<h2>Sign-off of AI-assisted commits, per author</h2>\n",
    );
    let authors: Vec<Row> = report.by_author.iter().filter(|r| r.ai_assisted > 0).cloned().collect();
    share_table(&mut out, "author", &authors);
    out.push_str("</section>\n");

    out.push_str(
        "<section id=\"landed-without\">\n<h2>AI-assisted commits that landed without sign-off</h2>\n",
    );
    if report.landed_without.is_empty() {
        out.push_str("<p>None.</p>\n");
    } else {
        out.push_str(
            "<table>\n<tr><th>commit</th><th>date</th><th>author</th><th>subject</th><th>tool</th>\
             <th>how it landed</th></tr>\n",
        );
        for commit in &report.landed_without {
            let _ = writeln!(
                out,
                "<tr><td><code title=\"{id}\">{short}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&commit.date),
                escape(&commit.author),
                escape(&commit.summary),
                escape(&commit.tools.join(", ")),
                escape(&commit.why),
                id = escape(&commit.id),
                short = escape(&commit.id[..commit.id.len().min(12)]),
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n");
    let _ = writeln!(
        out,
        "<footer>Judged by countersign with policy <code>{}</code> (sha256 <code>{}</code>).</footer>\n</body>\n</html>",
        escape(&report.policy.path),
        escape(&report.policy.sha256[..report.policy.sha256.len().min(12)])
    );
    out
}

/// One stacked bar per month: signed-off and unsigned AI-assisted commits, as shares of all.
fn month_chart(out: &mut String, months: &[Row]) {
    const BAR: usize = 28;
    const GAP: usize = 12;
    const LEFT: usize = 40;
    const TOP: usize = 18;
    const HEIGHT: usize = 160;
    let width = LEFT + months.len().max(1) * (BAR + GAP) + GAP;
    let _ = writeln!(
        out,
        "<svg id=\"month-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" \
         style=\"max-width: {width}px\" role=\"img\" aria-label=\"AI-assisted share of commits per month\">",
        height = TOP + HEIGHT + 56
    );
    for tick in [0, 50, 100] {
        let y = TOP + HEIGHT - HEIGHT * tick / 100;
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{width}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#d0d6e0\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{tick}%</text>",
            LEFT - 4,
            y + 4
        );
    }
    for (i, month) in months.iter().enumerate() {
        let x = LEFT + GAP + i * (BAR + GAP);
        let scale =
            |n: usize| if month.commits == 0 { 0.0 } else { HEIGHT as f64 * n as f64 / month.commits as f64 };
        let signed = scale(month.signed_off);
        let unsigned = scale(month.ai_assisted - month.signed_off);
        let base = (TOP + HEIGHT) as f64;
        let key = escape(&month.key);
        let _ = writeln!(
            out,
            "<g class=\"month\" data-month=\"{key}\"><title>{key}: {} of {} commits AI-assisted ({}), {} signed off</title>\
             <rect class=\"none\" x=\"{x}\" y=\"{TOP}\" width=\"{BAR}\" height=\"{HEIGHT}\"/>\
             <rect class=\"unsigned\" x=\"{x}\" y=\"{:.1}\" width=\"{BAR}\" height=\"{unsigned:.1}\"/>\
             <rect class=\"signed\" x=\"{x}\" y=\"{:.1}\" width=\"{BAR}\" height=\"{signed:.1}\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text text-anchor=\"end\" transform=\"translate({} {}) rotate(-45)\">{}</text></g>",
            month.ai_assisted,
            month.commits,
            percent(month.ai_assisted, month.commits),
            month.signed_off,
            base - signed - unsigned,
            base - signed,
            x + BAR / 2,
            (base - signed - unsigned - 4.0).max(11.0),
            percent(month.ai_assisted, month.commits),
            x + BAR / 2 + 4,
            TOP + HEIGHT + 12,
            key,
        );
    }
    out.push_str("</svg>\n");
}

fn rows_table(out: &mut String, title: &str, rows: &[Row]) {
    let _ = writeln!(
        out,
        "<table class=\"rows\">\n<tr><th>{title}</th><th class=\"n\">commits</th><th class=\"n\">AI-assisted</th>\
         <th class=\"n\">share</th><th class=\"n\">signed off</th></tr>"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&row.key),
            row.commits,
            row.ai_assisted,
            percent(row.ai_assisted, row.commits),
            row.signed_off
        );
    }
    out.push_str("</table>\n");
}

/// Per row, the AI-assisted commits and the share of them signed off, with a bar.
fn share_table(out: &mut String, title: &str, rows: &[Row]) {
    if rows.is_empty() {
        out.push_str("<p>No AI-assisted commit.</p>\n");
        return;
    }
    let _ = writeln!(
        out,
        "<table class=\"shares\">\n<tr><th>{title}</th><th class=\"n\">AI-assisted</th><th class=\"n\">signed off</th>\
         <th class=\"n\">share</th><th></th></tr>"
    );
    const WIDTH: usize = 160;
    for row in rows {
        let signed = (WIDTH * row.signed_off).checked_div(row.ai_assisted).unwrap_or(0);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td><svg class=\"share\" width=\"{WIDTH}\" height=\"12\" xmlns=\"http://www.w3.org/2000/svg\">\
             <rect class=\"unsigned\" width=\"{WIDTH}\" height=\"12\"/><rect class=\"signed\" width=\"{signed}\" height=\"12\"/></svg></td></tr>",
            escape(&row.key),
            row.ai_assisted,
            row.signed_off,
            percent(row.signed_off, row.ai_assisted)
        );
    }
    out.push_str("</table>\n");
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 { "-".into() } else { format!("{:.0}%", part as f64 * 100.0 / whole as f64) }
}

/// Text as HTML, in element content and in quoted attributes alike.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            escape("<script>\"x\" & 'y'\u{1b}[31m"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;\u{fffd}[31m"
        );
    }
}
