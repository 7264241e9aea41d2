//! The one YAML reader: untrusted text in, JSON values out, the way the API server's reader
//! (sigs.k8s.io/yaml over go-yaml) sees it, with bounded time and memory.
//!
//! - A UTF-8 byte-order mark is accepted and dropped.
//! - Merge keys (`<<: *base`, `<<: {privileged: true}`) are applied before anything looks at
//!   the object (`serde_yaml::Value::apply_merge`), as go-yaml does; otherwise a pod could hide
//!   `privileged: true` from the checks while `kubectl` applies it.
//! - A mapping with the same key twice is an error, as `kubectl apply` makes it.
//! - Bounds, checked before the values are built: [`MAX_BYTES`] per file, flow nesting up to
//!   [`MAX_FLOW_DEPTH`] (a linear scan, so 10^5 `[` are refused at once), and at most
//!   [`MAX_EXPANDED_NODES`] nodes once aliases are expanded (counted on the event stream of
//!   `saphyr-parser`, so an alias bomb is refused before any copy is made). Memory stays within
//!   a small multiple of the file size: `cargo bench --bench lint -- read_` measured (2-core
//!   machine, 2026-12) a peak of 6.2 MB live for 1 MB of manifests (50 ms), 1.6 MB allocated in
//!   all to refuse a 260 KB alias bomb (8 ms), and no allocation to refuse 10^5 nested `[`.
//!
//! Why serde_yaml still builds the values: it is archived upstream, but it is the reader whose
//! YAML 1.1 behaviour matches go-yaml's on the corpus the tests hold (3,949 Pod Security
//! fixtures, the Kyverno fixtures, every rendered chart); `saphyr-parser` (maintained, YAML 1.2)
//! only guards the input. Moving the value building to a maintained reader is one function here.

use serde::Deserialize;

/// Largest document read: 16 MiB (Kubernetes objects are limited to 1.5 MiB by etcd; a `List`
/// of them is one document). A stream of many documents has no size limit: [`documents`]
/// reads it one document at a time.
pub const MAX_BYTES: usize = 16 << 20;
/// Deepest `[`/`{` nesting.
pub const MAX_FLOW_DEPTH: usize = 64;
/// Most nodes of a file once every alias is expanded.
pub const MAX_EXPANDED_NODES: u64 = 2_000_000;

/// Why a text was refused, with its position (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// Line.
    pub line: usize,
    /// Column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

fn at(line: usize, column: usize, message: impl Into<String>) -> ReadError {
    ReadError {
        line,
        column,
        message: message.into(),
    }
}

/// The deepest flow nesting, outside quotes and comments, with the position where
/// [`MAX_FLOW_DEPTH`] is passed.
fn check_flow_depth(text: &str) -> Result<(), ReadError> {
    let (mut depth, mut line, mut col) = (0usize, 1usize, 0usize);
    let (mut single, mut double, mut escaped, mut comment) = (false, false, false, false);
    let mut prev = '\n';
    for c in text.chars() {
        col += 1;
        if c == '\n' {
            line += 1;
            col = 0;
            comment = false;
            prev = c;
            continue;
        }
        if comment {
            continue;
        }
        if double {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                double = false;
            }
        } else if single {
            if c == '\'' {
                single = false;
            }
        } else {
            match c {
                '#' if prev.is_whitespace() => comment = true,
                '"' => double = true,
                '\'' if prev.is_whitespace() || "[{,:".contains(prev) => single = true,
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Err(at(
                            line,
                            col,
                            format!("nested deeper than {MAX_FLOW_DEPTH} levels: refused"),
                        ));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        prev = c;
    }
    Ok(())
}

/// Counts the nodes of every document with aliases expanded, refusing past the bound.
fn check_expansion(text: &str) -> Result<(), ReadError> {
    use saphyr_parser::{Event, Parser};
    let mut sizes: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
    // Open collections: (anchor id, nodes so far).
    let mut stack: Vec<(usize, u64)> = Vec::new();
    let mut total: u64 = 0;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| {
            let m = e.marker();
            at(
                m.line(),
                m.col() + 1,
                format!("YAML syntax error: {}", e.info()),
            )
        })?;
        let add = |n: u64, stack: &mut Vec<(usize, u64)>, total: &mut u64| {
            if let Some(top) = stack.last_mut() {
                top.1 = top.1.saturating_add(n);
            } else {
                *total = total.saturating_add(n);
            }
        };
        match event {
            Event::Scalar(_, _, anchor, _) => {
                if anchor > 0 {
                    sizes.insert(anchor, 1);
                }
                add(1, &mut stack, &mut total);
            }
            Event::Alias(id) => {
                let n = sizes.get(&id).copied().unwrap_or(1);
                add(n, &mut stack, &mut total);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                stack.push((anchor, 1));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, n)) = stack.pop() {
                    if anchor > 0 {
                        sizes.insert(anchor, n);
                    }
                    add(n, &mut stack, &mut total);
                }
            }
            _ => {}
        }
        let open: u64 = stack.iter().map(|(_, n)| *n).sum();
        if total.saturating_add(open) > MAX_EXPANDED_NODES {
            return Err(at(
                span.start.line(),
                span.start.col() + 1,
                format!(
                    "more than {MAX_EXPANDED_NODES} nodes once aliases are expanded: refused (alias bomb?)"
                ),
            ));
        }
    }
    Ok(())
}

