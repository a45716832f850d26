//! The scoring endpoint: axum on its own tokio runtime and thread, so the CLI, the designer and tests start
//! and stop it the same way. It serves one package file, or models from a project's registry by name
//! (`/models/NAME/score`), following their stages, splits and shadows while it runs (see [`crate::routes`]).
//! Scoring runs on tokio's blocking pool; a bad request gets a 4xx with a message that names the record and
//! the field, and never takes the server down. Each request gets an id (the caller's `X-Request-Id`, or a new
//! one), may be captured (see [`crate::capture`]) and logged as one JSON line; TLS comes from PEM files.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};
use tokio::sync::oneshot;

use pipewright_nodes::deploy::{Package, Problem, ScoreError, fields};

use crate::access_log::AccessLog;
use crate::capture::{Answerer, Capture, CaptureOptions, Captured, Input, Outcome};
use crate::metrics::Metrics;
use crate::routes::{RegistryOptions, Route, Routes, Served, Watcher};

/// The default request body limit: 8 MiB, tens of thousands of records.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Where the server's own messages go (registry changes, capture failures).
pub(crate) type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// A certificate chain and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (PEM), the server's first.
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// How to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeOptions {
    /// The address to listen on; loopback unless told otherwise.
    pub host: String,
    /// The port; 0 picks a free one.
    pub port: u16,
    /// When set, every route but `/health` needs `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    /// Threads answering requests; 0 means one per core.
    pub threads: usize,
    /// Capture each request's inputs and answers into a capture store.
    pub capture: Option<CaptureOptions>,
    /// Write one JSON line per request here (`-`: standard output).
    pub access_log: Option<PathBuf>,
    /// Serve https with this certificate.
    pub tls: Option<TlsFiles>,
    /// Keep the server's own messages (registry changes, capture failures) off standard error.
    pub quiet: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            threads: 0,
            capture: None,
            access_log: None,
            tls: None,
            quiet: false,
        }
    }
}

/// Why the endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be used.
    #[error("cannot listen on {address}: {message}")]
    Listen {
        /// `host:port`.
        address: String,
        /// Why.
        message: String,
    },
    /// The runtime cannot start.
    #[error("cannot start the server: {0}")]
    Runtime(String),
    /// What to serve, or how, cannot be used: a model not in the registry, a certificate that cannot be read,
    /// a capture folder or access log that cannot be created.
    #[error("{0}")]
    Setup(String),
}

/// What every request sees.
struct AppState {
    routes: RwLock<Arc<Routes>>,
    token: Option<String>,
    max_body_bytes: usize,
    metrics: Metrics,
    started: Instant,
    secured: bool,
    capture: Option<Capture>,
    access_log: Option<AccessLog>,
    /// This process's prefix of request ids, and the count after it.
    id_prefix: String,
    ids: AtomicU64,
}

