//! The report reads results; it never links the training framework. `cargo tree` says what a crate
//! links, so this checks the rule itself (and that the check can see burn where it is).

use std::process::Command;

fn normal_dependencies(package: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
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
        .current_dir(std::path::Path::new(&root).join("../.."))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo tree prints UTF-8")
}

#[test]
fn the_report_links_no_burn_crate() {
    let report = normal_dependencies("ablate-report");
    let burn: Vec<&str> = report.lines().filter(|l| l.starts_with("burn")).collect();
    assert!(burn.is_empty(), "ablate-report links {burn:?}");
    // The same query finds burn under the training crate: the check would see it.
    assert!(
        normal_dependencies("ablate-train")
            .lines()
            .any(|l| l.starts_with("burn "))
    );
}
