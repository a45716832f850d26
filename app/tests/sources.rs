//! Import Data and Export Data against the real services, started here on loopback and stopped by PID:
//! `PostgreSQL` (Debian's server, as an unprivileged user on a private socket and port), an HTTP file server
//! (Python's standard library, with `ETags` and PUT) and an S3-protocol server (moto, with its IAM checks on).
//! Runs go through `pipewright run` as a user runs them; the database password appears in no file of the
//! project and in no output.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

const PASSWORD: &str = "pw-7c1e9b-never-stored";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `pipewright ARGS` in `dir` with extra environment variables.
fn pipewright(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipewright"));
    command.args(args).current_dir(dir);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("pipewright runs")
}

/// Whether a component a test needs is here; under `CI=true` its absence fails the test, elsewhere the test
/// is skipped with the reason printed.
fn available(what: &str, present: bool, how: &str) -> bool {
    if present {
        return true;
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{what} is missing under CI=true: {how}");
    eprintln!("skipped: {what} is missing ({how})");
    false
}

/// A service process, stopped (SIGINT, then SIGKILL after a while) and reaped when dropped.
struct Daemon {
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("binds").local_addr().expect("address").port()
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not start within a minute");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A workflow file of the given nodes, wired in a chain from the first.
fn write_flow(dir: &Path, name: &str, nodes: &[(&str, &str, Json)], edges: &[(&str, &str)]) -> PathBuf {
    let nodes: Vec<Json> = nodes
        .iter()
        .enumerate()
        .map(|(i, (id, kind, params))| json!({"id": id, "kind": kind, "params": params, "position": [i as f64 * 220.0, 0.0]}))
        .collect();
    let edges: Vec<Json> = edges
        .iter()
        .map(|(from, to)| json!({"from": {"node": from, "port": "data"}, "to": {"node": to, "port": "data"}}))
        .collect();
    let flow =
        json!({"format": "pipewright.workflow", "version": 1, "name": name, "seed": 0, "nodes": nodes, "edges": edges});
    let path = dir.join(format!("{name}.flow.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&flow).expect("json")).expect("writes");
    path
}

// ---------------------------------------------------------------------------------------------------------
// PostgreSQL

/// The folder of the `PostgreSQL` server programs: Debian's `/usr/lib/postgresql/VERSION/bin` (newest), else
/// the folder of an `initdb` on the PATH.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).filter(|p| p.join("postgres").is_file()).collect())
        .unwrap_or_default();
    versions.sort_by_key(|p| p.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()));
    versions.pop().or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
    })
}

/// A `PostgreSQL` server in a scratch folder: an `admin` superuser over the socket (trusted), and a user
/// `analyst` with a password over TCP (SCRAM), owning the database `sales`.
struct Postgres {
    _daemon: Daemon,
    _dir: tempfile::TempDir,
    socket: PathBuf,
    port: u16,
    psql: PathBuf,
}