impl AppState {
    fn routes(&self) -> Arc<Routes> {
        self.routes.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The names served, for messages.
    fn names(&self) -> String {
        self.routes().keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// A running endpoint. Dropping it stops it the way [`Server::stop`] does.
pub struct Server {
    addr: SocketAddr,
    https: bool,
    state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
    watcher: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

fn logger(quiet: bool) -> Log {
    if quiet {
        Arc::new(|_: &str| {})
    } else {
        Arc::new(|message: &str| eprintln!("{} {message}", crate::metrics::utc_now()))
    }
}

impl Server {
    /// Starts serving `package`: the address is bound before this returns, so a port in use is reported here.
    pub fn start(package: Package, options: &ServeOptions) -> Result<Self, ServeError> {
        let name = package.manifest.name.clone();
        let route = Route::fixed(Answerer { name: name.clone(), version: None, package: Arc::new(package) });
        Self::launch(Routes::from([(name, Arc::new(route))]), options, None)
    }

    /// Starts serving models from a project's registry, each at `/models/NAME/score`, following the registry's
    /// stages, splits and shadows (read every `registry.poll`) while it runs.
    pub fn serve_registry(registry: &RegistryOptions, options: &ServeOptions) -> Result<Self, ServeError> {
        let log = logger(options.quiet);
        let (watcher, routes) = Watcher::open(registry, log).map_err(ServeError::Setup)?;
        Self::launch(routes, options, Some((watcher, registry.poll)))
    }

    fn launch(
        routes: Routes,
        options: &ServeOptions,
        watcher: Option<(Watcher, std::time::Duration)>,
    ) -> Result<Self, ServeError> {
        let log = logger(options.quiet);
        let tls = options.tls.as_ref().map(crate::tls::acceptor).transpose().map_err(ServeError::Setup)?;
        let capture =
            options.capture.as_ref().map(|c| Capture::start(c, log.clone())).transpose().map_err(ServeError::Setup)?;
        let access_log = options.access_log.as_deref().map(AccessLog::open).transpose().map_err(ServeError::Setup)?;
        let listener = bind(&options.host, options.port)?;
        let addr = listener.local_addr().map_err(|e| ServeError::Runtime(e.to_string()))?;
        let started = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let state = Arc::new(AppState {
            routes: RwLock::new(Arc::new(routes)),
            token: options.token.clone(),
            max_body_bytes: options.max_body_bytes,
            metrics: Metrics::default(),
            started: Instant::now(),
            secured: options.token.is_some(),
            capture,
            access_log,
            id_prefix: format!("{:x}{:04x}", started.as_secs(), started.subsec_micros() & 0xffff),
            ids: AtomicU64::new(0),
        });
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        runtime.enable_io().enable_time().thread_name("pipewright-serve");
        if options.threads > 0 {
            runtime.worker_threads(options.threads);
        }
        let runtime = runtime.build().map_err(|e| ServeError::Runtime(e.to_string()))?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = router(state.clone());
        let https = tls.is_some();
        let thread = std::thread::Builder::new()
            .name("pipewright-serve".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
                    let stopped = async move {
                        let _ = stopped.await;
                    };
                    match tls {
                        Some(acceptor) => axum::serve(crate::tls::TlsListener::new(listener, acceptor), app)
                            .with_graceful_shutdown(stopped)
                            .await
                            .map_err(|e| e.to_string()),
                        None => {
                            axum::serve(listener, app).with_graceful_shutdown(stopped).await.map_err(|e| e.to_string())
                        }
                    }
                })
            })
            .map_err(|e| ServeError::Runtime(e.to_string()))?;
        let watcher = watcher.map(|(mut watcher, poll)| {
            let (stop, stopping) = mpsc::channel::<()>();
            let state = state.clone();
            let thread = std::thread::spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopping.recv_timeout(poll) {
                    watcher.poll(&state.routes);
                }
            });
            (stop, thread)
        });
        Ok(Self { addr, https, state, shutdown: Some(shutdown), thread: Some(thread), watcher })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, such as `http://127.0.0.1:8080` (`https://` with TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", if self.https { "https" } else { "http" }, self.addr)
    }

    /// The package answering for the first model served.
    pub fn package(&self) -> Arc<Package> {
        let routes = self.state.routes();
        let first = routes.values().next().map(|r| r.primary.answerer.package.clone());
        first.unwrap_or_else(|| unreachable!("a server serves at least one model"))
    }

    /// What is served now: each model's name with the version that answers (none for a package file).
    pub fn served(&self) -> Vec<(String, Option<i64>)> {
        self.state.routes().iter().map(|(name, r)| (name.clone(), r.primary.answerer.version)).collect()
    }

    /// What is served now, as `GET /models` lists it.
    pub fn describe(&self) -> Json {
        Json::Array(self.state.routes().iter().map(|(name, r)| r.describe(name)).collect())
    }

