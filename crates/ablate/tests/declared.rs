//! A head declared in the experiment file (`[heads.<word>]`) beside the presets: it trains, its
//! switches act on its layers, the report names it by its label, and a later `ablate report` (a
//! new process, which learns the head from the manifest) writes the same report.

use crate::util::Scratch;

const DECLARED: &str = r#"
name = "declared"
[data]
kind = "features"
path = "features.safetensors"
[train]
epochs = 3
batch_size = 32
hidden = 32
[heads.gelu_probe]
layers = ["linear(24)", "gelu", "dropout(0.0)", "linear(C, no bias)"]
label = "GELU probe"
[grid]
head = ["gelu_probe", "linear"]
dropout = [0.0, 0.5]
train_per_class = [20, 60]
seeds = [0, 1]
"#;

#[test]
fn a_declared_head_trains_and_is_reported() {
    let s = Scratch::new();
    s.write("declared.toml", DECLARED);
    let o = s.ablate(&["run", "declared.toml", "--out", "r"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs = s.read("r/declared/runs.csv");
    // Its dropout axis acts on its Dropout; model2 has none and keeps its one variant.
    for drop in ["0", "0.5"] {
        let variant = format!("gelu_probe-drop{drop}-last0");
        let rows = runs.lines().filter(|l| l.contains(&variant)).count();
        assert_eq!(rows, 2 * 2, "{variant} in\n{runs}");
    }
    assert_eq!(
        runs.lines().filter(|l| l.contains(",linear-")).count(),
        4,
        "{runs}"
    );
    let report = s.read("report/declared/REPORT.md");
    assert!(report.contains("GELU probe"), "{report}");
    // A new process reads the head from the manifest alone.
    let again = s.ablate(&["report", "r/declared", "--out", "again"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(s.read("again/REPORT.md"), report);
}

#[test]
fn bad_declared_heads_name_the_file_and_the_layer() {
    let s = Scratch::new();
    let cases = [
        (DECLARED.replace("\"gelu\"", "\"conv(3)\""), "conv(3)"),
        (
            DECLARED.replace("\"linear(C, no bias)\"", "\"relu\""),
            "ends in `linear(C)`",
        ),
        (
            // An axis for a layer the declared head does not have is refused with its layers.
            DECLARED.replace("dropout = [0.0, 0.5]", "bias_before_bn = [true, false]"),
            "Linear(→24) → GELU → Dropout(0) → Linear(→C, no bias)",
        ),
    ];
    for (text, expected) in cases {
        s.write("bad.toml", &text);
        let o = s.ablate(&["run", "bad.toml", "--out", "r"]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("bad.toml"), "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(!s.path("r/declared").exists(), "nothing written");
    }
}
