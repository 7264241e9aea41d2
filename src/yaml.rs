//! The YAML writer: block style, keys in declaration order, and quoting that is safe for
//! YAML 1.1 readers too.
//!
//! serde_yaml (and yaml-rust2) write YAML 1.2 and leave strings such as `on`, `yes`, `y`
//! (serde_yaml) or `1_000` (both) unquoted; kustomize's reader takes those for booleans and
//! numbers (`1_000` comes out of `kubectl kustomize` as the integer 1000). This writer emits a
//! string plain only when it is clearly a string under both YAML versions, and as a JSON
//! double-quoted scalar (valid YAML) otherwise. Multi-line strings use literal blocks.

use serde_json::Value;

/// Words YAML 1.1 resolves to booleans or null, compared case-insensitively.
const YAML11_WORDS: [&str; 10] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
];

/// True when `s` can be written as a plain scalar and read back as the same string by YAML
/// 1.1 and 1.2 readers.
fn plain_is_safe(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    let charset_ok = bytes
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'-' | b' '));
    if !charset_ok || s.ends_with(' ') || s.contains("  ") {
        return false;
    }
    if s.len() <= 5 && YAML11_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) {
        return false;
    }
    match first {
        b'a'..=b'z' | b'A'..=b'Z' | b'/' => true,
        b'.' => bytes.get(1) == Some(&b'/'),
        // Starting with a digit: plain only when a letter makes a number impossible
        // (`50Gi`, `1h`): never with radix letters, and not when hex digits are the only letters.
        b'0'..=b'9' => {
            s.bytes().all(|c| !b"xXoObB".contains(&c))
                && s.bytes()
                    .any(|c| c.is_ascii_alphabetic() && !c.is_ascii_hexdigit())
                && !s.contains(' ')
        }
        _ => false,
    }
}

/// Characters a YAML reader does not keep as they are inside a quoted scalar: NEL, LS and PS
/// are line breaks to YAML 1.1 readers (folded to a space), BOM and DEL and the C1 controls
/// are not printable. They are written as `\uXXXX` escapes, which YAML 1.1 and 1.2 share.
fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
    )
}

/// Appends `s` as a scalar: plain when that is safe, double-quoted otherwise.
fn push_scalar(out: &mut String, s: &str) {
    if plain_is_safe(s) {
        out.push_str(s);
        return;
    }
    // A JSON string is a valid YAML double-quoted scalar, once the characters above (which
    // JSON leaves raw) are escaped.
    let json = serde_json::to_string(s).unwrap_or_default();
    if !json.chars().any(needs_escape) {
        out.push_str(&json);
        return;
    }
    for c in json.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{:04X}", c as u32));
        } else {
            out.push(c);
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Appends a literal block for a multi-line string and returns true, or returns false (and
/// appends nothing) when the string needs quoting instead.
fn push_literal_block(out: &mut String, s: &str, indent: usize) -> bool {
    if !s.contains('\n') || s.starts_with([' ', '\t', '\n']) || s.ends_with("\n\n") {
        return false;
    }
    if s.chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || needs_escape(c))
    {
        return false;
    }
    let (body, chomp) = match s.strip_suffix('\n') {
        Some(b) => (b, "|"),
        None => (s, "|-"),
    };
    out.push_str(chomp);
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            push_indent(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    true
}

/// Writes a value after `key:` or `- `; `indent` is the indentation of nested content.
fn inline_or_nested(out: &mut String, v: &Value, indent: usize, seq_under_key: bool) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, indent, false);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            // kubectl style: a sequence under a key is not indented further.
            write_seq(out, a, if seq_under_key { indent - 2 } else { indent });
        }
        Value::String(s) => {
            out.push(' ');
            if !push_literal_block(out, s, indent) {
                push_scalar(out, s);
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            push_atom(out, other);
            out.push('\n');
        }
    }
}

fn push_atom(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            use std::fmt::Write;
            let _ = write!(out, "{n}");
        }
        Value::String(s) => push_scalar(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// Writes the entries of `m`, each key at `indent`; with `first_inline` the first key follows
/// what is already on the line (a sequence item's `- `).
fn write_map(
    out: &mut String,
    m: &serde_json::Map<String, Value>,
    indent: usize,
    first_inline: bool,
) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 || !first_inline {
            push_indent(out, indent);
        }
        push_scalar(out, k);
        out.push(':');
        inline_or_nested(out, v, indent + 2, true);
    }
}

fn write_seq(out: &mut String, a: &[Value], indent: usize) {
    for item in a {
        push_indent(out, indent);
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                // First key on the dash line, the others aligned under it.
                out.push(' ');
                write_map(out, m, indent + 2, true);
            }
            _ => inline_or_nested(out, item, indent + 2, false),
        }
    }
}

/// One YAML document (without `---`) for a value; a non-container value is written alone.
pub fn to_document(v: &Value) -> String {
    let mut out = String::new();
    push_document(&mut out, v);
    out
}

/// Appends one YAML document (without `---`) for a value to `out`.
pub fn push_document(out: &mut String, v: &Value) {
    match v {
        Value::Object(m) if !m.is_empty() => write_map(out, m, 0, false),
        Value::Array(a) if !a.is_empty() => write_seq(out, a, 0),
        other => {
            push_atom(out, other);
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: &Value) {
        let text = to_document(v);
        // Read back by the YAML 1.1 reader the API server's follows (crate::yaml_read).
        let back = crate::yaml_read::read_documents(&text)
            .unwrap_or_else(|e| panic!("{e:?}:\n{text}"))
            .remove(0);
        assert_eq!(&back, v, "\n{text}");
    }

    #[test]
    fn documents_round_trip_through_a_yaml_reader() {
        round_trip(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "labels": {"app.kubernetes.io/part-of": "open4goods"}},
            "data": {"script.sh": "#!/bin/sh\nset -eu\n\necho \"${A}\" | tr a b\n", "noeol": "a\nb",
                     "lead": " x\ny", "tabs": "a\tb", "unicode": "é ü 日本", "empty": "", "colon": "a: b"},
            "list": [{"name": "a", "value": "1"}, {"name": "b", "nested": [1, 2, {"k": [true, null]}]}, "s", [], {}],
            "empty": {}, "none": [], "n": 3, "f": 1.5, "b": false, "nul": null,
            "seq_of_seq": [["a", "b"], ["c"]],
        }));
    }

    #[test]
    fn yaml11_lookalikes_are_quoted_and_plain_strings_stay_plain() {
        for w in [
            "on", "Off", "yes", "NO", "y", "N", "0777", "1e3", "1_000", "~", "null", "true",
            "0x1F", ".5", "+1", "-1", "12:30", "0o17", "1.0", "8.0.46", ".inf", "", " lead",
            "trail ", "a: b", "#c", "@x", "*x", "&x", "!x", "%x", "[x]", "{x}", ">x", "|x", "'x",
            "\"x",
        ] {
            assert!(!plain_is_safe(w), "{w:?} must be quoted");
            round_trip(&json!({ w: w }));
        }
        for w in [
            "prod",
            "50Gi",
            "1h",
            "2m",
            "500m",
            "./out/apps",
            "/tmp",
            "app.kubernetes.io/name",
            "RuntimeDefault",
            "a b",
        ] {
            assert!(plain_is_safe(w), "{w:?} can stay plain");
        }
    }
}