    /// Requests answered with a 4xx or 5xx status so far.
    pub fn errors(&self) -> u64 {
        self.state.metrics.errors()
    }

    /// Stops taking connections, lets requests in flight finish, writes what the capture and the access log
    /// hold, and waits for the server to end.
    pub fn stop(mut self) -> Result<(), String> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<(), String> {
        if let Some((stop, thread)) = self.watcher.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let ended = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err("the server thread stopped abnormally".into()),
            None => Ok(()),
        };
        if let Some(capture) = &self.state.capture {
            capture.finish();
        }
        if let Some(log) = &self.state.access_log {
            log.finish();
        }
        ended
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

/// The path that scores with model `name`: `/models/NAME/score`, the name percent-encoded (a registered name
/// may hold spaces or parentheses).
pub fn score_path(name: &str) -> String {
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            let _ = std::fmt::Write::write_fmt(&mut encoded, format_args!("%{byte:02X}"));
        }
    }
    format!("/models/{encoded}/score")
}

/// Binds the listening socket, naming the address and what to do when it cannot be used.
fn bind(host: &str, port: u16) -> Result<TcpListener, ServeError> {
    let address = format!("{host}:{port}");
    let listen_error = |message: String| ServeError::Listen { address: address.clone(), message };
    let target = (host, port)
        .to_socket_addrs()
        .map_err(|e| listen_error(format!("not an address ({e})")))?
        .next()
        .ok_or_else(|| listen_error("the host name has no address".into()))?;
    let listener = TcpListener::bind(target).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse { ": choose another port" } else { "" };
        listen_error(format!("{e}{hint}"))
    })?;
    listener.set_nonblocking(true).map_err(|e| listen_error(e.to_string()))?;
    Ok(listener)
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/score", post(score_sole))
        .route("/models/{name}/score", post(score_named))
        .route("/models/{name}/versions/{version}/score", post(score_version))
        .route("/health", get(health))
        .route("/models", get(models))
        .route("/schema", get(schema_sole))
        .route("/models/{name}/schema", get(schema_named))
        .route("/openapi.json", get(openapi_sole))
        .route("/models/{name}/openapi.json", get(openapi_named))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// A JSON error answer.
fn error(status: StatusCode, message: impl Into<String>, problems: &[Problem]) -> Response {
    let mut body = json!({ "error": message.into() });
    if !problems.is_empty() {
        body["problems"] = json!(problems);
    }
    (status, axum::Json(body)).into_response()
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The route a path counts under in `/metrics`.
fn route_label(path: &str) -> &'static str {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["score"] => "/score",
        ["health"] => "/health",
        ["schema"] => "/schema",
        ["openapi.json"] => "/openapi.json",
        ["metrics"] => "/metrics",
        ["models"] => "/models",
        ["models", _, "score"] => "/models/{name}/score",
        ["models", _, "versions", _, "score"] => "/models/{name}/versions/{version}/score",
        ["models", _, "schema"] => "/models/{name}/schema",
        ["models", _, "openapi.json"] => "/models/{name}/openapi.json",
        _ => "other",
    }
}

/// A request's id: the caller's `X-Request-Id` when it is a plain token of at most 128 characters, else a new
/// one unique to this server.
#[derive(Clone)]
struct RequestId(String);

/// Who answered a scoring request, for the access log.
#[derive(Clone)]
struct AnsweredBy {
    name: String,
    version: Option<i64>,
    records: usize,
}

