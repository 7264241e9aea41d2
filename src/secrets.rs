//! Secrets with SOPS + age: the structural check of encrypted files, the required-secrets
//! list, skeletons for `sops encrypt`, and the `.sops.yaml` creation rules.
//!
//! Only values are encrypted (`encrypted_regex: ^(data|stringData)$`): `apiVersion`, `kind`,
//! `metadata` and the key names stay readable, which is what Flux and this check need. A value
//! is never printed, whatever the error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The `encrypted_regex` every creation rule uses.
pub const ENCRYPTED_REGEX: &str = "^(data|stringData)$";

/// Where a scope's encrypted Secrets live, relative to the repository root.
pub fn secrets_dir(scope: &str) -> PathBuf {
    PathBuf::from(crate::input::OVERLAYS_DIR)
        .join(scope)
        .join("secrets")
}

pub use crate::diagnostic::SecretError;

/// What a valid encrypted Secret file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedSecret {
    /// The file.
    pub file: PathBuf,
    /// `metadata.name`.
    pub name: String,
    /// Key names under `data` and `stringData`.
    pub keys: Vec<String>,
    /// age recipients the data key is encrypted for.
    pub recipients: Vec<String>,
}

/// True for a SOPS AES-GCM value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
pub fn is_encrypted_value(v: &str) -> bool {
    let Some(inner) = v
        .strip_prefix("ENC[AES256_GCM,data:")
        .and_then(|r| r.strip_suffix(']'))
    else {
        return false;
    };
    let Some((data, rest)) = inner.split_once(",iv:") else {
        return false;
    };
    let Some((iv, rest)) = rest.split_once(",tag:") else {
        return false;
    };
    let Some((tag, ty)) = rest.split_once(",type:") else {
        return false;
    };
    [data, iv, tag, ty].iter().all(|p| !p.is_empty())
}

/// True when `v` is a Kubernetes Secret document.
pub fn is_secret(v: &Value) -> bool {
    v["kind"] == "Secret" && v["apiVersion"] == "v1"
}

/// Checks one Secret document: a `sops` block with a `mac` and at least one age recipient, and
/// every value under `data`/`stringData` encrypted. With `recipients`, the file's age
/// recipients must be exactly those of the creation rule.
pub fn check_secret(
    file: &Path,
    doc: &Value,
    recipients: Option<&[String]>,
) -> Result<EncryptedSecret, SecretError> {
    let err = |key: Option<&str>, message: &str| SecretError {
        file: file.to_path_buf(),
        key: key.map(String::from),
        message: message.to_string(),
    };
    let mut keys = Vec::new();
    for section in ["data", "stringData"] {
        match &doc[section] {
            Value::Null => {}
            Value::Object(m) => {
                for (k, v) in m {
                    keys.push(k.clone());
                    // sops leaves an empty value unencrypted (seen with sops 3.11.0 in
                    // tests/secret_values.rs): say what is wrong rather than "plaintext".
                    if v.as_str() == Some("") {
                        return Err(err(
                            Some(k),
                            &format!(
                                "{section} value is empty (sops leaves empty values unencrypted): set the real value with `sops edit` on the file"
                            ),
                        ));
                    }
                    if !v.as_str().is_some_and(is_encrypted_value) {
                        return Err(err(
                            Some(k),
                            &format!(
                                "{section} value is not SOPS-encrypted (plaintext Secret; the value is not shown): encrypt the file with `sops encrypt --in-place`"
                            ),
                        ));
                    }
                }
            }
            _ => {
                return Err(err(
                    Some(section),
                    "must be a map of keys to encrypted values",
                ));
            }
        }
    }
    let sops = &doc["sops"];
    if !sops.is_object() {
        return Err(err(
            None,
            "not a SOPS file: no `sops` block (plaintext Secret; values are not shown)",
        ));
    }
    if !sops["mac"].as_str().is_some_and(is_encrypted_value) {
        return Err(err(
            Some("sops.mac"),
            "missing or malformed MAC: the file was edited without sops, or truncated",
        ));
    }
    let found: Vec<String> = sops["age"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["recipient"].as_str().map(String::from))
        .collect();
    if found.is_empty() {
        return Err(err(
            Some("sops.age"),
            "no age recipient: Flux could not decrypt it with the sops-age key",
        ));
    }
    if let Some(expected) = recipients {
        let mut a = found.clone();
        a.sort();
        let mut b = expected.to_vec();
        b.sort();
        if a != b {
            return Err(err(
                Some("sops.age"),
                &format!(
                    "encrypted for {} but the creation rule of this folder says {}: run `o4g secrets rotate --scope {}` (it regenerates .sops.yaml, then runs `sops updatekeys` and `sops rotate` on the scope's files)",
                    a.join(", "),
                    b.join(", "),
                    file.iter()
                        .nth(1)
                        .map_or("<scope>".into(), |s| s.to_string_lossy().into_owned())
                ),
            ));
        }
    }
    let name = doc["metadata"]["name"]
        .as_str()
        .ok_or_else(|| err(Some("metadata.name"), "missing"))?;
    Ok(EncryptedSecret {
        file: file.to_path_buf(),
        name: name.to_string(),
        keys,
        recipients: found,
    })
}

