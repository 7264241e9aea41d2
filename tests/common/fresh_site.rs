//! The fixture site `tests/sites/fresh` in a scratch folder, driven the way a person drives a
//! checkout: commands run from its root, `cargo run -q --` answered by the binary under test.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A scratch copy of the fixture site, with `bin/cargo` standing for `cargo run -q --` (the
/// printed commands call the tool through cargo; here the binary under test answers).
pub struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        super::copy_dir(
            &super::root().join("tests/sites/fresh/overlays"),
            &dir.path().join("site/overlays"),
        );
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let shim = bin.join("cargo");
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\n[ \"$1 $2 $3\" = 'run -q --' ] || {{ echo \"not a printed command: cargo $*\" >&2; exit 97; }}\nshift 3\nexec '{}' \"$@\"\n",
                env!("CARGO_BIN_EXE_o4g")
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    /// A site with a fresh key for each of its scopes (written as `<scope>.agekey`).
    pub fn with_keys() -> Self {
        let site = Self::new();
        for scope in ["live", "trial", "platform"] {
            let key = site.keygen(scope);
            site.add_recipient(scope, &key);
        }
        site
    }

    /// The repository root of the site (the working directory of every command).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("site")
    }

    /// A command run from the site's root, with the shim first on PATH and no age key.
    pub fn command(&self, program: &str) -> Command {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new(program);
        c.current_dir(self.root())
            .env("PATH", path)
            .env_remove("SOPS_AGE_KEY_FILE")
            .env_remove("SOPS_AGE_KEY");
        c
    }

    /// `o4g ARGS` from the site's root (README runs it as `cargo run -- ARGS`).
    pub fn o4g(&self, args: &[&str]) -> Output {
        self.command(env!("CARGO_BIN_EXE_o4g"))
            .args(args)
            .output()
            .unwrap()
    }

    /// `age-keygen -o NAME.agekey` in the site's root; returns the public key.
    pub fn keygen(&self, name: &str) -> String {
        let file = format!("{name}.agekey");
        let out = self
            .command("age-keygen")
            .args(["-o", &file])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", super::text(&out));
        let out = self
            .command("age-keygen")
            .args(["-y", &file])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", super::text(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Adds `scope = ["KEY"]` under `[sops.age_recipients]` of `cluster.toml`.
    pub fn add_recipient(&self, scope: &str, key: &str) {
        let file = self.root().join("overlays/cluster.toml");
        let mut text = std::fs::read_to_string(&file).unwrap();
        assert!(text.trim_end().ends_with("[sops.age_recipients]") || text.contains(" = [\"age1"));
        text.push_str(&format!("{scope} = [\"{key}\"]\n"));
        std::fs::write(file, text).unwrap();
    }

    /// Runs `render`, expects it to stop for missing Secrets, and runs each command it prints
    /// with `sh -c`, as printed. Returns the commands.
    pub fn create_printed_secrets(&self) -> Vec<String> {
        let out = self.o4g(&["render"]);
        let shown = super::text(&out);
        assert_eq!(out.status.code(), Some(2), "{shown}");
        let commands = printed_commands(&shown);
        assert!(!commands.is_empty(), "no command printed:\n{shown}");
        for c in &commands {
            let run = self.command("sh").args(["-c", c]).output().unwrap();
            assert!(
                run.status.success(),
                "the printed command failed as printed:\n  {c}\n{}",
                super::text(&run)
            );
        }
        commands
    }
}

/// The commands after each "create it with:" line.
pub fn printed_commands(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].ends_with("create it with:"))
        .map(|w| w[1].trim().to_string())
        .collect()
}

/// `sops` and `age-keygen`, which the site's keys and Secrets need.
pub fn tools_present() -> Result<(), String> {
    for (tool, arg) in [("sops", "--version"), ("age-keygen", "--version")] {
        if !super::has_tool(tool, arg) {
            return Err(format!("{tool} is not installed"));
        }
    }
    Ok(())
}
