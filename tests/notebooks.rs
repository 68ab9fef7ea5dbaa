//! The notebooks' Rust cells must compile against the library: each notebook has a mirror in
//! `examples/nb_*.rs` (its code cells, evcxr's `:` commands dropped, inside `fn main`), which `cargo test`
//! builds. This test fails when a notebook and its mirror drift apart; run
//! `UPDATE_NOTEBOOK_EXAMPLES=1 cargo test --test notebooks` to regenerate the mirrors.

use std::path::Path;

/// The body of one code cell in the mirror: evcxr commands (`:dep`, `:cache`, …) dropped, and
/// the cell's final expression (what evcxr displays) turned into a statement.
fn mirror_cell(src: &str) -> String {
    let lines: Vec<&str> = src.lines().filter(|l| !l.trim_start().starts_with(':')).collect();
    let last = lines.iter().rposition(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"));
    let mut body = String::new();
    for (i, line) in lines.iter().enumerate() {
        body.push_str("    ");
        body.push_str(line);
        let t = line.trim_end();
        if Some(i) == last && !(t.ends_with(';') || t.ends_with('}') || t.ends_with('{')) {
            body.push(';');
        }
        body.push('\n');
    }
    body
}

fn mirror_of(notebook: &Path) -> String {
    let text = std::fs::read_to_string(notebook).unwrap();
    let nb: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", notebook.display()));
    let mut body = String::new();
    for cell in nb["cells"].as_array().expect("cells") {
        if cell["cell_type"] != "code" {
            continue;
        }
        let src: String = match &cell["source"] {
            serde_json::Value::Array(lines) => lines.iter().filter_map(|l| l.as_str()).collect(),
            serde_json::Value::String(s) => s.clone(),
            _ => String::new(),
        };
        let cell = mirror_cell(&src);
        if !cell.trim().is_empty() {
            body.push_str(&cell);
            body.push('\n');
        }
    }
    format!(
        "//! Generated from notebooks/{} by tests/notebooks.rs — edit the notebook, not this file.\n\n#[allow(unused, clippy::all)]\n#[rustfmt::skip]\nfn main() -> Result<(), Box<dyn std::error::Error>> {{\n{}    Ok(())\n}}\n",
        notebook.file_name().unwrap().to_string_lossy(),
        body.trim_end_matches('\n').to_string() + "\n"
    )
}

#[test]
fn every_notebook_has_an_up_to_date_compiled_mirror() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut notebooks: Vec<_> =
        std::fs::read_dir(root.join("notebooks")).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "ipynb")).collect();
    notebooks.sort();
    assert!(notebooks.len() >= 6, "one notebook per chapter");
    for nb in notebooks {
        let stem = nb.file_stem().unwrap().to_string_lossy().replace('-', "_");
        let example = root.join("examples").join(format!("nb_{stem}.rs"));
        let want = mirror_of(&nb);
        if std::env::var_os("UPDATE_NOTEBOOK_EXAMPLES").is_some() {
            std::fs::create_dir_all(root.join("examples")).unwrap();
            std::fs::write(&example, &want).unwrap();
        }
        let have = std::fs::read_to_string(&example).unwrap_or_default();
        assert_eq!(have, want, "{} is out of date with {}", example.display(), nb.display());
    }
}

/// Dependency names of this crate (the `[dependencies]` table of Cargo.toml), as Rust paths.
fn dependency_names(root: &Path) -> Vec<String> {
    let toml = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let deps = toml.split("[dependencies]").nth(1).expect("a [dependencies] table");
    let deps = deps.split("\n[").next().unwrap_or_default();
    deps.lines().filter_map(|l| l.split('=').next()).map(str::trim).filter(|n| !n.is_empty() && !n.starts_with('#')).map(|n| n.replace('-', "_")).collect()
}

#[test]
fn notebooks_reach_dependencies_only_through_the_crate() {
    // In evcxr the notebook's only dependency is relu-symmetries, so `ndarray::…` fails there
    // although the examples/ mirror (which sees every dependency of the package) compiles.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let deps = dependency_names(root);
    assert!(deps.contains(&"ndarray".to_string()) && deps.contains(&"burn".to_string()), "{deps:?}");
    for entry in std::fs::read_dir(root.join("notebooks")).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "ipynb") {
            continue;
        }
        let nb: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for cell in nb["cells"].as_array().unwrap().iter().filter(|c| c["cell_type"] == "code") {
            let src: String = cell["source"].as_array().map(|l| l.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
            for line in src.lines().filter(|l| !l.trim_start().starts_with(':')) {
                for dep in &deps {
                    let pat = format!("{dep}::");
                    for (i, _) in line.match_indices(&pat) {
                        let before = line[..i].chars().last();
                        let rooted = !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
                        assert!(!rooted, "{}: `{}` names the dependency {dep} directly; use relu_symmetries' re-export", path.display(), line.trim());
                    }
                }
            }
        }
    }
}
