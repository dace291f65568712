//! Test support: a real, throw-away PostgreSQL for tests, and a fresh database per test.
//!
//! [`fresh_database`] returns the connection string of a new, empty database. The server it lives
//! on is `CCLIVE_TEST_DATABASE_URL` when set (scripts/test.sh starts one cluster for the whole
//! run), else a cluster this process starts once on first use from Debian's binaries
//! (`/usr/lib/postgresql/<version>/bin`): `initdb` + `pg_ctl` as the `postgres` user when running
//! as root (PostgreSQL refuses to run as root), a unix socket in a temp dir, no TCP, `fsync=off`.
//! That cluster is stopped and deleted when the test process exits, however it exits: a watcher
//! process blocks reading a pipe this process holds open, and stops the cluster at end of file.
//!
//! Without PostgreSQL the tests fail with a message saying how to install it (scripts/test-setup.sh
//! does); they never skip silently.
//!
//! This crate is for tests only; it panics instead of returning errors.

#![allow(clippy::missing_panics_doc, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming an already running server to create test databases on.
pub const ENV_URL: &str = "CCLIVE_TEST_DATABASE_URL";

/// A cluster this process started, kept alive until the process exits.
struct Cluster {
    /// The admin connection string (`dbname=postgres`).
    admin: String,
    /// Held open for the process's life; the watcher stops the cluster when it closes.
    _watcher: Option<(Child, ChildStdin)>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The admin connection string of the server tests use (starting a cluster on first use).
pub fn server_url() -> String {
    CLUSTER
        .get_or_init(|| match std::env::var(ENV_URL) {
            Ok(url) if !url.trim().is_empty() => Cluster {
                admin: url,
                _watcher: None,
            },
            _ => start_cluster(),
        })
        .admin
        .clone()
}

/// A new, empty database for one test; returns its connection string. `name` (e.g. the test's
/// name) makes it easy to find in the server's log.
pub async fn fresh_database(name: &str) -> String {
    let admin = server_url();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    let db = format!("t_{slug}_{}_{n}", std::process::id());
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL ({admin}): {e}"));
    let conn = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {db}: {e}"));
    drop(client);
    let _ = conn.await;
    with_dbname(&admin, &db)
}

/// Runs `sql` (a query whose first column is text) on `url` and returns that column (blocking;
/// for tests that look into a database directly).
pub fn query_text(url: &str, sql: &str) -> Vec<String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
            let conn = tokio::spawn(conn);
            let rows = client
                .query(sql, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            drop(client);
            let _ = conn.await;
            rows.iter()
                .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
                .collect()
        })
}

/// `url` with its database replaced by `db` (key-value or `postgres://` form).
pub fn with_dbname(url: &str, db: &str) -> String {
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .map(|r| ("postgres://", r))
        .or_else(|| {
            url.strip_prefix("postgresql://")
                .map(|r| ("postgresql://", r))
        })
    {
        let (scheme, rest) = rest;
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let authority = before_query.split('/').next().unwrap_or(before_query);
        let mut out = format!("{scheme}{authority}/{db}");
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        out
    } else {
        // Key-value form: a later `dbname` overrides an earlier one.
        format!("{url} dbname={db}")
    }
}