/// Parses and checks a whole file (exactly one Secret document).
pub fn check_file(
    file: &Path,
    text: &str,
    recipients: Option<&[String]>,
) -> Result<EncryptedSecret, SecretError> {
    read_file(file, text, recipients).map(|(secret, _)| secret)
}

/// [`check_file`], with the Secret document as read.
pub fn read_file(
    file: &Path,
    text: &str,
    recipients: Option<&[String]>,
) -> Result<(EncryptedSecret, Value), SecretError> {
    let mut docs = crate::yaml_read::parse_documents(file, text).map_err(|e| SecretError {
        file: file.to_path_buf(),
        key: None,
        message: e.message,
    })?;
    match docs.as_slice() {
        [doc] if is_secret(doc) => {
            let secret = check_secret(file, doc, recipients)?;
            Ok((secret, docs.remove(0)))
        }
        [_] => Err(SecretError {
            file: file.to_path_buf(),
            key: Some("kind".into()),
            message: "only Secrets (apiVersion v1, kind Secret) belong in a secrets folder".into(),
        }),
        _ => Err(SecretError {
            file: file.to_path_buf(),
            key: None,
            message: format!("holds {} documents; one Secret per file", docs.len()),
        }),
    }
}

/// A Secret the platform reads, with the keys it needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequiredSecret {
    /// An environment, or `platform` (cluster-wide Secrets).
    pub scope: String,
    /// Namespace it must be created in.
    pub namespace: String,
    /// Secret name.
    pub name: String,
    /// Keys, sorted.
    pub keys: Vec<String>,
}

impl RequiredSecret {
    /// The commands that create it, encrypted, without plaintext on disk.
    pub fn create_command(&self) -> String {
        let dir = secrets_dir(&self.scope);
        let path = dir.join(format!("{}.sops.yaml", self.name));
        let path = path.display();
        format!(
            "mkdir -p {} && cargo run -q -- secrets template --env {} {} | sops --config .sops.yaml encrypt --filename-override {path} --input-type yaml --output-type yaml --output {path} /dev/stdin",
            dir.display(),
            self.scope,
            self.name
        )
    }
}

/// How [`template`] begins the values a person must fill in (`REPLACE-WITH-<KEY>`).
pub const PLACEHOLDER_PREFIX: &str = "REPLACE-WITH-";

/// Why a decrypted value is not a real one, whatever the key: empty, or still the template's
/// placeholder (encrypted as printed, without being filled in).
pub fn unfilled(value: &str) -> Option<&'static str> {
    if value.trim().is_empty() {
        Some("is empty")
    } else if value.contains(PLACEHOLDER_PREFIX) {
        Some(
            "is still the placeholder `secrets template` printed: set the real value with `sops edit` on the file",
        )
    } else {
        None
    }
}

