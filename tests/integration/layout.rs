//! The source tree's shape: no two files of `src/` reach each other in a
//! circle of `use crate::…` / `super::…` paths, and no file of the store
//! grows past what a newcomer can read in one go.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A file of `src/` by its module path (`crate::store::sqlite`).
struct Module {
    path: Vec<String>,
    file: PathBuf,
    text: String,
}

fn modules(src: &Path) -> Vec<Module> {
    let mut found = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let file = entry.expect("a directory entry").path();
            if file.is_dir() {
                dirs.push(file);
                continue;
            }
            if file.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = file.strip_prefix(src).expect("under src/");
            let mut path: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                path.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                path.pop();
            }
            let text = std::fs::read_to_string(&file).expect("a readable source file");
            found.push(Module { path, file, text });
        }
    }
    found
}

/// The file's code without comments and without its test module: tests
/// may reach anywhere.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            // Skip the item that follows: a `mod tests;` line or a braced block.
            let mut depth = 0i32;
            let mut opened = false;
            for next in lines.by_ref() {
                depth += next.matches('{').count() as i32 - next.matches('}').count() as i32;
                opened |= next.contains('{');
                if (opened && depth <= 0) || (!opened && next.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Expands a use tree (`crate::a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let close = tree.rfind('}').filter(|&c| c > open).unwrap_or(tree.len());
    let inner = &tree[open + 1..close];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |e| format!("{prefix}{e}")))
        .collect()
}

/// Every `crate::`, `super::` and `self::` path the code names.
fn paths_in(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let item = line.trim_start();
        let item = item
            .strip_prefix("pub ")
            .or_else(|| item.strip_prefix("pub(crate) "))
            .or_else(|| item.strip_prefix("pub(super) "))
            .unwrap_or(item);
        let Some(tree) = item.strip_prefix("use ") else {
            continue;
        };
        let mut tree = tree.to_owned();
        while !tree.contains(';') {
            match lines.next() {
                Some(more) => tree.push_str(more),
                None => break,
            }
        }
        let end = tree.find(';').unwrap_or(tree.len());
        paths.extend(expand(&tree[..end]));
    }
    let bytes = code.as_bytes();
    for root in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(root) {
            let start = from + at;
            from = start + root.len();
            // Inside a longer path (`super::super::x`): that path was
            // taken from its start.
            let inside = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
            if start > 0 && inside(bytes[start - 1]) {
                continue;
            }
            let end = code[start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| start + e);
            paths.push(code[start..end].to_owned());
        }
    }
    paths
}

/// The file a path from `module` lands in: the deepest module it names.
fn resolve(module: &[String], path: &str, known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut at: Vec<String> = match segments.first() {
        Some(&"crate") => Vec::new(),
        Some(&"self") => module.to_vec(),
        Some(&"super") => module[..module.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    for seg in segments.iter().skip(1) {
        match *seg {
            "super" => {
                at.pop();
            }
            "self" => {}
            name => {
                let mut next = at.clone();
                next.push(name.to_owned());
                if known.contains(&next) {
                    at = next;
                } else {
                    break;
                }
            }
        }
    }
    Some(at)
}

type Edges = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

/// A circle of the graph, if it has one (depth-first).
fn first_circle(edges: &Edges) -> Option<Vec<Vec<String>>> {
    fn visit(
        at: &Vec<String>,
        edges: &Edges,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        if let Some(i) = stack.iter().position(|s| s == at) {
            let mut circle = stack[i..].to_vec();
            circle.push(at.clone());
            return Some(circle);
        }
        if done.contains(at) {
            return None;
        }
        stack.push(at.clone());
        for next in edges.get(at).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(at.clone());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_files_of_src_import_each_other_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // The binary is its own crate: its `crate::` is not the library's.
    let modules: Vec<Module> = modules(&src)
        .into_iter()
        .filter(|m| !m.file.ends_with("main.rs"))
        .filter(|m| m.file.file_name().is_none_or(|f| f != "tests.rs"))
        .collect();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let mut edges = Edges::new();
    for m in &modules {
        let code = code_of(&m.text);
        for path in paths_in(&code) {
            if let Some(to) = resolve(&m.path, &path, &known) {
                if to != m.path {
                    edges.entry(m.path.clone()).or_default().insert(to);
                }
            }
        }
    }
    let name = |p: &Vec<String>| format!("crate::{}", p.join("::"));
    if let Some(circle) = first_circle(&edges) {
        let shown: Vec<String> = circle.iter().map(name).collect();
        panic!("import circle: {}", shown.join(" -> "));
    }
    // The walk found the edges it must: the store's engine uses the
    // store's error type, the API uses the store.
    let store_error = vec!["store".to_owned(), "error".to_owned()];
    let sqlite = vec!["store".to_owned(), "sqlite".to_owned()];
    assert!(edges.get(&sqlite).is_some_and(|e| e.contains(&store_error)));
    assert!(
        edges.len() > 40,
        "only {} files import anything",
        edges.len()
    );
}

#[test]
fn paths_resolve_to_the_files_they_name_and_a_circle_between_two_is_found() {
    let known: BTreeSet<Vec<String>> = [vec!["a".to_owned()], vec!["b".to_owned()]].into();
    let a = paths_in(&code_of(
        "use crate::b::{X, Y};\n// crate::c in a comment\nfn f() { super::b::g() }\n",
    ));
    assert!(a.contains(&"crate::b::X".to_owned()), "{a:?}");
    assert!(a.contains(&"super::b::g".to_owned()), "{a:?}");
    assert!(!a.iter().any(|p| p.contains("::c")), "{a:?}");
    assert_eq!(
        paths_in("fn g() { super::super::x::y() }"),
        ["super::super::x::y"]
    );
    let to: Vec<_> = a
        .iter()
        .filter_map(|p| resolve(&["a".to_owned()], p, &known))
        .collect();
    assert!(to.iter().all(|t| t == &vec!["b".to_owned()]), "{to:?}");
    assert_eq!(
        expand("crate::x::{a, b::{c, d}}"),
        ["crate::x::a", "crate::x::b::c", "crate::x::b::d"]
    );
    assert!(paths_in(&code_of(
        "#[cfg(test)]\nmod tests {\n use crate::b::X;\n}\n"
    ))
    .is_empty());
    let a = vec!["a".to_owned()];
    let b = vec!["b".to_owned()];
    let mut edges = Edges::new();
    edges.entry(a.clone()).or_default().insert(b.clone());
    assert!(first_circle(&edges).is_none());
    edges.entry(b.clone()).or_default().insert(a.clone());
    assert_eq!(first_circle(&edges), Some(vec![a.clone(), b, a]));
}

#[test]
fn no_file_of_the_store_outside_its_tests_passes_nine_hundred_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for m in modules(&src) {
        if m.path.first().is_none_or(|p| p != "store")
            || m.file.file_name().is_some_and(|f| f == "tests.rs")
        {
            continue;
        }
        let lines = code_of(&m.text).lines().count();
        assert!(lines <= 900, "{} has {lines} lines", m.file.display());
    }
}