/// Checks the token (every route but `/health`), gives the request its id, counts it with its latency and
/// writes its access log line.
async fn guard(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(request.uri().path());
    let given_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned);
    let id = given_id.unwrap_or_else(|| format!("{}-{:x}", state.id_prefix, state.ids.fetch_add(1, Ordering::Relaxed)));
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    request.extensions_mut().insert(RequestId(id.clone()));
    let authorized = route == "/health"
        || state.token.as_deref().is_none_or(|token| {
            let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            given
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|given| same_secret(given.trim().as_bytes(), token.as_bytes()))
        });
    let mut response = if authorized {
        next.run(request).await
    } else {
        let given = request.headers().contains_key(header::AUTHORIZATION);
        let message = if given {
            "the bearer token is wrong"
        } else {
            "this endpoint needs a token: send the header `Authorization: Bearer <token>`"
        };
        let mut response = error(StatusCode::UNAUTHORIZED, message, &[]);
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let latency = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.request(route, status, latency);
    if let Some(log) = &state.access_log {
        let by = response.extensions().get::<AnsweredBy>();
        log.write(&json!({
            "time": crate::metrics::utc_now(),
            "request_id": id,
            "method": method,
            "path": path,
            "status": status,
            "latency_ms": latency.as_secs_f64() * 1000.0,
            "model": by.map(|b| b.name.as_str()),
            "version": by.and_then(|b| b.version),
            "records": by.map(|b| b.records),
        }));
    }
    response
}

async fn not_found(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no route {} {}: use POST /score or /models/NAME/score, GET /health, /models, /schema, /openapi.json or /metrics",
            request.method(),
            request.uri().path()
        ),
        &[],
    )
}

/// The only model's route, or why there is none (a 404 lists the models to name).
fn sole(state: &AppState) -> Result<Arc<Route>, String> {
    let routes = state.routes();
    match routes.values().next() {
        Some(route) if routes.len() == 1 => Ok(route.clone()),
        _ => Err(format!(
            "this endpoint serves several models: name one, as /models/NAME/…, for NAME in {}",
            state.names()
        )),
    }
}

/// A model's route by name, or why there is none (a 404 names the models served).
fn named(state: &AppState, name: &str) -> Result<Arc<Route>, String> {
    state
        .routes()
        .get(name)
        .cloned()
        .ok_or_else(|| format!("no model \"{name}\" is served here; served: {}", state.names()))
}

fn missing(message: String) -> Response {
    error(StatusCode::NOT_FOUND, message, &[])
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let routes = state.routes();
    let first = routes.values().next().map(|r| &r.primary.answerer.package.manifest);
    let mut body = json!({
        "status": "ok",
        "pipewright_version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "models": routes.keys().collect::<Vec<_>>(),
    });
    if let (1, Some(manifest)) = (routes.len(), first) {
        body["model"] = json!(manifest.name);
        body["task"] = json!(manifest.task);
    }
    axum::Json(body).into_response()
}

async fn models(State(state): State<Arc<AppState>>) -> Response {
    let routes = state.routes();
    axum::Json(json!({ "models": routes.iter().map(|(name, r)| r.describe(name)).collect::<Vec<_>>() })).into_response()
}

fn schema_of(served: &Served) -> Response {
    let m = &served.answerer.package.manifest;
    axum::Json(json!({
        "name": m.name,
        "version": served.answerer.version,
        "stage": served.stage.map(pipewright_store::Stage::as_str),
        "task": m.task,
        "algorithm": m.algorithm,
        "label": m.label,
        "classes": m.classes,
        "inputs": m.inputs,
        "input_schema": m.input_schema,
        "outputs": m.outputs,
        "metrics": m.metrics,
        "example": m.example,
        "created": m.created,
        "pipewright_version": m.pipewright_version,
        "source": m.source,
    }))
    .into_response()
}

async fn schema_sole(State(state): State<Arc<AppState>>) -> Response {
    sole(&state).map_or_else(missing, |r| schema_of(&r.primary))
}

async fn schema_named(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    named(&state, &name).map_or_else(missing, |r| schema_of(&r.primary))
}

fn openapi_of(state: &AppState, route: &Route, path: &str) -> Response {
    let manifest = &route.primary.answerer.package.manifest;
    axum::Json(crate::openapi::document(manifest, state.secured, path)).into_response()
}

