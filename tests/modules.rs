//! The module graph of `src/` has no cycle between files, and the docs component imports no
//! other component: a layer can be read, tested and replaced from the bottom up.
//!
//! Each file of the library (`src/**/*.rs` but `main.rs`) is a node. An edge is any path the
//! file names (`use` trees, expressions, types, and paths inside macro calls) that resolves to
//! an item of another file: `crate::…`, `super::…`, `self::…` or a child module. A path to an
//! item the crate root re-exports (`crate::Error`) counts as a path to the file defining it.
//! Test modules (`#[cfg(test)]`) are left out: they may use anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::{self, Visit};

type Module = Vec<String>;

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate (lib.rs)".into()
    } else {
        m.join("::")
    }
}

/// Every file of the library, by module path.
fn files(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(src).sort_by_file_name() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") || path == src.join("main.rs") {
            continue;
        }
        let rel = path.strip_prefix(src).unwrap().with_extension("");
        let mut module: Module = rel
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
            module.pop();
        }
        out.insert(module, path.to_path_buf());
    }
    out
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

/// The paths one file names.
#[derive(Default)]
struct Paths(Vec<Vec<String>>);

impl Paths {
    fn use_tree(&mut self, prefix: &[String], tree: &syn::UseTree) {
        let with = |p: &[String], s: String| {
            let mut v = p.to_vec();
            v.push(s);
            v
        };
        match tree {
            syn::UseTree::Path(p) => self.use_tree(&with(prefix, p.ident.to_string()), &p.tree),
            syn::UseTree::Name(n) if n.ident == "self" => self.0.push(prefix.to_vec()),
            syn::UseTree::Name(n) => self.0.push(with(prefix, n.ident.to_string())),
            syn::UseTree::Rename(r) => self.0.push(with(prefix, r.ident.to_string())),
            syn::UseTree::Glob(_) => self.0.push(prefix.to_vec()),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(prefix, t)),
        }
    }

    /// `a::b::c` sequences in a macro's tokens (format! arguments, vec! items, ...).
    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(first) => {
                    let mut path = vec![first.to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        path.push(next.to_string());
                        j += 3;
                    }
                    if path.len() > 1 {
                        self.0.push(path);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test(&m.attrs) {
            visit::visit_item_mod(self, m);
        }
    }
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if !is_test(&f.attrs) {
            visit::visit_item_fn(self, f);
        }
    }
    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if !is_test(&i.attrs) {
            visit::visit_item_impl(self, i);
        }
    }
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if !is_test(&u.attrs) {
            self.use_tree(&[], &u.tree);
        }
    }
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {
        // `pub(super)` names who may see an item, not something the file uses.
    }
    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.0
            .push(p.segments.iter().map(|s| s.ident.to_string()).collect());
        visit::visit_path(self, p);
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        visit::visit_macro(self, m);
    }
}

/// Edges between files, each with one path that makes it.
fn graph() -> BTreeMap<Module, BTreeMap<Module, String>> {
    let src = common_root().join("src");
    let files = files(&src);
    let parse = |m: &Module| {
        let text = std::fs::read_to_string(&files[m]).unwrap();
        syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", files[m].display()))
    };
    // What the crate root re-exports: `pub use error::Error;` makes `crate::Error` error.rs.
    let mut reexports: BTreeMap<String, Module> = BTreeMap::new();
    for item in parse(&vec![]).items {
        if let syn::Item::Use(u) = item {
            let mut p = Paths::default();
            p.use_tree(&[], &u.tree);
            for path in p.0 {
                if let Some(last) = path.last() {
                    reexports.insert(last.clone(), path[..path.len() - 1].to_vec());
                }
            }
        }
    }
    let mut edges: BTreeMap<Module, BTreeMap<Module, String>> = BTreeMap::new();
    for module in files.keys() {
        let mut paths = Paths::default();
        let mut file = parse(module);
        if module.is_empty() {
            // The root's re-exports are resolved at their users (above), not edges of lib.rs.
            file.items.retain(|i| !matches!(i, syn::Item::Use(_)));
        }
        paths.visit_file(&file);
        let out = edges.entry(module.clone()).or_default();
        for path in paths.0 {
            let absolute: Module = match path.first().map(String::as_str) {
                Some("crate") => path[1..].to_vec(),
                Some("super") => {
                    let ups = path.iter().take_while(|s| *s == "super").count();
                    let mut base = module[..module.len().saturating_sub(ups)].to_vec();
                    base.extend(path[ups..].iter().cloned());
                    base
                }
                Some("self") => [module.clone(), path[1..].to_vec()].concat(),
                Some(first)
                    if files.contains_key(&[module.clone(), vec![first.into()]].concat()) =>
                {
                    [module.clone(), path.clone()].concat()
                }
                _ => continue,
            };
            let absolute = match absolute.first().and_then(|f| reexports.get(f)) {
                Some(target) if !files.contains_key(&absolute[..1]) => {
                    [target.clone(), absolute[1..].to_vec()].concat()
                }
                _ => absolute,
            };
            let target = (0..=absolute.len())
                .rev()
                .map(|n| absolute[..n].to_vec())
                .find(|m| files.contains_key(m))
                .expect("the root is a file");
            if &target != module {
                out.entry(target).or_insert_with(|| path.join("::"));
            }
        }
    }
    edges
}