impl Postgres {
    fn start(bin: &Path) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (data, socket) = (dir.path().join("data"), dir.path().join("socket"));
        std::fs::create_dir_all(&socket).expect("socket folder");
        // The server refuses to run as root: as root, it runs as the `postgres` user Debian's package makes.
        let as_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let wrap = |program: PathBuf| -> Command {
            if as_root {
                let mut c = Command::new("setpriv");
                c.args(["--reuid=postgres", "--regid=postgres", "--clear-groups"]).arg(program);
                c
            } else {
                Command::new(program)
            }
        };
        if as_root {
            for path in [dir.path(), socket.as_path()] {
                let owner = Command::new("chown").args(["postgres:postgres"]).arg(path).status().expect("chown");
                assert!(owner.success(), "chown postgres {}", path.display());
            }
        }
        let init = wrap(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "admin",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .output()
            .expect("initdb runs");
        assert!(init.status.success(), "initdb: {}", text(&init));
        let port = free_port();
        let child = wrap(bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .arg("-k")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        let server = Self { _daemon: Daemon { child }, socket, port, psql: bin.join("psql"), _dir: dir };
        wait_for("PostgreSQL", || server.sql("postgres", "admin", "SELECT 1").is_ok());
        server
            .sql("postgres", "admin", &format!("CREATE ROLE analyst LOGIN PASSWORD '{PASSWORD}'"))
            .and_then(|_| server.sql("postgres", "admin", "CREATE DATABASE sales OWNER analyst"))
            .expect("database made");
        server
    }

    /// Runs SQL over the socket; the first column of each row.
    fn sql(&self, database: &str, user: &str, sql: &str) -> Result<Vec<String>, String> {
        let out = Command::new(&self.psql)
            .arg("-h")
            .arg(&self.socket)
            .args(["-p", &self.port.to_string(), "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(text(&out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect())
    }

    fn url(&self, password: &str) -> String {
        format!("postgresql://analyst:{password}@127.0.0.1:{}/sales", self.port)
    }
}

/// Every file under `dir` (the project: workflows, outputs, the store and its cache) as bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("lists").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn postgres_tables_in_and_out_with_the_password_kept_out_of_every_file() {
    let Some(bin) = postgres_bin().filter(|b| b.join("initdb").is_file()) else {
        available("PostgreSQL", false, "apt-get install postgresql; .ci/run does");
        return;
    };
    let server = Postgres::start(&bin);
    server
        .sql(
            "sales",
            "analyst",
            "CREATE TABLE flights (id integer, carrier varchar(3), delay numeric(6,2), distance double precision, \
             on_time boolean, day date, departed timestamp, note text, seats smallint, ref uuid);
             INSERT INTO flights VALUES
               (1, 'AA', 12.50, 1200.5, false, '2026-01-02', '2026-01-02 08:15:00', 'first', 180, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
               (2, 'BA', -3.25, 800, true, '2026-01-03', '2026-01-03 17:40:30.5', NULL, 150, NULL),
               (3, 'AA', NULL, 2400.25, true, '2026-02-28', '2026-02-28 23:59:59', 'tab\there', NULL, NULL);",
        )
        .expect("table made");
    let project = tempfile::tempdir().expect("tempdir");
    let dir = project.path();
    std::fs::create_dir_all(dir.join(".pipewright")).expect("project");
    let url = server.url(PASSWORD);
    let env = [("PW_TEST_WAREHOUSE", url.as_str())];
    let flow = write_flow(
        dir,
        "warehouse",
        &[
            (
                "read",
                "data.import_data",
                json!({"format": "postgres", "connection": "PW_TEST_WAREHOUSE", "query": "SELECT * FROM flights ORDER BY id"}),
            ),
            ("to_csv", "data.export_data", json!({"path": "out/flights.csv"})),
            (
                "to_table",
                "data.export_data",
                json!({"format": "postgres", "connection": "PW_TEST_WAREHOUSE", "table": "copied"}),
            ),
        ],
        &[("read", "to_csv"), ("read", "to_table")],
    );
    let flow_arg = flow.to_string_lossy().into_owned();
    let mut outputs = Vec::new();
    let run = pipewright(&["run", &flow_arg], dir, &env);
    assert!(run.status.success(), "{}", text(&run));
    outputs.push(text(&run));
    let csv = std::fs::read_to_string(dir.join("out/flights.csv")).expect("csv written");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,carrier,delay,distance,on_time,day,departed,note,seats,ref");
    assert_eq!(
        lines[1],
        "1,AA,12.5,1200.5,false,2026-01-02,2026-01-02T08:15:00.000000,first,180,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    );
    assert_eq!(lines[2], "2,BA,-3.25,800.0,true,2026-01-03,2026-01-03T17:40:30.500000,,150,");
    assert_eq!(lines.len(), 4, "{csv}");
    // Written back as a table: the same rows, typed.
    let copied = server
        .sql(
            "sales",
            "analyst",
            "SELECT count(*) || ' ' || sum(delay) || ' ' || pg_typeof(min(id)) || ' ' || max(note) FROM copied",
        )
        .expect("copied table");
    assert_eq!(copied, ["3 9.25 bigint tab\there"]);

    // A live source is read again on every run: a new row shows without any change to the workflow.
    server.sql("sales", "analyst", "INSERT INTO flights (id, carrier) VALUES (4, 'CX')").expect("insert");
    let run = pipewright(&["run", &flow_arg], dir, &env);
    assert!(run.status.success(), "{}", text(&run));
    outputs.push(text(&run));
    assert_eq!(std::fs::read_to_string(dir.join("out/flights.csv")).expect("csv").lines().count(), 5);

    saved_connection_reads_the_same(dir, &url, &mut outputs);
    bad_input_is_named_without_the_password(dir, server, &flow_arg, &mut outputs);

    for output in &outputs {
        assert!(!output.contains(PASSWORD), "an output shows the password: {output}");
    }
    let files = files_under(dir);
    assert!(files.iter().any(|(p, _)| p.ends_with("project.db")), "the runs were recorded");
    for (path, bytes) in &files {
        assert!(!contains(bytes, PASSWORD), "{} holds the password", path.display());
    }
}

/// A saved connection (in the user's settings, outside the project) reads as the environment variable does.
fn saved_connection_reads_the_same(dir: &Path, url: &str, outputs: &mut Vec<String>) {
    let settings = tempfile::tempdir().expect("tempdir");
    let config = [("PIPEWRIGHT_CONFIG_DIR", settings.path().to_str().expect("utf-8"))];
    let mut add = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["connection", "add", "warehouse"])
        .env("PIPEWRIGHT_CONFIG_DIR", settings.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("connection add");
    add.stdin.take().expect("stdin").write_all(url.as_bytes()).expect("writes");
    let added = add.wait_with_output().expect("ends");
    assert!(added.status.success(), "{}", text(&added));
    let listed = pipewright(&["connection", "list"], dir, &config);
    assert!(text(&listed).contains("warehouse\tpostgresql://analyst:•••@127.0.0.1"), "{}", text(&listed));
    outputs.push(text(&listed));
    let by_name = write_flow(
        dir,
        "saved",
        &[
            ("read", "data.import_data", json!({"format": "postgres", "connection": "warehouse", "table": "copied"})),
            ("to_csv", "data.export_data", json!({"path": "out/copied.csv"})),
        ],
        &[("read", "to_csv")],
    );
    let run = pipewright(&["run", &by_name.to_string_lossy()], dir, &config);
    assert!(run.status.success(), "{}", text(&run));
    outputs.push(text(&run));
    assert_eq!(
        std::fs::read_to_string(dir.join("out/copied.csv")).expect("csv").lines().count(),
        5,
        "the four rows the second run copied"
    );
}

/// A bad query gives the server's message on the block; a wrong password the server's refusal without the
/// password tried; a missing connection says how to give one; a server that is down is named as such.
fn bad_input_is_named_without_the_password(dir: &Path, server: Postgres, flow_arg: &str, outputs: &mut Vec<String>) {
    let url = server.url(PASSWORD);
    let env = [("PW_TEST_WAREHOUSE", url.as_str())];
    let bad_query = write_flow(
        dir,
        "bad_query",
        &[(
            "read",
            "data.import_data",
            json!({"format": "postgres", "connection": "PW_TEST_WAREHOUSE", "query": "SELEC id FROM flights"}),
        )],
        &[],
    );
    let run = pipewright(&["run", &bad_query.to_string_lossy()], dir, &env);
    let said = text(&run);
    assert!(!run.status.success());
    assert!(said.contains("read (Import Data)") && said.contains("syntax error"), "{said}");
    outputs.push(said);
    let wrong = server.url("not-the-password-51d0");
    let run = pipewright(&["run", flow_arg], dir, &[("PW_TEST_WAREHOUSE", wrong.as_str())]);
    let said = text(&run);
    assert!(!run.status.success());
    assert!(said.contains("password authentication failed for user \"analyst\""), "{said}");
    assert!(!said.contains("not-the-password-51d0"), "the password tried is not shown: {said}");
    let missing = pipewright(&["run", flow_arg], dir, &[]);
    assert!(text(&missing).contains("no connection \"PW_TEST_WAREHOUSE\""), "{}", text(&missing));
    // A server that is down is named as such.
    drop(server);
    let run = pipewright(&["run", flow_arg], dir, &env);
    let said = text(&run);
    assert!(!run.status.success());
    assert!(said.contains("cannot connect to PostgreSQL with the connection \"PW_TEST_WAREHOUSE\""), "{said}");
    outputs.push(said);
}

// ---------------------------------------------------------------------------------------------------------
// http(s) and S3

fn python() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("python3")).find(|p| p.is_file())
}

/// The Python environment `.ci/run` prepares (`PIPEWRIGHT_PY_VENV`), for moto.
fn venv_tool(name: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("PIPEWRIGHT_PY_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pipewright/py-venv")))?;
    let tool = venv.join("bin").join(name);
    tool.is_file().then_some(tool)
}

