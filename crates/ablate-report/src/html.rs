//! `report.html`: the Markdown report rendered with pulldown-cmark, PNG figures inlined as data URIs
//! so the one file can be mailed or archived on its own.

use std::path::Path;

use base64::Engine as _;
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};

use crate::error::ReportError;

const STYLE: &str = "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;\
margin:2em auto;padding:0 1em;line-height:1.45;color:#222}table{border-collapse:collapse;margin:1em 0;\
font-size:0.9em}th,td{border:1px solid #ccc;padding:3px 7px;vertical-align:top}th{background:#f3f3f3}\
img{max-width:100%}code{background:#f5f5f5;padding:0 3px}blockquote{color:#555;border-left:4px solid #ddd;\
margin:0;padding-left:1em}details>summary{cursor:pointer}details>summary>h2{display:inline}\
details{border-top:1px solid #ddd;padding:0.3em 0}th[data-sortable]{cursor:pointer}\
th[data-sort=asc]::after{content:' \\25B2'}th[data-sort=desc]::after{content:' \\25BC'}\
input.filter{margin:0.5em 0 0;padding:2px 5px;width:20em}";

/// Sortable and filterable tables, inline (the page stays one file, no network): a click on a
/// header sorts by that column (numbers by value, "+0.17 pp" and "70.07%" included; a third click
/// restores the page's order), and a table of 8 rows or more gets a filter box that hides the rows
/// not containing its text. Tested in headless Chromium (`crates/ablate/tests/browser.rs`).
pub const SCRIPT: &str = r#"(function () {
  function key(text) {
    var m = text.replace(/\u2212/g, "-").replace(/,/g, "").match(/[-+]?\d+(\.\d+)?(e[-+]?\d+)?/i);
    return m ? parseFloat(m[0]) : null;
  }
  function each(list, f) { Array.prototype.forEach.call(list, f); }
  each(document.querySelectorAll("table"), function (table) {
    var body = table.tBodies[0];
    if (!body || body.rows.length < 2 || !table.tHead) return;
    var original = Array.prototype.slice.call(body.rows);
    var heads = table.tHead.rows[0].cells;
    each(heads, function (th, i) {
      th.setAttribute("data-sortable", "");
      th.title = "sort by this column";
      th.addEventListener("click", function () {
        var now = th.getAttribute("data-sort");
        var next = now === null ? "asc" : now === "asc" ? "desc" : null;
        each(heads, function (h) { h.removeAttribute("data-sort"); });
        var rows = original.slice();
        if (next !== null) {
          th.setAttribute("data-sort", next);
          rows.sort(function (a, b) {
            var x = a.cells[i] ? a.cells[i].textContent : "", y = b.cells[i] ? b.cells[i].textContent : "";
            var kx = key(x), ky = key(y);
            var c = kx !== null && ky !== null && kx !== ky ? kx - ky : x.localeCompare(y);
            return next === "asc" ? c : -c;
          });
        }
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
    if (body.rows.length >= 8) {
      var input = document.createElement("input");
      input.type = "search";
      input.className = "filter";
      input.placeholder = "filter these " + body.rows.length + " rows";
      input.addEventListener("input", function () {
        var q = input.value.toLowerCase();
        each(body.rows, function (r) {
          r.style.display = r.textContent.toLowerCase().indexOf(q) < 0 ? "none" : "";
        });
      });
      table.parentNode.insertBefore(input, table);
    }
  });
})();"#;

/// The sections a reader sees open: the first page's. The rest (setup, rules, tables, evidence) is
/// one click away, each under its heading, so the page opens on the answer and is a few screens
/// long until the reader asks for more.
const OPEN: [&str; 4] = crate::markdown::FIRST_PAGE;

/// The anchor GitHub gives a heading (`Tuned heads: chosen on validation` ->
/// `tuned-heads-chosen-on-validation`), so one link works in REPORT.md and in report.html.
fn slug(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            c if c.is_alphanumeric() => Some(c.to_ascii_lowercase()),
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// `report.html` from the report's sections (name, Markdown), in order.
pub fn render_sections(
    sections: &[(&str, String)],
    figures_dir: &Path,
) -> Result<String, ReportError> {
    let mut body = String::new();
    for (name, markdown) in sections {
        let heading = markdown
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("## "))
            .filter(|_| !OPEN.contains(name));
        match heading {
            Some(title) => {
                let rest = markdown.split_once('\n').map_or("", |(_, r)| r);
                body.push_str(&format!(
                    "<details id=\"{}\"><summary><h2>{}</h2></summary>\n{}</details>\n",
                    slug(title),
                    escape(title),
                    to_html(rest, figures_dir)?
                ));
            }
            None => body.push_str(&to_html(markdown, figures_dir)?),
        }
    }
    Ok(page(&body))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn page(body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>ablate report</title><style>{STYLE}</style></head><body>\n{body}<script>{SCRIPT}</script>\n</body></html>\n"
    )
}

/// Markdown to HTML, PNG figures inlined.
fn to_html(markdown: &str, figures_dir: &Path) -> Result<String, ReportError> {
    let mut failure = None;
    let events = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|event| match event {
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) if dest_url.ends_with(".png") => {
            let path = figures_dir.join(dest_url.as_ref());
            let dest_url = match std::fs::read(&path) {
                Ok(bytes) => CowStr::from(format!(
                    "data:image/png;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                )),
                Err(source) => {
                    failure.get_or_insert(ReportError::Io { path, source });
                    dest_url
                }
            };
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        other => other,
    });
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, events);
    match failure {
        Some(err) => Err(err),
        None => Ok(body),
    }
}