fn common_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Strongly connected components with more than one file (Tarjan).
fn cycles(edges: &BTreeMap<Module, BTreeMap<Module, String>>) -> Vec<Vec<Module>> {
    struct State<'a> {
        edges: &'a BTreeMap<Module, BTreeMap<Module, String>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Module) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flat_map(|e| e.keys()) {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_two_files_of_the_library_depend_on_each_other() {
    let edges = graph();
    let cycles = cycles(&edges);
    let shown: Vec<String> = cycles
        .iter()
        .map(|c| {
            let inner: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    edges[a]
                        .iter()
                        .filter(|(b, _)| c.contains(b))
                        .map(move |(b, via)| format!("    {} -> {} (via {via})", name(a), name(b)))
                })
                .collect();
            format!("  cycle of {} files:\n{}", c.len(), inner.join("\n"))
        })
        .collect();
    assert!(shown.is_empty(), "module cycles:\n{}", shown.join("\n"));
}

#[test]
fn the_graph_sees_the_edges_it_must() {
    // The checker itself: a known edge of each kind is found, so an empty cycle list is not
    // an artefact of a parser that sees nothing.
    let edges = graph();
    let has = |a: &str, b: &str| {
        let m = |s: &str| s.split("::").map(String::from).collect::<Module>();
        edges.get(&m(a)).is_some_and(|e| e.contains_key(&m(b)))
    };
    assert!(has("render", "tree"), "use crate::tree");
    assert!(has("components", "components::apps"), "child module");
    assert!(
        has("components::apps", "error"),
        "crate::Error through the root re-export"
    );
    assert!(
        has("policy::pss", "policy::pss::check"),
        "a child module by name"
    );
    assert!(has("policy::containers", "policy::view"), "super::");
    assert!(
        has("policy::pss::privileged", "policy::pss::check"),
        "use super::check::*"
    );
    assert!(
        has("components::mysql", "crd::monitoring"),
        "a path inside a macro call or expression"
    );
    let mut paths = Paths::default();
    paths.visit_file(
        &syn::parse_str::<syn::File>(
            "pub(super) fn f() { println!(\"{}\", crate::a::b(1)); }\n#[cfg(test)] mod tests { use crate::c; }",
        )
        .unwrap(),
    );
    assert!(
        paths
            .0
            .contains(&vec!["crate".into(), "a".into(), "b".into()]),
        "{:?}",
        paths.0
    );
    assert!(
        !paths.0.iter().any(|p| p.contains(&"c".to_string())),
        "test modules are left out"
    );
    assert!(
        !paths.0.iter().any(|p| p == &vec!["super".to_string()]),
        "visibility is no use"
    );
    let synthetic = BTreeMap::from([
        (
            vec!["a".to_string()],
            BTreeMap::from([(vec!["b".to_string()], String::new())]),
        ),
        (
            vec!["b".to_string()],
            BTreeMap::from([(vec!["a".to_string()], String::new())]),
        ),
    ]);
    assert_eq!(cycles(&synthetic).len(), 1);
}

#[test]
fn the_docs_component_imports_no_other_component() {
    let edges = graph();
    let docs: Module = vec!["components".into(), "docs".into()];
    let imported: Vec<String> = edges[&docs]
        .iter()
        .filter(|(m, _)| m.first().is_some_and(|f| f == "components"))
        .map(|(m, via)| format!("{} (via {via})", name(m)))
        .collect();
    assert!(
        imported.is_empty(),
        "components/docs.rs renders what it is handed; it imports {}",
        imported.join(", ")
    );
}