async fn openapi_sole(State(state): State<Arc<AppState>>) -> Response {
    sole(&state).map_or_else(missing, |r| openapi_of(&state, &r, "/score"))
}

async fn openapi_named(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    named(&state, &name).map_or_else(missing, |r| openapi_of(&state, &r, &format!("/models/{name}/score")))
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = state.metrics.render(&state.names(), state.capture.as_ref().map(|c| c.counters.as_ref()));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn score_sole(
    State(state): State<Arc<AppState>>,
    id: axum::Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match sole(&state) {
        Ok(route) => score(state, route, None, id.0.0, headers, body).await,
        Err(e) => missing(e),
    }
}

async fn score_named(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    id: axum::Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match named(&state, &name) {
        Ok(route) => score(state, route, None, id.0.0, headers, body).await,
        Err(e) => missing(e),
    }
}

async fn score_version(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
    id: axum::Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let route = match named(&state, &name) {
        Ok(route) => route,
        Err(e) => return missing(e),
    };
    let served = version.parse::<i64>().ok().and_then(|v| route.version(v).cloned());
    let Some(served) = served else {
        let loaded: Vec<String> = route
            .loaded()
            .iter()
            .map(|s| {
                let stage = s.stage.map_or(String::new(), |st| format!(" ({})", st.as_str()));
                format!("{}{stage}", s.answerer.version.map_or("-".into(), |v| v.to_string()))
            })
            .collect();
        return error(
            StatusCode::NOT_FOUND,
            format!("version {version} of \"{name}\" is not served here; served versions: {}", loaded.join(", ")),
            &[],
        );
    };
    score(state, route, Some(served), id.0.0, headers, body).await
}

/// Reads a scoring request's body: JSON records or CSV, within the size limit.
async fn read_input(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Input, Response> {
    let limit = state.max_body_bytes;
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than this endpoint's limit of {limit} bytes: send fewer records per request"
            ),
            &[],
        )
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let csv = match media.as_str() {
        "text/csv" => true,
        // curl's `-d` sends this type unless told otherwise; the body is still JSON.
        "application/json" | "application/x-www-form-urlencoded" | "" => false,
        m if m.ends_with("+json") => false,
        other => {
            return Err(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("cannot score a body of type \"{other}\": send application/json or text/csv"),
                &[],
            ));
        }
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) if over_limit(&e) => return Err(too_large()),
        Err(e) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the request body could not be read ({e}): send it whole, with a Content-Length that matches it or well-formed chunked encoding"
                ),
                &[],
            ));
        }
    };
    if csv && !csv_has_rows(&bytes) {
        return Err(error(StatusCode::BAD_REQUEST, NO_RECORDS, &[]));
    }
    if csv {
        Ok(Input::Csv(bytes))
    } else {
        records_of(&bytes).map(Input::Records).map_err(|message| error(StatusCode::BAD_REQUEST, message, &[]))
    }
}

fn score_with(package: &Package, input: &Input) -> Result<Vec<Json>, ScoreError> {
    match input {
        Input::Records(records) => package.score_records(records),
        Input::Csv(text) => package.score_csv(text),
    }
}