/// The HTTP file server of `tests/reference/http_files.py` over `root`, with its request log.
struct FileServer {
    _daemon: Daemon,
    url: String,
    log: PathBuf,
}

impl FileServer {
    fn start(python: &Path, root: &Path, scratch: &Path) -> Self {
        let (port_file, log) = (scratch.join("http.port"), scratch.join("http.log"));
        let child = Command::new(python)
            .arg(repo_root().join("tests/reference/http_files.py"))
            .args([root, &port_file, &log])
            .spawn()
            .expect("the file server starts");
        let daemon = Daemon { child };
        wait_for("the HTTP file server", || port_file.is_file());
        let port = std::fs::read_to_string(&port_file).expect("port");
        Self { _daemon: daemon, url: format!("http://127.0.0.1:{}", port.trim()), log }
    }

    /// The requests so far, as "METHOD PATH STATUS".
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_owned).collect()
    }
}

#[test]
fn http_files_download_once_and_upload_with_put() {
    let Some(python) = python() else {
        available("python3", false, "apt-get install python3");
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let served = scratch.path().join("served");
    std::fs::create_dir_all(served.join("data")).expect("folder");
    std::fs::copy(repo_root().join("assets/datasets/titanic.csv"), served.join("data/passengers.csv")).expect("csv");
    let server = FileServer::start(&python, &served, scratch.path());
    let project = scratch.path().join("project");
    std::fs::create_dir_all(project.join(".pipewright")).expect("project");
    let source = format!("{}/data/passengers.csv", server.url);
    let flow = write_flow(
        &project,
        "web",
        &[
            ("read", "data.import_data", json!({"path": source})),
            ("upload", "data.export_data", json!({"path": format!("{}/uploads/copy.parquet", server.url)})),
        ],
        &[("read", "upload")],
    );
    let flow_arg = flow.to_string_lossy().into_owned();
    let run = pipewright(&["run", &flow_arg], &project, &[]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("1309 rows"), "{}", text(&run));
    let gets = |server: &FileServer, status: &str| {
        server.requests().iter().filter(|r| r.starts_with("GET /data/passengers.csv") && r.ends_with(status)).count()
    };
    assert_eq!(gets(&server, "200"), 1, "{:?}", server.requests());
    // Uploaded with PUT: the server holds the table as Parquet, which reads back whole.
    let uploaded = served.join("uploads/copy.parquet");
    let frame = pipewright_nodes::data::read_file(&uploaded).expect("the upload is a Parquet file");
    assert_eq!(frame.height(), 1309);

    // Unchanged on the server: a second run asks (HEAD) and reuses its cached result; a run without the
    // cache asks again with the ETag and reads the copy the server says is current (304).
    let run = pipewright(&["run", &flow_arg], &project, &[]);
    assert!(run.status.success(), "{}", text(&run));
    let run = pipewright(&["run", &flow_arg, "--no-cache"], &project, &[]);
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(gets(&server, "200"), 1, "downloaded once: {:?}", server.requests());
    assert_eq!(gets(&server, "304"), 1, "{:?}", server.requests());
    // Changed on the server: downloaded again, and the new rows read.
    let mut csv = std::fs::read_to_string(served.join("data/passengers.csv")).expect("csv");
    let last = csv.lines().last().expect("a row").to_owned();
    csv.push_str(&last);
    csv.push('\n');
    std::fs::write(served.join("data/passengers.csv"), csv).expect("writes");
    let run = pipewright(&["run", &flow_arg], &project, &[]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("1310 rows"), "{}", text(&run));
    assert_eq!(gets(&server, "200"), 2, "{:?}", server.requests());

    // A missing file names the URL and the status; a server that is not there says so.
    let missing = write_flow(
        &project,
        "missing",
        &[("read", "data.import_data", json!({"path": format!("{}/data/nothing.csv", server.url)}))],
        &[],
    );
    let run = pipewright(&["run", &missing.to_string_lossy()], &project, &[]);
    let said = text(&run);
    assert!(said.contains(&format!("{}/data/nothing.csv answered 404 Not Found", server.url)), "{said}");
    let gone = write_flow(
        &project,
        "gone",
        &[("read", "data.import_data", json!({"path": format!("http://127.0.0.1:{}/x.csv", free_port())}))],
        &[],
    );
    let said = text(&pipewright(&["run", &gone.to_string_lossy()], &project, &[]));
    assert!(said.contains("cannot connect to http://127.0.0.1:"), "{said}");
}

#[test]
fn s3_objects_in_and_out_with_signed_requests() {
    let (Some(moto), Some(venv_python)) = (venv_tool("moto_server"), venv_tool("python")) else {
        available("moto", false, "pip install \"moto[server]\" into $PIPEWRIGHT_PY_VENV; .ci/run does");
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    // moto checks signatures and IAM policies once the fixture's five setup actions are done.
    let child = Command::new(&moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto starts");
    let _moto = Daemon { child };
    let endpoint = format!("http://127.0.0.1:{port}");
    wait_for("moto", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let fixture = Command::new(&venv_python)
        .arg(repo_root().join("tests/reference/s3_fixture.py"))
        .args([endpoint.as_str(), "lake", "raw/passengers.csv"])
        .arg(repo_root().join("assets/datasets/titanic.csv"))
        .output()
        .expect("the fixture runs");
    assert!(fixture.status.success(), "{}", text(&fixture));
    let keys: Json = serde_json::from_slice(&fixture.stdout).expect("keys");
    let key = |who: &str, i: usize| keys[who][i].as_str().expect("key").to_owned();
    let (reader_id, reader_secret) = (key("reader", 0), key("reader", 1));
    let env = |id: &str, secret: &str| -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", id.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", secret.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_PROFILE", "none".to_owned()),
        ]
    };
    let run_with = |flow: &Path, env: &[(&'static str, String)]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
        pipewright(&["run", &flow.to_string_lossy()], flow.parent().expect("folder"), &env)
    };
    let project = scratch.path().join("project");
    std::fs::create_dir_all(project.join(".pipewright")).expect("project");
    let out = write_flow(
        &project,
        "out",
        &[
            ("read", "data.import_data", json!({"path": "s3://lake/raw/passengers.csv"})),
            ("write", "data.export_data", json!({"path": "s3://lake/curated/passengers.parquet"})),
        ],
        &[("read", "write")],
    );
    let reader = env(&reader_id, &reader_secret);
    let run = run_with(&out, &reader);
    assert!(run.status.success(), "{}", text(&run));
    // Read back what was written, through S3 again.
    let back = write_flow(
        &project,
        "back",
        &[
            ("read", "data.import_data", json!({"path": "s3://lake/curated/passengers.parquet"})),
            ("write", "data.export_data", json!({"path": "local/passengers.csv"})),
        ],
        &[("read", "write")],
    );
    let run = run_with(&back, &reader);
    assert!(run.status.success(), "{}", text(&run));
    let frame = pipewright_nodes::data::read_file(&project.join("local/passengers.csv")).expect("csv");
    let original = pipewright_nodes::data::read_file(&repo_root().join("assets/datasets/titanic.csv")).expect("csv");
    assert!(frame.equals_missing(&original), "the table went to S3 and back unchanged");
    // Overwrite off: an object that exists is not replaced.
    let keep = write_flow(
        &project,
        "keep",
        &[
            ("read", "data.import_data", json!({"path": "local/passengers.csv"})),
            ("write", "data.export_data", json!({"path": "s3://lake/curated/passengers.parquet", "overwrite": false})),
        ],
        &[("read", "write")],
    );
    let said = text(&run_with(&keep, &reader));
    assert!(said.contains("s3://lake/curated/passengers.parquet exists"), "{said}");

    // Bad input: a key or bucket that does not exist, a user without access, a wrong secret.
    let reading = |path: &str| write_flow(&project, "bad", &[("read", "data.import_data", json!({"path": path}))], &[]);
    let said = text(&run_with(&reading("s3://lake/raw/missing.csv"), &reader));
    assert!(
        said.contains("s3://lake/raw/missing.csv does not exist: no key \"raw/missing.csv\" in the bucket \"lake\""),
        "{said}"
    );
    let said = text(&run_with(&reading("s3://pond/raw/passengers.csv"), &reader));
    assert!(said.contains("the bucket \"pond\" does not exist"), "{said}");
    let outsider = env(&key("outsider", 0), &key("outsider", 1));
    let said = text(&run_with(&reading("s3://lake/raw/passengers.csv"), &outsider));
    assert!(said.contains("access to s3://lake/raw/passengers.csv was denied (AccessDenied"), "{said}");
    let said = text(&run_with(&reading("s3://lake/raw/passengers.csv"), &env(&reader_id, "not-the-secret")));
    assert!(said.contains("was denied (SignatureDoesNotMatch"), "{said}");
    assert!(!said.contains("not-the-secret"), "{said}");
}
