//! Spawning `pyxis` processes with their own directories and log files.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_pyxis");
pub const ADMIN: &str = "test-admin-token";

/// A free port on 127.0.0.1 (bound and released: good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `n` consecutive free ports (for `pyxis up`, whose remotes take the ports
/// after the server's). They are chosen below Linux's ephemeral range
/// (32768 and up), where outgoing connections of tests running alongside
/// would otherwise take them between this check and the bind.
pub fn free_port_run(n: u16) -> u16 {
    // 400 bases 30 apart from 20,000, starting at one this process picks.
    let first = (std::process::id() % 400) as u16;
    (0..400u16)
        .map(|i| 20_000 + (first + i) % 400 * 30)
        .find(|&base| (base..base + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()))
        .expect("no run of free ports below 32000")
}

/// A child process killed (SIGKILL) when dropped.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Spawns `pyxis ARGS` with extra environment; output goes to `DIR/NAME.log`
/// (appended, so a restarted process keeps its predecessor's lines).
pub fn spawn_with(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    Proc { child }
}

/// A network of real processes: one server, N remotes.
pub struct Net {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub server: Option<Proc>,
    pub remotes: Vec<Proc>,
    /// Each remote's port, kept across restarts.
    pub ports: Vec<u16>,
    /// Extra arguments of `pyxis server`.
    pub server_args: Vec<String>,
    /// Extra environment of the server and every remote.
    pub env: Vec<(String, String)>,
}

impl Net {
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The network's CA (made in its directory, as `pyxis up` does).
    pub fn ca(&self) -> pyxis_net::ca::LocalCa {
        pyxis_net::ca::LocalCa::load_or_create(&self.dir.path().join("tls"), "Pyxis test CA").unwrap()
    }