/// Debian's PostgreSQL binaries, newest version first.
fn pg_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    let Some((_, bin)) = versions.pop() else {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run \
             scripts/test-setup.sh (it installs Debian's `postgresql`), or set {ENV_URL} to a \
             server the tests may create databases on"
        )
    };
    bin
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command run as the cluster's owner: `postgres` via runuser when we are root.
fn as_owner(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_cluster() -> Cluster {
    let bin = pg_bin();
    let root = is_root();
    let dir = new_cluster_dir(root);
    let data = init_cluster(&bin, root, &dir);
    // A unix socket only (no TCP port to collide on); the port only names the socket file.
    let port = 5432;
    start_server(&bin, root, &dir, &data, port, "");
    // The watcher: blocks on our pipe; when this process exits (even killed), the pipe closes
    // and it stops the cluster and removes its files.
    let script = format!(
        "cat >/dev/null; {} >/dev/null 2>&1; rm -rf {}",
        stop_command(&bin, root, &data),
        dir.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the cluster watcher");
    let stdin = child.stdin.take().expect("the watcher's stdin");
    Cluster {
        admin: admin_url(&dir, port),
        _watcher: Some((child, stdin)),
    }
}

/// A new temp dir for a cluster, owned by `postgres` when we are root.
fn new_cluster_dir(root: bool) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "cclive-pg-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("create the cluster's temp dir");
    if root {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:").arg(&dir);
                c
            },
            "chown postgres: <cluster dir>",
        );
    }
    dir
}

/// `initdb` into `dir/data`; returns the data dir.
fn init_cluster(bin: &Path, root: bool, dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let mut initdb = as_owner(root, &bin.join("initdb"));
    initdb.arg("-D").arg(&data).args([
        "-U",
        "cclive",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
    ]);
    run(initdb, "initdb");
    data
}

/// `pg_ctl start`, waiting until it accepts connections; `extra` are more server options.
fn start_server(bin: &Path, root: bool, dir: &Path, data: &Path, port: u16, extra: &str) {
    let mut start = as_owner(root, &bin.join("pg_ctl"));
    start
        .arg("-D")
        .arg(data)
        .arg("-l")
        .arg(dir.join("pg.log"))
        .args(["-w", "-o"])
        .arg(format!(
            "-k {} -p {port} -c listen_addresses='' -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200 {extra}",
            dir.display()
        ))
        .arg("start");
    // pg_ctl's server keeps inherited pipes open: give it none, so waiting ends with pg_ctl.
    start.stdout(Stdio::null()).stderr(Stdio::null());
    let status = start.status().expect("run pg_ctl start");
    assert!(
        status.success(),
        "pg_ctl start failed; see {}",
        dir.join("pg.log").display()
    );
}

/// The shell command that stops a cluster at once (`-m immediate`: no shutdown checkpoint, as
/// after a crash).
fn stop_command(bin: &Path, root: bool, data: &Path) -> String {
    let pg_ctl = bin.join("pg_ctl");
    let stop = format!(
        "{} -D {} -m immediate -w stop",
        pg_ctl.display(),
        data.display()
    );
    if root {
        format!("runuser -u postgres -- {stop}")
    } else {
        stop
    }
}

fn admin_url(dir: &Path, port: u16) -> String {
    format!(
        "host={} port={port} user=cclive dbname=postgres",
        dir.display()
    )
}

/// A cluster of one test's own, which the test may stop and start again (e.g. `pg_ctl stop -m
/// immediate` in the middle of a push). Stopped and removed when dropped.
pub struct PrivateCluster {
    bin: PathBuf,
    root: bool,
    dir: PathBuf,
    data: PathBuf,
    port: u16,
    /// Listens on 127.0.0.1:`port` too.
    tcp: bool,
    /// The server options beyond the common ones (kept for a restart).
    options: String,
    running: bool,
}

impl PrivateCluster {
    /// Creates and starts a new cluster (a unix socket in its own temp dir).
    pub fn start() -> PrivateCluster {
        Self::start_with(|_| String::new(), 5432, false)
    }

    /// Creates and starts a cluster that also listens on TCP, on 127.0.0.1 at a free port
    /// ([`tcp_port`](Self::tcp_port)), with TLS on: `cert` and `key` (PEM files) are the
    /// server's certificate and key. (PostgreSQL speaks TLS on TCP only, never on a unix
    /// socket.)
    pub fn start_tls(cert: &Path, key: &Path) -> PrivateCluster {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self::start_with(
            |dir| {
                let (c, k) = (dir.join("server.crt"), dir.join("server.key"));
                std::fs::copy(cert, &c).expect("copy the certificate");
                std::fs::copy(key, &k).expect("copy the key");
                // The server refuses a key others may read.
                run(
                    {
                        let mut c = Command::new("chmod");
                        c.arg("600").arg(&k);
                        c
                    },
                    "chmod 600 <key>",
                );
                if is_root() {
                    run(
                        {
                            let mut chown = Command::new("chown");
                            chown.arg("postgres:").arg(&c).arg(&k);
                            chown
                        },
                        "chown postgres: <certificate and key>",
                    );
                }
                format!(
                    "-c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={} \
                     -c ssl_key_file={}",
                    c.display(),
                    k.display()
                )
            },
            port,
            true,
        )
    }