fn now_seconds() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Scores a request with the version that answers it (the one named, or the route's pick), captures it,
/// and has the route's shadow score it too.
async fn score(
    state: Arc<AppState>,
    route: Arc<Route>,
    named: Option<Arc<Served>>,
    id: String,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let input = match read_input(&state, &headers, body).await {
        Ok(input) => Arc::new(input),
        Err(response) => return response,
    };
    let served = named.unwrap_or_else(|| route.pick().clone());
    let answerer = served.answerer.clone();
    let scoring = (answerer.clone(), input.clone());
    let scored = tokio::task::spawn_blocking(move || score_with(&scoring.0.package, &scoring.1)).await;
    let time = now_seconds();
    let capture = state.capture.as_ref().filter(|c| c.sampled());
    let captured = |outcome: Outcome, by: Arc<Answerer>, shadow: bool, latency_ms: f64| Captured {
        request_id: id.clone(),
        time,
        by,
        shadow,
        latency_ms,
        input: input.clone(),
        outcome,
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut response = match scored {
        Ok(Ok(predictions)) => {
            state.metrics.scored(predictions.len());
            state.metrics.answered(&answerer.name, answerer.version, false);
            if let Some(capture) = capture {
                capture.offer(captured(Outcome::Scored(predictions.clone()), answerer.clone(), false, latency_ms));
            }
            let records = predictions.len();
            let mut body = json!({ "model": answerer.name, "request_id": id, "predictions": predictions });
            if let Some(version) = answerer.version {
                body["version"] = json!(version);
            }
            let mut response = axum::Json(body).into_response();
            response.extensions_mut().insert(AnsweredBy {
                name: answerer.name.clone(),
                version: answerer.version,
                records,
            });
            response
        }
        Ok(Err(ScoreError::Invalid(problems))) => {
            if let Some(capture) = capture {
                capture.offer(captured(Outcome::Refused(problems.clone()), answerer.clone(), false, latency_ms));
            }
            // A CSV that cannot be parsed is a malformed body, not a record that does not fit.
            let status = if problems.iter().all(|p| p.record.is_none() && p.field.is_empty()) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            error(status, fields::describe(&problems), &problems)
        }
        Ok(Err(ScoreError::Failed(e))) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, format!("the model could not score these records: {e}"), &[])
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("scoring stopped abnormally: {e}"), &[]),
    };
    if let Some(shadow) = route.shadow.clone().filter(|s| !Arc::ptr_eq(&s.answerer, &answerer)) {
        let state = state.clone();
        let shadow_capture = capture.is_some();
        let (id, input) = (id.clone(), input.clone());
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let by = shadow.answerer.clone();
            let result = score_with(&by.package, &input);
            let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
            state.metrics.answered(&by.name, by.version, true);
            let outcome = match result {
                Ok(predictions) => Outcome::Scored(predictions),
                Err(ScoreError::Invalid(problems)) => Outcome::Refused(problems),
                Err(ScoreError::Failed(_)) => {
                    state.metrics.shadow_failed();
                    return;
                }
            };
            if let (true, Some(capture)) = (shadow_capture, &state.capture) {
                capture.offer(Captured { request_id: id, time, by, shadow: true, latency_ms, input, outcome });
            }
        });
    }
    if response.status().is_success() {
        response.headers_mut().insert(
            "x-model-version",
            HeaderValue::from_str(&answerer.version.map_or("-".into(), |v| v.to_string()))
                .unwrap_or(HeaderValue::from_static("-")),
        );
    }
    response
}

/// The answer to a body without records, JSON or CSV alike.
const NO_RECORDS: &str = "there are no records to score";

/// Whether reading a body stopped at the size limit (rather than at a body cut short or malformed).
fn over_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Whether a CSV body has a line after its header that is not blank.
fn csv_has_rows(bytes: &[u8]) -> bool {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut lines = text.split(|&b| b == b'\n').filter(|line| !line.trim_ascii().is_empty());
    lines.next().is_some() && lines.next().is_some()
}

/// The records of a JSON body: one object, a list of objects, or `{"records": [...]}`.
fn records_of(bytes: &[u8]) -> Result<Vec<Json>, String> {
    let body: Json = serde_json::from_slice(bytes).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let records = match body {
        Json::Array(records) => records,
        Json::Object(mut object) => match object.remove("records") {
            Some(Json::Array(records)) => records,
            Some(_) => return Err("\"records\" must be a list of records".into()),
            None => vec![Json::Object(object)],
        },
        _ => return Err("send one record (an object of field values), a list of them, or {\"records\": [...]}".into()),
    };
    if records.is_empty() {
        return Err(NO_RECORDS.into());
    }
    Ok(records)
}
