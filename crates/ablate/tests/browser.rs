//! report.html in a real browser: headless Chromium (Debian's `chromium`, which `scripts/test.sh`
//! installs through `scripts/chromium.sh`) opens the committed forum report with a small driver
//! appended, sorts and filters its largest table through the page's own script, and the test reads
//! what the page did from the DOM Chromium dumps.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    found.unwrap_or_else(|| {
        panic!(
            "NOT RUN: no headless Chromium at /usr/bin/chromium; `bash scripts/chromium.sh` installs \
             it (scripts/test.sh does so before the tests)"
        )
    })
}

/// Clicks the sort header of the largest table three times (ascending, descending, the page's
/// order) and types into its filter box, writing what it saw as `key=value` lines.
const DRIVER: &str = r#"<script>
(function () {
  var out = [];
  function say(k, v) { out.push(k + "=" + v); }
  try {
    var tables = document.querySelectorAll("table"), t = null;
    for (var i = 0; i < tables.length; i++) {
      if (!t || tables[i].tBodies[0].rows.length > t.tBodies[0].rows.length) t = tables[i];
    }
    var body = t.tBodies[0], heads = t.tHead.rows[0].cells, col = 0;
    for (var j = 0; j < heads.length; j++) {
      if (heads[j].textContent.indexOf("val") >= 0) { col = j; break; }
    }
    say("rows", body.rows.length);
    say("column", heads[col].textContent);
    var first = body.rows[0].textContent;
    function keys() {
      var k = [];
      for (var r = 0; r < body.rows.length; r++) {
        var m = body.rows[r].cells[col].textContent.match(/[-+]?\d+(\.\d+)?/);
        k.push(m ? parseFloat(m[0]) : NaN);
      }
      return k;
    }
    function sorted(k, asc) {
      for (var r = 1; r < k.length; r++) {
        if (asc ? k[r] < k[r - 1] : k[r] > k[r - 1]) return false;
      }
      return true;
    }
    heads[col].click();
    var up = keys();
    say("ascending", sorted(up, true) && !sorted(up, false));
    heads[col].click();
    say("descending", sorted(keys(), false));
    heads[col].click();
    say("restored", body.rows[0].textContent === first);
    var box = t.previousElementSibling;
    say("filter_box", !!box && box.className === "filter");
    box.value = "linear";
    box.dispatchEvent(new Event("input"));
    var shown = 0, wrong = 0;
    for (var r = 0; r < body.rows.length; r++) {
      if (body.rows[r].style.display !== "none") {
        shown++;
        if (body.rows[r].textContent.toLowerCase().indexOf("linear") < 0) wrong++;
      }
    }
    say("shown", shown);
    say("wrong", wrong);
  } catch (e) {
    say("error", e);
  }
  var pre = document.createElement("pre");
  pre.id = "selftest";
  pre.textContent = "\n" + out.join("\n") + "\n";
  document.body.appendChild(pre);
})();
</script>
</body>"#;

#[test]
fn report_tables_sort_and_filter_in_chromium() {
    let browser = chromium();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let html = std::fs::read_to_string(repo.join("report/forum/report.html")).unwrap();
    assert!(
        html.contains("th.setAttribute(\"data-sortable\""),
        "the page has no table script"
    );
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, html.replacen("</body>", DRIVER, 1)).unwrap();
    let profile = dir.path().join("profile");
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&o.stdout);
    let report = dom
        .split("<pre id=\"selftest\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| {
            panic!(
                "Chromium ran no driver (status {}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            )
        });
    let value = |k: &str| {
        report
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {report}"))
            .to_string()
    };
    assert!(!report.contains("error="), "{report}");
    let rows: usize = value("rows").parse().unwrap();
    assert!(rows > 100, "{report}");
    assert!(value("column").contains("val"), "{report}");
    for check in ["ascending", "descending", "restored", "filter_box"] {
        assert_eq!(value(check), "true", "{check}: {report}");
    }
    let shown: usize = value("shown").parse().unwrap();
    assert!(shown > 0 && shown < rows, "{report}");
    assert_eq!(value("wrong"), "0", "{report}");
}
