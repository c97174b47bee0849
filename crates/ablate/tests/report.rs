//! End to end: `ablate run` writes the report; its files exist, its figures are real pictures, and
//! every number of the Markdown verdict table is the CSV's, rounded.

use crate::util::{EXPERIMENT, Scratch};

const CLAIMS: &str = r#"
[report]
answer = "D-tuned"

[[claims]]
id = "A"
says = "a bias right before BN is useless"
a = { head = "mlp", bias_before_bn = true, relu = false }
b = { head = "mlp", bias_before_bn = false, relu = false }
expect = "identical"

[[claims]]
id = "C"
says = "model2 fits the training set worse"
metric = "train_acc"
a = { head = "linear" }
b = { head = "mlp" }
expect = "lower"

[[claims]]
id = "D"
says = "model2 can win on validation"
a = { head = "linear" }
b = { head = "mlp" }
expect = "higher"
compare = "best"

[[claims]]
id = "D-tuned"
says = "tuned model2 beats tuned model1 on test"
metric = "test_acc"
a = { head = "linear" }
b = { head = "mlp" }
expect = "higher"
compare = "tuned"

[[claims]]
id = "E"
says = "model2 has far fewer parameters"
metric = "params"
a = { head = "linear" }
b = { head = "mlp" }
expect = "lower"
"#;

