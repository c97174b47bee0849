//! The trainer computes; its owners read and write. It links neither the results tables (polars)
//! nor the results crate, and its source names no file API: records go up as values, checkpoints
//! through the store the runner hands in, images and weights come in already read.

use std::path::Path;
use std::process::Command;

fn root() -> std::path::PathBuf {
    let manifest =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    Path::new(&manifest).join("../..")
}

fn normal_dependencies(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
            "--locked",
        ])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("cargo tree prints UTF-8")
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn the_trainer_links_no_polars_and_no_results_crate() {
    let train = normal_dependencies("ablate-train");
    for banned in ["polars", "ablate-results"] {
        assert!(
            !train
                .iter()
                .any(|d| d == banned || d.starts_with("polars-")),
            "ablate-train links {banned}"
        );
    }
    // The same query sees polars under the results crate: the check would see it.
    assert!(
        normal_dependencies("ablate-results")
            .iter()
            .any(|d| d == "polars")
    );
}

#[test]
fn the_trainer_names_no_file_api() {
    // What reading or writing a file takes in Rust's std; a path in an error message is fine.
    const FILE_APIS: [&str; 4] = ["std::fs", "fs::", "File::", "OpenOptions"];
    let src = root().join("crates/ablate-train/src");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&src).expect("the trainer's source folder") {
        let path = entry.expect("a readable entry").path();
        let text = std::fs::read_to_string(&path).expect("a readable source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if FILE_APIS.iter().any(|api| code.contains(api)) {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        src.join("lib.rs").is_file(),
        "the scan reads the right folder"
    );
    assert!(
        found.is_empty(),
        "file IO in ablate-train:\n{}",
        found.join("\n")
    );
}