/// One document of a YAML stream: its text and the 1-based line of the stream it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDocument {
    /// The line of the stream where `text` starts.
    pub first_line: usize,
    /// The document's text (with its `---` line, if any).
    pub text: String,
}

/// The documents of a YAML stream, read one at a time from `reader` (see [`Documents`]).
pub fn documents<R: std::io::BufRead>(reader: R) -> Documents<R> {
    Documents {
        reader,
        line: 1,
        next: None,
        done: false,
    }
}

/// Splits a YAML stream into documents without parsing it, so memory holds one document at a
/// time whatever the stream's size. A line that starts with `---` or `...` followed by a blank
/// or the line's end is a document marker wherever it occurs: YAML 1.2.2 §9.1.4 (and 1.1
/// §9.1.2) forbid such a line inside any scalar (`c-forbidden`), so the split never cuts a
/// value. Directives and comments before a `---` stay with the document they precede. A
/// document larger than [`MAX_BYTES`] is an error, detected before more of it is read.
pub struct Documents<R> {
    reader: R,
    /// Line number of the next line read.
    line: usize,
    /// The marker line that starts the next document, read while ending the previous one.
    next: Option<(usize, Vec<u8>)>,
    done: bool,
}

fn is_marker(line: &[u8], marker: &[u8; 3]) -> bool {
    line.starts_with(marker) && line.get(3).is_none_or(|b| b" \t\r\n".contains(b))
}

impl<R: std::io::BufRead> Documents<R> {
    fn finish(&self, first_line: usize, text: Vec<u8>) -> Result<StreamDocument, ReadError> {
        let mut text = String::from_utf8(text).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = first_line + valid.iter().filter(|b| **b == b'\n').count();
            at(line, 0, "not UTF-8 text: refused")
        })?;
        if first_line == 1 && text.starts_with('\u{feff}') {
            text.replace_range(..3, "");
        }
        Ok(StreamDocument { first_line, text })
    }
}

impl<R: std::io::BufRead> Iterator for Documents<R> {
    type Item = Result<StreamDocument, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        use std::io::{BufRead as _, Read as _};
        if self.done {
            return None;
        }
        let (first_line, mut text) = self.next.take().unwrap_or((self.line, Vec::new()));
        // Whether `text` holds more than comments, blank lines and directives.
        let mut content = text.iter().any(|b| !b.is_ascii_whitespace());
        let mut line = Vec::new();
        loop {
            line.clear();
            let room = (MAX_BYTES + 1).saturating_sub(text.len()) as u64;
            let read = (&mut self.reader).take(room).read_until(b'\n', &mut line);
            let n = match read {
                Ok(n) => n,
                Err(e) => {
                    self.done = true;
                    return Some(Err(at(self.line, 0, format!("cannot read: {e}"))));
                }
            };
            if n == 0 {
                self.done = true;
                return (!text.is_empty()).then(|| self.finish(first_line, text));
            }
            let number = self.line;
            if line.ends_with(b"\n") {
                self.line += 1;
            }
            let body = if number == 1 {
                line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&line)
            } else {
                &line[..]
            };
            if is_marker(body, b"---") && content {
                self.next = Some((number, line.clone()));
                return Some(self.finish(first_line, text));
            }
            text.extend_from_slice(&line);
            if text.len() > MAX_BYTES {
                self.done = true;
                return Some(Err(at(
                    first_line,
                    0,
                    format!("a document larger than {} MiB: refused", MAX_BYTES >> 20),
                )));
            }
            if is_marker(body, b"...") {
                return Some(self.finish(first_line, text));
            }
            let trimmed = body.trim_ascii_start();
            if !(trimmed.is_empty() || body.starts_with(b"%") || trimmed.starts_with(b"#")) {
                content = true;
            }
        }
    }
}