    fn start_with(options: impl FnOnce(&Path) -> String, port: u16, tcp: bool) -> PrivateCluster {
        let bin = pg_bin();
        let root = is_root();
        let dir = new_cluster_dir(root);
        let data = init_cluster(&bin, root, &dir);
        let options = options(&dir);
        start_server(&bin, root, &dir, &data, port, &options);
        PrivateCluster {
            bin,
            root,
            dir,
            data,
            port,
            tcp,
            options,
            running: true,
        }
    }

    /// The TCP port on 127.0.0.1 of a cluster made by [`start_tls`](Self::start_tls).
    pub fn tcp_port(&self) -> Option<u16> {
        self.tcp.then_some(self.port)
    }

    /// The admin connection string (`dbname=postgres`).
    pub fn admin_url(&self) -> String {
        admin_url(&self.dir, self.port)
    }

    /// A new, empty database on this cluster; returns its connection string.
    pub fn database_url(&self, name: &str) -> String {
        let admin = self.admin_url();
        let db = format!(
            "t_{}",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async {
                let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                    .await
                    .expect("connect to the private cluster");
                let conn = tokio::spawn(conn);
                client
                    .batch_execute(&format!("CREATE DATABASE {db}"))
                    .await
                    .expect("create the database");
                drop(client);
                let _ = conn.await;
            });
        with_dbname(&admin, &db)
    }

    /// `pg_ctl stop -m immediate`: the server dies as in a crash.
    pub fn stop_immediate(&mut self) {
        run(
            {
                let mut c = Command::new("sh");
                c.args(["-c", &stop_command(&self.bin, self.root, &self.data)]);
                c
            },
            "pg_ctl stop -m immediate",
        );
        self.running = false;
    }

    /// Starts it again after [`stop_immediate`](Self::stop_immediate) (crash recovery runs).
    pub fn restart(&mut self) {
        start_server(
            &self.bin,
            self.root,
            &self.dir,
            &self.data,
            self.port,
            &self.options,
        );
        self.running = true;
    }

    /// `pg_ctl restart -m fast`, as an operator does: the server closes every connection, and is
    /// back (with the same options) when this returns.
    pub fn pg_ctl_restart(&mut self) {
        let mut restart = as_owner(self.root, &self.bin.join("pg_ctl"));
        restart
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.dir.join("pg.log"))
            .args(["-m", "fast", "-w", "restart"]);
        restart.stdout(Stdio::null()).stderr(Stdio::null());
        let status = restart.status().expect("run pg_ctl restart");
        assert!(
            status.success(),
            "pg_ctl restart failed; see {}",
            self.dir.join("pg.log").display()
        );
        self.running = true;
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        if self.running {
            let _ = Command::new("sh")
                .args(["-c", &stop_command(&self.bin, self.root, &self.data)])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn the_database_is_replaced_in_both_forms() {
        assert_eq!(
            with_dbname("host=/tmp/x port=5432 dbname=postgres", "t1"),
            "host=/tmp/x port=5432 dbname=postgres dbname=t1"
        );
        assert_eq!(
            with_dbname("postgres://u:p@h:5/postgres?sslmode=disable", "t1"),
            "postgres://u:p@h:5/t1?sslmode=disable"
        );
        assert_eq!(with_dbname("postgresql://h", "t1"), "postgresql://h/t1");
    }
}