/// The keys [`template`] leaves as `REPLACE-WITH-…` placeholders (a person fills them in).
pub fn placeholder_keys(required: &RequiredSecret) -> Vec<&str> {
    required
        .keys
        .iter()
        .map(String::as_str)
        .filter(|k| !k.ends_with("password") && *k != "admin-user")
        .collect()
}

/// A plaintext Secret skeleton with the expected keys: passwords are random (from the OS),
/// other values say what to put there. Meant for stdout only, piped into `sops encrypt`.
pub fn template(required: &RequiredSecret) -> Result<String, std::io::Error> {
    let mut data = serde_json::Map::new();
    for key in &required.keys {
        let value = if key.ends_with("password") {
            random_hex(24)?
        } else if key == "admin-user" {
            "admin".to_string()
        } else {
            debug_assert!(placeholder_keys(required).contains(&key.as_str()));
            format!("{PLACEHOLDER_PREFIX}{}", key.to_uppercase())
        };
        data.insert(key.clone(), Value::String(value));
    }
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": required.name, "namespace": required.namespace},
        "type": "Opaque",
        "stringData": data,
    });
    Ok(crate::yaml::to_document(&secret))
}

fn random_hex(bytes: usize) -> Result<String, std::io::Error> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// `.sops.yaml`: one creation rule per scope, for its secrets folder only, with its recipients.
pub fn sops_config(recipients: &BTreeMap<String, Vec<String>>) -> Value {
    let rules: Vec<Value> = recipients
        .iter()
        .map(|(scope, keys)| {
            serde_json::json!({
                "path_regex": format!("(^|/)overlays/{scope}/secrets/[^/]+\\.sops\\.ya?ml$"),
                "encrypted_regex": ENCRYPTED_REGEX,
                "age": keys.join(","),
            })
        })
        .collect();
    serde_json::json!({"creation_rules": rules})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_values_have_all_four_parts() {
        assert!(is_encrypted_value(
            "ENC[AES256_GCM,data:mHeXsmQ=,iv:vU=,tag:Ir==,type:str]"
        ));
        for bad in [
            "hunter2",
            "ENC[AES256_GCM,data:,iv:a,tag:b,type:str]",
            "ENC[AES256_GCM,data:a,iv:b,type:str]",
            "ENC[AES128,data:a,iv:b,tag:c,type:str]",
            "ENC[AES256_GCM,data:a,iv:b,tag:c,type:str",
        ] {
            assert!(!is_encrypted_value(bad), "{bad}");
        }
    }

    #[test]
    fn a_plaintext_value_is_named_but_never_shown() {
        let doc = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "hunter2"}});
        let e =
            check_secret(Path::new("overlays/prod/secrets/s.sops.yaml"), &doc, None).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("password"));
        let shown = e.to_string();
        assert!(
            shown.contains("overlays/prod/secrets/s.sops.yaml")
                && shown.contains("password")
                && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn sops_config_has_one_rule_per_scope() {
        let r = BTreeMap::from([(
            "prod".to_string(),
            vec!["age1a".to_string(), "age1b".to_string()],
        )]);
        let v = sops_config(&r);
        assert_eq!(v["creation_rules"][0]["age"], "age1a,age1b");
        assert_eq!(v["creation_rules"][0]["encrypted_regex"], ENCRYPTED_REGEX);
    }
}

/// A rule on the plaintext of one Secret key, checked by `o4g secrets check --decrypt`.
#[derive(Debug, Clone, Copy)]
pub struct ValueRule {
    /// Secret name.
    pub secret: &'static str,
    /// Key.
    pub key: &'static str,
    /// Why a value is refused, if it is.
    pub problem: fn(&str) -> Option<&'static str>,
}