/// Parses a multi-document YAML text into JSON values (nulls of empty documents dropped).
pub fn read_documents(text: &str) -> Result<Vec<serde_json::Value>, ReadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() > MAX_BYTES {
        return Err(at(
            0,
            0,
            format!("larger than {} MiB: refused", MAX_BYTES >> 20),
        ));
    }
    check_flow_depth(text)?;
    check_expansion(text)?;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let located = |e: serde_yaml::Error| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            at(line, column, format!("YAML syntax error: {e}"))
        };
        let mut value = serde_yaml::Value::deserialize(doc).map_err(located)?;
        value.apply_merge().map_err(located)?;
        if value.is_null() {
            continue;
        }
        let json = serde_json::to_value(&value)
            .map_err(|e| at(0, 0, format!("not a Kubernetes object: {e}")))?;
        out.push(json);
    }
    Ok(out)
}

/// Where each field of each document starts: per document, its paths (`spec.containers[0].image`,
/// the form policy findings use) with the 1-based line and column of the key (or of the item,
/// in a sequence). Only for texts [`read_documents`] accepted; aliases point at the alias.
pub fn field_positions(text: &str) -> Vec<std::collections::BTreeMap<String, (usize, usize)>> {
    use saphyr_parser::{Event, Parser};
    enum Frame {
        Map { key: Option<String>, at: String },
        Seq { index: usize, at: String },
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut docs = Vec::new();
    let mut map = std::collections::BTreeMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    // read_documents drops documents that are null: so does this, to stay aligned.
    let mut null_doc = false;
    let join = |parent: &str, key: &str| {
        if parent.is_empty() {
            key.to_string()
        } else {
            format!("{parent}.{key}")
        }
    };
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else { break };
        let pos = (span.start.line(), span.start.col() + 1);
        // The path of a value starting here, and whether it is a mapping key.
        let (here, is_key) = match stack.last() {
            Some(Frame::Map { key: None, at }) => (at.clone(), true),
            Some(Frame::Map { key: Some(k), at }) => (join(at, k), false),
            Some(Frame::Seq { index, at }) => (format!("{at}[{index}]"), false),
            None => (String::new(), false),
        };
        let advance = |stack: &mut Vec<Frame>| match stack.last_mut() {
            Some(Frame::Map { key, .. }) => *key = None,
            Some(Frame::Seq { index, .. }) => *index += 1,
            None => {}
        };
        match event {
            Event::DocumentStart(_) => {
                map = std::collections::BTreeMap::new();
                stack.clear();
                null_doc = false;
            }
            Event::DocumentEnd => {
                let m = std::mem::take(&mut map);
                if !null_doc {
                    docs.push(m);
                }
            }
            Event::Scalar(ref value, ..) if stack.is_empty() => {
                null_doc = matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL");
                map.entry(here).or_insert(pos);
            }
            Event::Scalar(value, ..) if is_key => {
                let path = join(&here, &value);
                map.entry(path).or_insert(pos);
                if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                    *key = Some(value.to_string());
                }
            }
            Event::Scalar(..) | Event::Alias(_) => {
                map.entry(here).or_insert(pos);
                advance(&mut stack);
            }
            Event::MappingStart(..) => {
                map.entry(here.clone()).or_insert(pos);
                stack.push(Frame::Map {
                    key: None,
                    at: here,
                });
            }
            Event::SequenceStart(..) => {
                map.entry(here.clone()).or_insert(pos);
                stack.push(Frame::Seq { index: 0, at: here });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                advance(&mut stack);
            }
            _ => {}
        }
    }
    docs
}

/// The position of `path` in `positions`, or of its nearest ancestor that has one.
pub fn position_of(
    positions: &std::collections::BTreeMap<String, (usize, usize)>,
    path: &str,
) -> Option<(usize, usize)> {
    let mut p = path;
    loop {
        if let Some(at) = positions.get(p) {
            return Some(*at);
        }
        let cut = p.rfind(['.', '['])?;
        p = &p[..cut];
    }
}

/// A file that cannot be read or parsed (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", position(file, *line, *column))]
pub struct InputError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// `file:line:column`, or `file` alone when the position is unknown.
fn position(file: &str, line: usize, column: usize) -> String {
    if line == 0 {
        file.to_string()
    } else {
        format!("{file}:{line}:{column}")
    }
}

/// `InputError` for `file` at a position.
pub(crate) fn input_error(
    file: &std::path::Path,
    line: usize,
    column: usize,
    message: String,
) -> InputError {
    InputError {
        file: file.display().to_string(),
        line,
        column,
        message,
    }
}

/// Parses one YAML text into its objects (multi-document, `List` items flattened), through
/// [`read_documents`].
pub fn parse_documents(
    file: &std::path::Path,
    text: &str,
) -> Result<Vec<serde_json::Value>, InputError> {
    let docs = read_documents(text).map_err(|e| input_error(file, e.line, e.column, e.message))?;
    Ok(docs.into_iter().flat_map(flatten).collect())
}