/// The first number in `cell` (signs, decimals and exponents kept), ignoring units.
fn number(cell: &str) -> f64 {
    let start = cell
        .find(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
        .unwrap_or_else(|| panic!("no number in {cell:?}"));
    let text: String = cell[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e'))
        .collect();
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} in {cell:?}: {e}"))
}

#[test]
fn run_writes_a_report_whose_numbers_match_its_tables() {
    let s = Scratch::new();
    // An L2 axis for model2, so that every figure has something to draw (accuracy against each
    // tuned setting needs one).
    let grid = EXPERIMENT.replace(
        "seeds = [0, 1]",
        "weight_decay = { linear = [0.0, 0.01] }\nseeds = [0, 1]",
    );
    s.write("small.toml", &format!("{grid}{CLAIMS}"));
    let o = s.ablate(&["run", "small.toml", "--out", "r"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("claim A: supported"), "{stderr}");

    for stem in ablate_report::FIGURES.iter().map(|f| f.stem) {
        let png = image::open(s.path(&format!("report/small/{stem}.png")))
            .unwrap_or_else(|e| panic!("{stem}.png: {e}"))
            .to_rgb8();
        let inked = png.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        let share = inked as f64 / (png.width() * png.height()) as f64;
        assert!(
            share > 0.02,
            "{stem}.png is nearly blank ({share:.4} inked)"
        );
        let svg = s.read(&format!("report/small/{stem}.svg"));
        assert!(svg.contains("<svg") && svg.contains("<text"), "{stem}.svg");
    }
    let html = s.read("report/small/report.html");
    assert_eq!(
        html.matches("data:image/png;base64,").count(),
        ablate_report::FIGURES.len(),
        "every figure inlined"
    );
    // The page opens on the answer; the rules, tables and evidence are one click away.
    let answer = html
        .find("<h2>The answer</h2>")
        .expect("the answer is a heading");
    let first_closed = html.find("<details").expect("sections are collapsed");
    assert!(
        answer < first_closed,
        "the answer comes before any collapsed section"
    );
    assert!(html.contains("<details id=\"verdicts\"><summary><h2>Verdicts</h2></summary>"));
    // REPORT.md is the first page; its links into the rest point at DETAILS.md, whose headings
    // GitHub anchors as report.html's sections are.
    let first = s.read("report/small/REPORT.md");
    let md = s.read("report/small/DETAILS.md");
    assert!(first.contains("## The answer") && !first.contains("## Verdicts"));
    assert!(first.contains("](DETAILS.md#verdicts)"), "{first}");
    assert!(
        !first.contains("](#"),
        "no link into a section REPORT.md does not hold"
    );
    assert!(md.contains("## Verdicts") && !md.contains("## The answer"));
    assert!(
        first.contains("only 2 seeds"),
        "2 seeds: the answer warns too"
    );

    // The verdict table's rows, in order, against claims.csv.
    let table: Vec<Vec<String>> = md
        .lines()
        .skip_while(|l| !l.starts_with("| claim |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    let csv = s.read("report/small/claims.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(table.len(), rows.len(), "one Markdown row per CSV row");
    assert_eq!(rows.len(), 5 * 2, "5 claims x 2 sizes");
    assert!(!md.contains("No test split"), "these features have one");
    assert!(md.contains("only 2 seeds"), "2 seeds: the report warns");
    for (md_row, csv_row) in table.iter().zip(&rows) {
        let get = |name: &str| csv_row[at(name)];
        let value = |name: &str| get(name).parse::<f64>().unwrap();
        assert_eq!(md_row[3], get("train_per_class"));
        assert_eq!(md_row[4], get("seeds"));
        assert!(
            md_row[10].contains(get("verdict")),
            "{md_row:?} vs {csv_row:?}"
        );
        if get("claim") != "A" {
            // `k/n` (`, t ties`): the seeds on the claim's side, one count everywhere.
            let (agree, rest) = md_row[8].split_once('/').unwrap();
            let seeds = rest.split(',').next().unwrap();
            assert_eq!(seeds, get("seeds"), "{md_row:?}");
            assert_eq!(number(agree), value("seeds_on_claims_side"), "{md_row:?}");
            // `p: row / in claim / Holm / sign-flip`, three decimals ("—" where there is none).
            let shown: Vec<&str> = md_row[9].split(" / ").collect();
            for (p, column) in shown
                .iter()
                .zip(["p_value", "p_adjusted", "p_holm", "p_sign_flip"])
            {
                if *p == "—" {
                    assert!(
                        get(column).is_empty() || get(column) == "NaN",
                        "{column}: {md_row:?}"
                    );
                    continue;
                }
                assert!(
                    (number(p) - value(column)).abs() <= 0.0005 + 1e-9,
                    "{column}: {md_row:?}"
                );
            }
        }
        match get("claim") {
            "A" => {
                // Exactness: `max |Δ train loss| 4.2e-7; max |bias grad| 2.3e-8` at 2 significant digits.
                let parts: Vec<&str> = md_row[5].split(';').collect();
                for (part, column) in parts.iter().zip(["max_train_loss_gap", "max_bias_grad"]) {
                    let shown = number(part.rsplit(' ').next().unwrap());
                    let exact = value(column);
                    assert!(
                        (shown - exact).abs() <= 0.051 * exact.abs().max(1e-30) + 1e-30,
                        "{column}: {shown} vs {exact}"
                    );
                }
            }
            "E" => {
                assert_eq!(number(&md_row[5]), value("diff_mean"));
                assert!(value("diff_mean") < 0.0);
            }
            "D-tuned" if md_row[2].is_empty() => {
                // The second size's row: the choice is named, and it is the tuned table's.
                let chosen = get("chosen");
                assert!(
                    md_row[2].contains(&format!(
                        "chosen on every seed's val: `{chosen}` vs `{}`",
                        get("opponent")
                    )),
                    "{md_row:?}"
                );
                let tuned = s.read("report/small/tuned.csv");
                for variant in [chosen, get("opponent")] {
                    assert!(
                        tuned
                            .lines()
                            .any(|l| l.contains(&format!(",60,{variant},"))),
                        "{variant} is the tuned row at 60/class:\n{tuned}"
                    );
                }
            }
            _ => {
                // Percentage points with two decimals, in the CSV too (`units`); the interval
                // shown is the one that judged (`ci_*`), no narrower than the row's own 95% one.
                assert_eq!(get("units"), "pp", "{csv_row:?}");
                let close = |shown: f64, exact: f64| (shown - exact).abs() <= 0.005 + 1e-9;
                assert!(close(number(&md_row[5]), value("diff_mean")), "{md_row:?}");
                let (lo, hi) = md_row[6].split_once(", ").unwrap();
                assert!(close(number(lo), value("ci_lo")), "{md_row:?}");
                assert!(close(number(hi), value("ci_hi")), "{md_row:?}");
                assert!(value("ci_lo") <= value("ci95_lo"));
            }
        }
    }
    // Regenerating gives the same bytes, file for file (joins do not keep order; the report must).
    let o = s.ablate(&["report", "r/small", "--out", "again"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for entry in std::fs::read_dir(s.path("report/small")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert_eq!(
            std::fs::read(s.path(&format!("report/small/{name}"))).unwrap(),
            std::fs::read(s.path(&format!("again/{name}"))).unwrap(),
            "{name} differs when regenerated"
        );
    }
    // A table of a claim that no longer exists goes; files the report does not make stay.
    s.write("report/small/contrast-Z.csv", "stale");
    s.write("report/small/notes.txt", "mine");
    let o = s.ablate(&["report", "r/small"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!s.path("report/small/contrast-Z.csv").exists());
    assert_eq!(s.read("report/small/notes.txt"), "mine");
    // The runs behind the claim A rows really are identical twins (bias on/off, no ReLU).
    assert!(
        rows.iter()
            .filter(|r| r[0] == "A")
            .all(|r| r[at("verdict")] == "supported")
    );
}

/// Features without a test split: the report runs, judges test claims on val and says so loudly.
#[test]
fn without_a_test_split_the_report_says_it_reports_on_val() {
    let s = Scratch::with_test_split(0);
    s.write("small.toml", &format!("{EXPERIMENT}{CLAIMS}"));
    let o = s.ablate(&["run", "small.toml", "--out", "r"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("WARNING: the features have no test split"),
        "{stderr}"
    );
    let md = s.read("report/small/REPORT.md");
    assert!(
        md.contains("No test split: this report reports on the validation split"),
        "{md}"
    );
    let claims = s.read("report/small/claims.csv");
    assert!(
        claims.lines().any(|l| l.starts_with("D-tuned,val_acc,")),
        "{claims}"
    );
    assert!(!claims.contains("test_acc"), "{claims}");
    let tuned = s.read("report/small/tuned.csv");
    assert_eq!(tuned.lines().count(), 1 + 2 * 2, "{tuned}");
}

#[test]
fn report_of_a_missing_folder_names_it() {
    let s = Scratch::new();
    let o = s.ablate(&["report", "nowhere/small"]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("nowhere/small/manifest.json"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!s.path("report").exists(), "nothing written");
}
