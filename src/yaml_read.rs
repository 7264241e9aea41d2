//! The one YAML reader: untrusted text in, JSON values out, the way the API server's reader
//! sees it, each text parsed once, with positions and bounded time and memory.
//!
//! One parser, `saphyr-parser` (maintained; a pull parser without recursion), produces events;
//! [`read_located`] builds the JSON values from them in the same pass, with the position of
//! every field when asked. `kubectl` and the API server read YAML with sigs.k8s.io/yaml, whose
//! `goyaml.v2` resolves plain scalars by YAML 1.1 rules; [`resolve`] follows it
//! (kubernetes-sigs/yaml@742f5e6 `goyaml.v2/resolve.go`, `resolve`):
//! - `y`, `yes`, `on`, `true` (and `Y`, `Yes`, `YES`, `On`, `ON`, `True`, `TRUE`) are `true`, the
//!   `n`/`no`/`off`/`false` family `false`, so `privileged: yes` is caught as the API server
//!   would apply it; `~`, `null`, `Null`, `NULL` and the empty scalar are null;
//! - integers as Go's `strconv.ParseInt(s, 0, 64)` reads them after removing `_` (`0x1F`,
//!   `0o17`, `0b101`, `017` octal), then floats (`yamlStyleFloat`); a float that is a whole
//!   number becomes an integer, as it does once encoded to JSON and decoded by the API server;
//!   `.nan` and `.inf` cannot be JSON and are refused;
//! - quoted and block scalars, and scalars tagged `!!str` or with a custom tag, stay strings.
//!   Timestamps stay the string written (go-yaml would re-format them).
//!
//! As the API server's reader does, merge keys (`<<: *base`, `<<: {privileged: true}`) are
//! applied before anything looks at the object (keys written in the mapping win, then earlier
//! merged mappings), so a pod cannot hide `privileged: true` from the checks; a mapping with
//! the same key twice is an error, as `kubectl apply` makes it; a UTF-8 byte-order mark is
//! dropped.
//!
//! Bounds, per document, checked as the events arrive (before any copy is made): nesting up
//! to [`MAX_DEPTH`] levels (10^5 `[` are refused at the 256th), at most
//! [`MAX_EXPANDED_NODES`] nodes once aliases are expanded (an alias bomb is refused before its
//! copies exist), and [`MAX_BYTES`] per document; a stream of many documents is read one
//! document at a time ([`documents`]).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

/// Largest document read: 16 MiB (Kubernetes objects are limited to 1.5 MiB by etcd; a `List`
/// of them is one document). A stream of many documents has no size limit: [`documents`]
/// reads it one document at a time.
pub const MAX_BYTES: usize = 16 << 20;
/// Deepest nesting of mappings and sequences in a document. The deepest schema of the CRDs
/// in `../shared/schemas` nests far less; Go's JSON decoder stops at 10,000. The parser's own
/// flow counter stops at the same depth (saphyr-parser@0.3.4 `src/scanner.rs:447`
/// `flow_level: u8`, `:1568` `increase_flow_level`), while scanning ahead of the events: its
/// "recursion limit exceeded" is reported as this bound.
pub const MAX_DEPTH: usize = 255;
/// Most nodes of a document once every alias is expanded.
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

/// Where each field of a document starts: its path (`spec.containers[0].image`, the form
/// policy findings use) → 1-based line and column of the key (or of the item, in a sequence).
pub type Positions = BTreeMap<String, (usize, usize)>;

/// A document read: its value and, when asked, where each field starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// The document as JSON.
    pub value: Value,
    /// The positions of its fields (empty unless asked).
    pub positions: Positions,
}