/// Decrypts a SOPS file with the real `sops` (keys from the caller's environment, e.g.
/// `SOPS_AGE_KEY_FILE`), in memory: the plaintext never touches the disk and is never printed.
pub fn decrypt(bytes: &[u8]) -> Result<Value, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sops")
        .args([
            "--disable-version-check",
            "decrypt",
            "--input-type",
            "yaml",
            "--output-type",
            "json",
            "/dev/stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run sops: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("sops has no stdin")?
        .write_all(bytes)
        .map_err(|e| format!("sops: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("sops: {e}"))?;
    if !out.status.success() {
        // sops's own message names the missing key or the MAC error, never a value.
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "sops could not decrypt it ({}); set SOPS_AGE_KEY_FILE to the scope's age key",
            err.lines().last().unwrap_or("no message").trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("sops output is not JSON: {e}"))
}

/// The plaintext values of a decrypted Secret, by key (`data` is base64-decoded).
fn plain_values(doc: &Value) -> Vec<(String, Option<String>)> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for (k, v) in doc["stringData"].as_object().into_iter().flatten() {
        out.push((k.clone(), v.as_str().map(String::from)));
    }
    for (k, v) in doc["data"].as_object().into_iter().flatten() {
        let decoded = v
            .as_str()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .and_then(|b| String::from_utf8(b).ok());
        out.push((k.clone(), decoded));
    }
    out
}

/// Checks the decrypted Secret `doc` against `rules`: one message per refused key, naming the
/// file, the Secret, the key and the reason, never the value.
pub fn check_values(file: &Path, doc: &Value, rules: &[ValueRule]) -> Vec<String> {
    let name = doc["metadata"]["name"].as_str().unwrap_or("?");
    let mut out = Vec::new();
    for (key, value) in plain_values(doc) {
        if let Some(p) = value.as_deref().and_then(unfilled) {
            out.push(format!(
                "{}: Secret {name}, key `{key}`: the value {p} (the value is not shown)",
                file.display()
            ));
            continue;
        }
        for rule in rules.iter().filter(|r| r.secret == name && r.key == key) {
            let problem = match &value {
                None => Some("is not valid base64-encoded UTF-8"),
                Some(v) => (rule.problem)(v),
            };
            if let Some(p) = problem {
                out.push(format!(
                    "{}: Secret {name}, key `{key}`: the value {p} (the value is not shown)",
                    file.display()
                ));
            }
        }
    }
    out
}

/// Rotates the age recipients of one scope: has `write_rules` write `.sops.yaml` from the
/// recipients of `overlays/cluster.toml` (the CLI passes `render::write_sops_rules`: the render
/// lock, no symlink followed; passed in so that this module does not depend on `render`), then, with the caller's key (a current recipient's private key), on every file of
/// `overlays/<scope>/secrets/` runs the real `sops updatekeys --yes` (new recipients) and
/// `sops rotate --in-place` (a new data key). `updatekeys` alone re-wraps the existing data key
/// (getsops/sops@v3.11.0 cmd/sops/subcommand/updatekeys/updatekeys.go:101-107), which a
/// removed recipient keeps; `rotate` makes a new one (cmd/sops/rotate.go:70). Both get
/// `--config .sops.yaml` so a global `SOPS_CONFIG` cannot replace the repository's rules
/// (cmd/sops/main.go:1788-1790). Returns the files updated.
pub fn rotate(
    root: &Path,
    scope: &str,
    recipients: &std::collections::BTreeMap<String, Vec<String>>,
    write_rules: impl FnOnce() -> Result<(), String>,
) -> Result<Vec<PathBuf>, String> {
    if !recipients.contains_key(scope) {
        return Err(format!(
            "`{}` is not a scope: expected one of {}",
            scope.escape_default(),
            recipients.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    write_rules()?;
    let dir = secrets_dir(scope);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(root.join(&dir)) {
        Ok(entries) => entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| dir.join(e.file_name()))
            .filter(|p| p.to_string_lossy().ends_with(".sops.yaml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    for f in &files {
        for step in [&["updatekeys", "--yes"][..], &["rotate", "--in-place"][..]] {
            let out = std::process::Command::new("sops")
                .args(["--disable-version-check", "--config", ".sops.yaml"])
                .args(step)
                .arg(f)
                .current_dir(root)
                .output()
                .map_err(|e| format!("cannot run sops: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "{}: sops {} failed ({}); sops must find the private key of a current recipient (e.g. SOPS_AGE_KEY_FILE)",
                    f.display(),
                    step[0],
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                ));
            }
        }
    }
    Ok(files)
}
