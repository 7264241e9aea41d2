//! A throwaway MariaDB server (Debian `mariadb-server`) on 127.0.0.1:3306 inside a network
//! namespace of its own, so no other process of the machine can reach it and no port of the
//! machine is taken. Sandboxed commands join it with `Sandbox::net_of`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `value` as an SQL string literal (MariaDB's escapes: `\\` and `\'`).
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A running server; killed on drop.
pub struct MariaDb {
    child: Child,
    /// Its unix socket (reachable from the host's namespace, as root).
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
}

/// Why a server cannot be started here.
pub fn available() -> Result<(), String> {
    for tool in [
        "mariadbd",
        "mariadb-install-db",
        "mysql",
        "mysqladmin",
        "unshare",
        "nsenter",
    ] {
        let found = Command::new("sh")
            .args([
                "-c",
                &format!("command -v {tool} || test -x /usr/sbin/{tool}"),
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Err(format!(
                "{tool} is not installed (Debian mariadb-server, util-linux)"
            ));
        }
    }
    super::sandbox::available()
}

impl MariaDb {
    /// Initialises a datadir and starts the server; `root_password` is set for `root@'%'`
    /// (as the MySQL image's `MYSQL_ROOT_HOST=%` does) with `skip-name-resolve` as in our
    /// server configuration.
    pub fn start(root_password: &str) -> Self {
        Self::start_in(root_password, None, 3306)
    }

    /// A server on 127.0.0.1:`port` in the network namespace of process `net_of` (another
    /// test server's), or in a namespace of its own.
    pub fn start_in(root_password: &str, net_of: Option<u32>, port: u16) -> Self {
        Self::start_with(root_password, net_of, port, "--max-allowed-packet=1G")
    }

    /// [`MariaDb::start_in`] with the server options `options` (e.g. prod's
    /// `max_allowed_packet` and a binary log, whose files go to the datadir).
    pub fn start_with(root_password: &str, net_of: Option<u32>, port: u16, options: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let run = dir.path().join("run");
        let socket = run.join("mysqld.sock");
        std::fs::create_dir(&data).unwrap();
        std::fs::create_dir(&run).unwrap();
        let sh = |cmd: &str| {
            let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
            assert!(out.status.success(), "{cmd}: {}", super::text(&out));
        };
        // Bootstraps share names of temporary tables: one at a time, each with its own tmpdir.
        static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
        sh(&format!(
            "chown -R mysql:mysql {d} {r} && chmod 755 {t} && mariadb-install-db --user=mysql --datadir={d} --tmpdir={r} --auth-root-authentication-method=socket --skip-test-db >/dev/null",
            d = data.display(),
            r = run.display(),
            t = dir.path().display()
        ));
        let server = format!(
            "exec mariadbd --no-defaults --user=mysql --datadir={} --socket={} --port={port} --bind-address=127.0.0.1 --skip-name-resolve --tmpdir={r} --pid-file={r}/mysqld.pid {options}",
            data.display(),
            socket.display(),
            r = run.display()
        );
        let mut cmd = match net_of {
            Some(pid) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/proc/{pid}/ns/net"))
                    .args(["sh", "-c", &server]);
                c
            }
            None => {
                let mut c = Command::new("unshare");
                c.args(["--net", "sh", "-c"])
                    .arg(format!("ip link set lo up && {server}"));
                c
            }
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        let server = Self {
            child,
            socket,
            _dir: dir,
        };
        let start = Instant::now();
        while !server.sql_ok("SELECT 1") {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "mariadbd did not start within 60 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        server.sql(&format!(
            "CREATE USER 'root'@'%' IDENTIFIED BY {}; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;",
            literal(root_password)
        ));
        server
    }

    /// The pid whose network namespace holds the server.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn sql_ok(&self, sql: &str) -> bool {
        Command::new("mysql")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["--user=root", "--batch", "--skip-column-names", "-e", sql])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Runs SQL as root over the socket and returns stdout; panics on failure.
    pub fn sql(&self, sql: &str) -> String {
        let out = Command::new("mysql")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["--user=root", "--batch", "--skip-column-names", "-e", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "{sql}: {}", super::text(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// True when `user`@127.0.0.1 can log in over TCP with `password` (from the server's
    /// network namespace).
    pub fn tcp_login(&self, user: &str, password: &str) -> bool {
        Command::new("nsenter")
            .arg(format!("--net=/proc/{}/ns/net", self.pid()))
            .args([
                "mysql",
                "--host=127.0.0.1",
                "--protocol=tcp",
                "--port=3306",
                &format!("--user={user}"),
                "--batch",
                "-e",
                "SELECT 1",
            ])
            .env("MYSQL_PWD", password)
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A network namespace with nothing listening (for "server down" cases); killed on drop.
pub struct EmptyNet(Child);

impl EmptyNet {
    /// Creates it.
    pub fn new() -> Self {
        Self(
            Command::new("unshare")
                .args(["--net", "sh", "-c", "ip link set lo up && exec sleep 300"])
                .spawn()
                .unwrap(),
        )
    }
    /// Its pid.
    pub fn pid(&self) -> u32 {
        std::thread::sleep(Duration::from_millis(100));
        self.0.id()
    }
}

impl Drop for EmptyNet {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