/// Objects in a value with their path prefix in it: the value itself (prefix ``), or the
/// items of a `List`, nested Lists flattened as `kubectl` does (`items[0].items[2].`).
pub fn flatten_located(v: serde_json::Value) -> Vec<(String, serde_json::Value)> {
    fn walk(v: serde_json::Value, prefix: String, out: &mut Vec<(String, serde_json::Value)>) {
        let is_list =
            v["kind"].as_str().is_some_and(|k| k.ends_with("List")) && v["items"].is_array();
        match v {
            serde_json::Value::Object(mut m) if is_list => {
                if let Some(serde_json::Value::Array(items)) = m.remove("items") {
                    for (i, item) in items.into_iter().enumerate() {
                        walk(item, format!("{prefix}items[{i}]."), out);
                    }
                }
            }
            v => out.push((prefix, v)),
        }
    }
    let mut out = Vec::new();
    walk(v, String::new(), &mut out);
    out
}

/// Objects in a value: the value itself, or the items of a `List`.
pub fn flatten(v: serde_json::Value) -> Vec<serde_json::Value> {
    let is_list = v["kind"]
        .as_str()
        .is_some_and(|k| k == "List" || k.ends_with("List"))
        && v["items"].is_array();
    if is_list {
        match v {
            serde_json::Value::Object(mut m) => match m.remove("items") {
                Some(serde_json::Value::Array(items)) => {
                    items.into_iter().flat_map(flatten).collect()
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    } else {
        vec![v]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_positions_follow_keys_and_items_and_skip_null_documents() {
        let text = "---\n---\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: x\n  - name: b\n    securityContext: {privileged: true}\n";
        let docs = field_positions(text);
        assert_eq!(docs.len(), read_documents(text).unwrap().len());
        let p = &docs[0];
        assert_eq!(p["kind"], (3, 1));
        assert_eq!(p["spec.containers[0].image"], (7, 5));
        assert_eq!(p["spec.containers[1].securityContext.privileged"], (9, 23));
        assert_eq!(
            position_of(p, "spec.containers[1].securityContext.runAsNonRoot"),
            Some((9, 5))
        );
    }

    #[test]
    fn a_stream_splits_at_document_markers_only() {
        let text = "\u{feff}# head\n---\na: 1\n---   \nb: |\n  --- not a marker\n...\n%YAML 1.1\n---\nc: 3\n---x: 5\nd: 4\n";
        let docs: Vec<StreamDocument> = documents(text.as_bytes()).map(Result::unwrap).collect();
        let firsts: Vec<usize> = docs.iter().map(|d| d.first_line).collect();
        assert_eq!(firsts, vec![1, 4, 8], "{docs:#?}");
        assert_eq!(docs[0].text, "# head\n---\na: 1\n");
        assert_eq!(
            read_documents(&docs[1].text).unwrap()[0]["b"],
            "--- not a marker\n"
        );
        let last = &read_documents(&docs[2].text).unwrap()[0];
        assert_eq!((&last["---x"], &last["d"]), (&5.into(), &4.into()));
        let big = format!("a: {}\n", "x".repeat(MAX_BYTES));
        assert!(documents(big.as_bytes()).any(|d| d.is_err()));
    }

    #[test]
    fn nested_lists_are_flattened_with_their_paths() {
        let v = serde_json::json!({"kind": "List", "items": [{"kind": "Pod"}, {"kind": "PodList", "items": [{"kind": "Pod", "n": 1}]}]});
        let got: Vec<String> = flatten_located(v).into_iter().map(|(p, _)| p).collect();
        assert_eq!(got, vec!["items[0].", "items[1].items[0]."]);
    }

    #[test]
    fn merge_keys_are_applied_as_the_api_server_reader_does() {
        let docs = read_documents("a: {<<: {privileged: true}, x: 1}\n").unwrap();
        assert_eq!(docs[0]["a"]["privileged"], true);
    }

    #[test]
    fn duplicate_keys_and_bombs_are_refused_a_bom_is_not() {
        assert!(read_documents("a: 1\na: 2\n").is_err());
        assert!(read_documents(&"[".repeat(100_000)).is_err());
        assert_eq!(read_documents("\u{feff}a: 1\n").unwrap()[0]["a"], 1);
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            bomb.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                vec![format!("*a{}", i - 1); 10].join(", ")
            ));
        }
        assert!(
            read_documents(&bomb)
                .unwrap_err()
                .message
                .contains("aliases")
        );
    }
}