    /// `--tls-cert CERT --tls-key KEY` for a daemon named `name`.
    fn tls_args(&self, name: &str) -> Vec<String> {
        let (cert, key) = self.ca().issue_files(name, &["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        ["--tls-cert".into(), cert.display().to_string(), "--tls-key".into(), key.display().to_string()].to_vec()
    }

    pub fn start(remotes: usize) -> Net {
        Self::start_with(remotes, &[])
    }

    /// A network whose server gets `server_args` on top of the usual ones.
    pub fn start_with(remotes: usize, server_args: &[&str]) -> Net {
        Self::start_with_env(remotes, server_args, &[])
    }

    /// [`start_with`](Self::start_with), the server and remotes also given `env`.
    pub fn start_with_env(remotes: usize, server_args: &[&str], env: &[(&str, &str)]) -> Net {
        // PYXIS_TEST_KEEP=1 keeps the directory (logs of every process) for a post-mortem.
        let dir =
            tempfile::Builder::new().disable_cleanup(std::env::var_os("PYXIS_TEST_KEEP").is_some()).tempdir().unwrap();
        eprintln!("test network in {}", dir.path().display());
        let server_args = server_args.iter().map(|s| (*s).to_owned()).collect();
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut net = Net { dir, port: free_port(), server: None, remotes: vec![], ports: vec![], server_args, env };
        net.start_server();
        for _ in 0..remotes {
            net.spawn_remote();
        }
        net.wait_online(remotes);
        net
    }

    /// Starts one more remote process (admitted vetted, with a token from
    /// `pyxis admin remote-token`); returns its index.
    pub fn spawn_remote(&mut self) -> usize {
        self.spawn_remote_with(&[])
    }

    /// [`spawn_remote`](Self::spawn_remote) with extra environment.
    pub fn spawn_remote_with(&mut self, env: &[(&str, &str)]) -> usize {
        let i = self.remotes.len();
        let port = free_port();
        let p = self.remote_process(i, port, &self.url(), env);
        self.remotes.push(p);
        self.ports.push(port);
        i
    }

    /// Starts remote `i` again (after a kill) on its directory and port.
    pub fn restart_remote(&mut self, i: usize, server: &str) {
        self.remotes[i].kill();
        self.remotes[i] = self.remote_process(i, self.ports[i], server, &[]);
    }

    /// A single-use admission token for one vetted remote.
    pub fn remote_token(&self) -> String {
        let out = self.ok(&["admin", "remote-token", "--vetted", "--token", ADMIN, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    /// Starts remote `i`'s process on `port`, talking to the server at
    /// `server`; a token only if the remote has no key yet.
    pub fn remote_process(&self, i: usize, port: u16, server: &str, env: &[(&str, &str)]) -> Proc {
        let rdir = self.dir.path().join(format!("remote-{i}"));
        let listen = format!("127.0.0.1:{port}");
        let mut args: Vec<String> =
            ["remote", "--server", server, "--listen", &listen, "--dir", rdir.to_str().unwrap(), "--capacity", "4GiB"]
                .map(str::to_owned)
                .to_vec();
        if !rdir.join("remote.key").exists() {
            args.extend(["--token".to_owned(), self.remote_token()]);
        }
        args.extend(self.tls_args(&format!("remote-{i}")));
        args.extend(["--ca".to_owned(), self.ca().cert_path().display().to_string()]);
        args.extend(["--inventory-every".to_owned(), "2s".to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut all: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.extend(env);
        spawn_with(self.dir.path(), &format!("remote-{i}"), &args, &all)
    }

    pub fn start_server(&mut self) {
        self.server = Some(self.server_process("server", self.port));
    }

    /// Starts a server process named `name` (its log is NAME.log, its data
    /// directory NAME) on `port`, with the network's settings and
    /// `server_args`, and waits until it listens. Two of them on one
    /// PostgreSQL (`--database-url`) are two instances of one server.
    pub fn server_process(&self, name: &str, port: u16) -> Proc {
        let data = self.dir.path().join(name);
        let listen = format!("127.0.0.1:{port}");
        let tls = self.tls_args("server");
        let ca = self.ca().cert_path();
        let mut args: Vec<&str> = vec![
            "server",
            "--listen",
            &listen,
            "--data",
            data.to_str().unwrap(),
            "--heartbeat",
            "1s",
            "--offline-after",
            "3s",
            "--admin-token",
            ADMIN,
            "--repair-grace",
            "3s",
            "--worker-interval",
            "250ms",
            "--garbage-delay",
            "0s",
            "--deleted-grace",
            "0s",
            "--ca",
            ca.to_str().unwrap(),
        ];
        args.extend(tls.iter().map(String::as_str));
        args.extend(self.server_args.iter().map(String::as_str));
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let p = spawn_with(self.dir.path(), name, &args, &env);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "server did not start; see {}",
                self.dir.path().join(format!("{name}.log")).display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        p
    }

    /// The server's health report.
    pub fn health(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["admin", "health", "--token", ADMIN, "--json"])).unwrap()
    }

    /// Waits until the server lists `n` remotes online.
    pub fn wait_online(&self, n: usize) {
        // Generous: on 2 cores, with the suite's other networks busy, a
        // remote's start and admission have taken over 30 s.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let out = self.pyxis(&["admin", "remotes", "--token", ADMIN, "--json"]);
            if out.status.success() {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let online = v["remotes"].as_array().unwrap().iter().filter(|r| r["state"] == "online").count();
                if online == n {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "remotes did not come online");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("device")
    }

    /// Runs a client command to completion.
    pub fn pyxis(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("PYXIS_SERVER", self.url())
            .env("PYXIS_CA", self.ca().cert_path())
            .env("PYXIS_CONFIG", self.config())
            .env("PYXIS_PASSWORD", "a long test password")
            .env_remove("RUST_LOG");
        c
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.pyxis(args);
        assert!(
            out.status.success(),
            "pyxis {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Bytes stored by remote `i` so far (its store directory's file sizes).
    pub fn remote_bytes(&self, i: usize) -> u64 {
        fn walk(p: &Path) -> u64 {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| {
                            let m = e.metadata().unwrap();
                            if m.is_dir() { walk(&e.path()) } else { m.len() }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.dir.path().join(format!("remote-{i}")))
    }
}

/// Writes `len` deterministic random bytes.
pub fn random_file(path: &Path, seed: u64, len: usize) {
    std::fs::write(path, pyxis_core::testdata::pseudo_random(seed, len)).unwrap();
}
