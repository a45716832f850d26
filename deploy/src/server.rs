//! The scoring endpoint: axum on its own tokio runtime and thread, so the CLI, the designer and tests start
//! and stop it the same way. Scoring runs on tokio's blocking pool; a bad request gets a 4xx with a message
//! that names the record and the field, and never takes the server down.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};
use tokio::sync::oneshot;

use pipewright_nodes::deploy::{Package, Problem, ScoreError, fields};

use crate::metrics::Metrics;

/// The default request body limit: 8 MiB, tens of thousands of records.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// How to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self { host: "127.0.0.1".into(), port: 8080, token: None, max_body_bytes: DEFAULT_MAX_BODY_BYTES, threads: 0 }
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
}

/// What every request sees.
struct AppState {
    package: Arc<Package>,
    token: Option<String>,
    max_body_bytes: usize,
    metrics: Metrics,
    started: Instant,
    openapi: Json,
}

/// A running endpoint. Dropping it stops it the way [`Server::stop`] does.
pub struct Server {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Server {
    /// Starts serving `package`: the address is bound before this returns, so a port in use is reported here.
    pub fn start(package: Package, options: &ServeOptions) -> Result<Self, ServeError> {
        let address = format!("{}:{}", options.host, options.port);
        let listen_error = |message: String| ServeError::Listen { address: address.clone(), message };
        let target = (options.host.as_str(), options.port)
            .to_socket_addrs()
            .map_err(|e| listen_error(format!("not an address ({e})")))?
            .next()
            .ok_or_else(|| listen_error("the host name has no address".into()))?;
        let listener = TcpListener::bind(target).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse { ": choose another port" } else { "" };
            listen_error(format!("{e}{hint}"))
        })?;
        listener.set_nonblocking(true).map_err(|e| listen_error(e.to_string()))?;
        let addr = listener.local_addr().map_err(|e| listen_error(e.to_string()))?;
        let secured = options.token.is_some();
        let state = Arc::new(AppState {
            openapi: crate::openapi::document(&package.manifest, secured),
            package: Arc::new(package),
            token: options.token.clone(),
            max_body_bytes: options.max_body_bytes,
            metrics: Metrics::default(),
            started: Instant::now(),
        });
        let mut runtime = tokio::runtime::Builder::new_multi_thread();
        runtime.enable_io().enable_time().thread_name("pipewright-serve");
        if options.threads > 0 {
            runtime.worker_threads(options.threads);
        }
        let runtime = runtime.build().map_err(|e| ServeError::Runtime(e.to_string()))?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = router(state.clone());
        let thread = std::thread::Builder::new()
            .name("pipewright-serve".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stopped.await;
                        })
                        .await
                        .map_err(|e| e.to_string())
                })
            })
            .map_err(|e| ServeError::Runtime(e.to_string()))?;
        Ok(Self { addr, state, shutdown: Some(shutdown), thread: Some(thread) })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, such as `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The package being served.
    pub fn package(&self) -> &Package {
        &self.state.package
    }

    /// Requests answered with a 4xx or 5xx status so far.
    pub fn errors(&self) -> u64 {
        self.state.metrics.errors()
    }

    /// Stops taking connections, lets requests in flight finish, and waits for the server to end.
    pub fn stop(mut self) -> Result<(), String> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<(), String> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err("the server thread stopped abnormally".into()),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/score", post(score))
        .route("/health", get(health))
        .route("/schema", get(schema))
        .route("/openapi.json", get(openapi))
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

/// Checks the token (every route but `/health`) and counts the request with its latency.
async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = match request.uri().path() {
        "/score" => "/score",
        "/health" => "/health",
        "/schema" => "/schema",
        "/openapi.json" => "/openapi.json",
        "/metrics" => "/metrics",
        _ => "other",
    };
    let authorized = route == "/health"
        || state.token.as_deref().is_none_or(|token| {
            let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            given
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|given| same_secret(given.trim().as_bytes(), token.as_bytes()))
        });
    let response = if authorized {
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
    state.metrics.request(route, response.status().as_u16(), started.elapsed());
    response
}

async fn not_found(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no route {} {}: use POST /score, GET /health, /schema, /openapi.json or /metrics",
            request.method(),
            request.uri().path()
        ),
        &[],
    )
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    let manifest = &state.package.manifest;
    axum::Json(json!({
        "status": "ok",
        "model": manifest.name,
        "task": manifest.task,
        "pipewright_version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs(),
    }))
    .into_response()
}

async fn schema(State(state): State<Arc<AppState>>) -> Response {
    let m = &state.package.manifest;
    axum::Json(json!({
        "name": m.name,
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

async fn openapi(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(state.openapi.clone()).into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = state.metrics.render(&state.package.manifest.name);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// What a scoring request sent.
enum Input {
    Records(Vec<Json>),
    Csv(axum::body::Bytes),
}

async fn score(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
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
        return too_large();
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let csv = match media.as_str() {
        "text/csv" => true,
        // curl's `-d` sends this type unless told otherwise; the body is still JSON.
        "application/json" | "application/x-www-form-urlencoded" | "" => false,
        m if m.ends_with("+json") => false,
        other => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("cannot score a body of type \"{other}\": send application/json or text/csv"),
                &[],
            );
        }
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(e) if over_limit(&e) => return too_large(),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the request body could not be read ({e}): send it whole, with a Content-Length that matches it or well-formed chunked encoding"
                ),
                &[],
            );
        }
    };
    if csv && !csv_has_rows(&bytes) {
        return error(StatusCode::BAD_REQUEST, NO_RECORDS, &[]);
    }
    let input = if csv {
        Input::Csv(bytes)
    } else {
        match records_of(&bytes) {
            Ok(records) => Input::Records(records),
            Err(message) => return error(StatusCode::BAD_REQUEST, message, &[]),
        }
    };
    let package = state.package.clone();
    let scored = tokio::task::spawn_blocking(move || match &input {
        Input::Records(records) => package.score_records(records),
        Input::Csv(text) => package.score_csv(text),
    })
    .await;
    match scored {
        Ok(Ok(predictions)) => {
            state.metrics.scored(predictions.len());
            axum::Json(json!({ "model": state.package.manifest.name, "predictions": predictions })).into_response()
        }
        Ok(Err(ScoreError::Invalid(problems))) => {
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
    }
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