/// What `goyaml.v2` makes of a plain scalar (see the module docs).
pub fn resolve(text: &str) -> Result<Value, String> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Ok(Value::Bool(true));
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Ok(Value::Bool(false));
        }
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
        | "-.inf" | "-.Inf" | "-.INF" => {
            return Err(format!("`{text}` is not a number JSON can hold"));
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if first == b'.' {
        return Ok(text.parse::<f64>().map_or_else(|_| text.into(), float));
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Ok(text.into());
    }
    let plain = text.replace('_', "");
    if let Some(n) = go_parse_int(&plain) {
        return Ok(n);
    }
    if yaml_style_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
    {
        return Ok(float(f));
    }
    Ok(text.into())
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint` (sign, `0x`/`0o`/`0b` prefixes, a
/// leading `0` for octal).
fn go_parse_int(s: &str) -> Option<Value> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(b) = lower.strip_prefix("0x") {
        (16, b)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b)
    } else if let Some(b) = lower.strip_prefix("0o") {
        (8, b)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    if negative {
        if magnitude <= i64::MAX as u64 + 1 {
            Some(Value::from((magnitude as i128).wrapping_neg() as i64))
        } else {
            None
        }
    } else {
        Some(Value::from(magnitude))
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A float as JSON carries it to the API server: a whole number within 2^53 is an integer.
fn float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or_else(|| f.to_string().into(), Value::Number)
    }
}

/// A mapping key as sigs.k8s.io/yaml turns it into a JSON key (`yes:` → `"true"`).
fn key_text(scalar: &str, plain: bool) -> Result<String, String> {
    if !plain {
        return Ok(scalar.to_string());
    }
    Ok(match resolve(scalar)? {
        Value::String(s) => s,
        Value::Null => "null".into(),
        other => other.to_string(),
    })
}

/// A collection being built.
enum Frame {
    Map {
        map: serde_json::Map<String, Value>,
        /// The key whose value comes next, and whether it is the merge key `<<`.
        key: Option<(String, bool)>,
        /// Mappings merged in with `<<`, in order.
        merges: Vec<Value>,
        anchor: usize,
        nodes: u64,
        path: String,
    },
    Seq {
        items: Vec<Value>,
        anchor: usize,
        nodes: u64,
        path: String,
    },
}

/// Reads every document of a YAML text (null documents dropped), with the positions of their
/// fields when `positions` is true. One pass of one parser; bounds in the module docs.
pub fn read_located(text: &str, positions: bool) -> Result<Vec<Located>, ReadError> {
    use saphyr_parser::{Event, Parser, ScalarStyle};
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() > MAX_BYTES {
        return Err(at(
            0,
            0,
            format!("a document larger than {} MiB: refused", MAX_BYTES >> 20),
        ));
    }
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Anchored values with their node counts (aliases expand to copies, as go-yaml does).
    let mut anchors: HashMap<usize, (Value, u64)> = HashMap::new();
    let mut total: u64 = 0;
    let mut pos = Positions::new();
    let mut root: Option<Value> = None;
    let join = |parent: &str, key: &str| {
        if parent.is_empty() {
            key.to_string()
        } else {
            format!("{parent}.{key}")
        }
    };
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| {
            let m = e.marker();
            let message = if e.info() == "recursion limit exceeded" {
                format!("nested deeper than {MAX_DEPTH} levels: refused")
            } else {
                format!("YAML syntax error: {}", e.info())
            };
            at(m.line(), m.col() + 1, message)
        })?;
        let (line, column) = (span.start.line(), span.start.col() + 1);
        let fail = |message: String| at(line, column, message);
        // Every node counts once, an alias as many nodes as its copy holds, checked before the
        // copy is made.
        let grow = |total: &mut u64, n: u64| {
            *total = total.saturating_add(n);
            if *total > MAX_EXPANDED_NODES {
                Err(at(
                    line,
                    column,
                    format!(
                        "more than {MAX_EXPANDED_NODES} nodes once aliases are expanded: refused (alias bomb?)"
                    ),
                ))
            } else {
                Ok(())
            }
        };
        // The path of a node starting here (only when positions are asked).
        let here = |stack: &[Frame]| -> String {
            if !positions {
                return String::new();
            }
            match stack.last() {
                Some(Frame::Map {
                    key: Some((k, _)),
                    path,
                    ..
                }) => join(path, k),
                Some(Frame::Map { path, .. }) => path.clone(),
                Some(Frame::Seq { items, path, .. }) => format!("{path}[{}]", items.len()),
                None => String::new(),
            }
        };
        // A finished node: into its parent, or the document's root.
        let mut finished: Option<(Value, u64, usize)> = None;
        match event {
            Event::DocumentStart(_) => {
                stack.clear();
                anchors.clear();
                pos = Positions::new();
                total = 0;
                root = None;
            }
            Event::DocumentEnd => {
                if let Some(value) = root.take()
                    && !value.is_null()
                {
                    docs.push(Located {
                        value,
                        positions: std::mem::take(&mut pos),
                    });
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let plain = style == ScalarStyle::Plain;
                // A key: remember it; the value comes next.
                if let Some(Frame::Map {
                    key: key @ None,
                    path,
                    map,
                    ..
                }) = stack.last_mut()
                {
                    let merge = plain && value == "<<";
                    let k = key_text(&value, plain).map_err(fail)?;
                    if !merge && map.contains_key(&k) {
                        return Err(fail(format!("duplicate key `{k}` in a mapping")));
                    }
                    if positions {
                        pos.entry(join(path, &k)).or_insert((line, column));
                    }
                    *key = Some((k, merge));
                    continue;
                }
                if positions {
                    pos.entry(here(&stack)).or_insert((line, column));
                }
                grow(&mut total, 1)?;
                let custom = tag.as_ref().is_some_and(|t| !t.is_yaml_core_schema());
                let as_string = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                let v = if plain && !custom && !as_string {
                    resolve(&value).map_err(fail)?
                } else {
                    Value::String(value.into_owned())
                };
                finished = Some((v, 1, anchor));
            }
            Event::Alias(id) => {
                if let Some(Frame::Map { key: None, .. }) = stack.last() {
                    return Err(fail("an alias as a mapping key is not supported".into()));
                }
                if positions {
                    pos.entry(here(&stack)).or_insert((line, column));
                }
                let (v, n) = anchors
                    .get(&id)
                    .ok_or_else(|| fail("an alias to an unknown anchor".into()))?;
                grow(&mut total, *n)?;
                finished = Some((v.clone(), *n, 0));
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                if let Some(Frame::Map { key: None, .. }) = stack.last() {
                    return Err(fail("a mapping key must be a scalar".into()));
                }
                grow(&mut total, 1)?;
                if stack.len() >= MAX_DEPTH {
                    return Err(fail(format!(
                        "nested deeper than {MAX_DEPTH} levels: refused"
                    )));
                }
                let path = here(&stack);
                if positions {
                    pos.entry(path.clone()).or_insert((line, column));
                }
                stack.push(if matches!(event, Event::MappingStart(..)) {
                    Frame::Map {
                        map: serde_json::Map::new(),
                        key: None,
                        merges: Vec::new(),
                        anchor,
                        nodes: 1,
                        path,
                    }
                } else {
                    Frame::Seq {
                        items: Vec::new(),
                        anchor,
                        nodes: 1,
                        path,
                    }
                });
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    mut map,
                    merges,
                    anchor,
                    nodes,
                    ..
                }) = stack.pop()
                {
                    for merged in merges {
                        if let Value::Object(m) = merged {
                            for (k, v) in m {
                                map.entry(k).or_insert(v);
                            }
                        }
                    }
                    finished = Some((Value::Object(map), nodes, anchor));
                }
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    items,
                    anchor,
                    nodes,
                    ..
                }) = stack.pop()
                {
                    finished = Some((Value::Array(items), nodes, anchor));
                }
            }
            _ => {}
        }
        let Some((value, n, anchor)) = finished else {
            continue;
        };
        if anchor > 0 {
            anchors.insert(anchor, (value.clone(), n));
        }
        match stack.last_mut() {
            Some(Frame::Map {
                map,
                key,
                merges,
                nodes,
                ..
            }) => {
                *nodes = nodes.saturating_add(n);
                match key.take() {
                    Some((_, true)) => match value {
                        Value::Object(_) => merges.push(value),
                        Value::Array(items) if items.iter().all(Value::is_object) => {
                            merges.extend(items);
                        }
                        _ => {
                            return Err(fail(
                                "a merge key `<<` takes a mapping or a sequence of mappings".into(),
                            ));
                        }
                    },
                    Some((k, false)) => {
                        map.insert(k, value);
                    }
                    None => {}
                }
            }
            Some(Frame::Seq { items, nodes, .. }) => {
                *nodes = nodes.saturating_add(n);
                items.push(value);
            }
            None => root = Some(value),
        }
    }
    Ok(docs)
}

/// Parses a multi-document YAML text into JSON values (null documents dropped).
pub fn read_documents(text: &str) -> Result<Vec<Value>, ReadError> {
    Ok(read_located(text, false)?
        .into_iter()
        .map(|d| d.value)
        .collect())
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

/// The position of `path` in `positions`, or of its nearest ancestor that has one.
pub fn position_of(positions: &Positions, path: &str) -> Option<(usize, usize)> {
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
        let docs = read_located(text, true).unwrap();
        assert_eq!(docs.len(), 1);
        let p = &docs[0].positions;
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
    fn plain_scalars_resolve_as_goyaml_v2_does() {
        let doc = &read_documents(
            "a: yes\nb: off\nc: ~\nd: 0x1F\ne: 017\nf: 1_000\ng: 1.5\nh: 2.0\ni: \"yes\"\nj: !!str 12\nk: 1.2.3\nl: -0b11\nm: 08\nt: 2026-12-07\no: +12\np: .5\nq: 18446744073709551615\n",
        )
        .unwrap()[0];
        let want = serde_json::json!({"a": true, "b": false, "c": null, "d": 31, "e": 15,
            "f": 1000, "g": 1.5, "h": 2, "i": "yes", "j": "12", "k": "1.2.3", "l": -3, "m": 8,
            "t": "2026-12-07", "o": 12, "p": 0.5, "q": 18446744073709551615u64});
        assert_eq!(doc, &want);
        assert!(read_documents("a: .nan\n").is_err());
        assert_eq!(
            read_documents("yes: 1\n1: 2\n").unwrap()[0],
            serde_json::json!({"true": 1, "1": 2})
        );
    }

    #[test]
    fn merge_keys_are_applied_as_the_api_server_reader_does() {
        let docs = read_documents("a: {<<: {privileged: true}, x: 1}\n").unwrap();
        assert_eq!(docs[0]["a"]["privileged"], true);
        let docs =
            read_documents("b: &b {x: 1, w: 1}\nc: &c {w: 2, z: 2}\nd: {<<: [*b, *c], x: 0}\n")
                .unwrap();
        assert_eq!(docs[0]["d"], serde_json::json!({"x": 0, "w": 1, "z": 2}));
        assert!(read_documents("a: {<<: 1}\n").is_err());
    }

    #[test]
    fn duplicate_keys_and_bombs_are_refused_a_bom_is_not() {
        assert!(read_documents("a: 1\na: 2\n").is_err());
        // Flow or block style, a deep text is refused by the depth bound, not the parser's.
        let deep_block: String = (0..300).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        for deep in ["[".repeat(100_000), "{a: ".repeat(300), deep_block] {
            let e = read_documents(&deep).unwrap_err();
            assert!(e.message.contains("nested deeper than 255"), "{e:?}");
        }
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
