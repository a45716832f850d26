//! Files at `http://`, `https://` and `s3://bucket/key` addresses. A block reads a local copy kept in the
//! project's download cache (`.pipewright/downloads/`), fetched again only when the server says it changed
//! (its `ETag` or `Last-Modified`); a block writes a local file and then uploads it (HTTP `PUT`, or an S3 `PUT`
//! signed with Signature Version 4).

pub mod s3;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::UtcTime;

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a server may stay silent while answering.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a version check made while planning a run may take.
const QUICK_TIMEOUT: Duration = Duration::from_secs(3);

/// Downloads started by this process, which name their partial files.
static DOWNLOADS_STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The folder of the download cache inside the project store.
const DOWNLOADS: &str = "downloads";

/// Whether `path` names a remote file (`http://`, `https://` or `s3://`) rather than one on this machine.
pub fn is_remote(path: &str) -> bool {
    let lower = path.trim_start().get(..8).unwrap_or(path).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("s3://")
}

/// What identifies one version of a remote file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// The entity tag.
    pub etag: Option<String>,
    /// The time of the last change, as the server wrote it.
    pub last_modified: Option<String>,
}

impl Validators {
    /// Whether the server gave anything that tells versions apart.
    pub fn identify(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }

    fn of(response: &ureq::http::Response<ureq::Body>) -> Self {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self { etag: header("etag"), last_modified: header("last-modified") }
    }
}

/// What the download cache keeps beside a copy.
#[derive(Debug, Serialize, Deserialize)]
struct Source {
    url: String,
    #[serde(flatten)]
    validators: Validators,
    bytes: u64,
    fetched: String,
}

/// A remote file's version as its server tells it now (a `HEAD` request with short timeouts: a run is
/// being planned), without downloading it.
pub fn validators(url: &str) -> Result<Validators, String> {
    let response = send_with(quick_agent(), "HEAD", url, &[], None)?;
    check(url, &response, &[])?;
    Ok(Validators::of(&response))
}

/// Whether the remote file exists (`HEAD` answered 200, not 404).
pub fn exists(url: &str) -> Result<bool, String> {
    let response = send("HEAD", url, &[], None)?;
    if response.status().as_u16() == 404 {
        return Ok(false);
    }
    check(url, &response, &[]).map(|()| true)
}

/// The local copy of a remote file in the download cache, if one was fetched before; no network.
pub fn cached(url: &str, base_dir: &Path) -> Option<PathBuf> {
    let (_, file) = entry(url, base_dir);
    file.is_file().then_some(file)
}

/// An up-to-date local copy of the remote file: the cached one when the server answers that it has not
/// changed since (a conditional `GET`), else a fresh download into the cache. `progress` hears the bytes
/// received and the whole size when the server says it; an error from it stops the download.
pub fn fetch(
    url: &str,
    base_dir: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let (folder, file) = entry(url, base_dir);
    let meta_path = folder.join("source.json");
    let known: Option<Source> =
        std::fs::read(&meta_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).filter(|_| file.is_file());
    let mut conditions = Vec::new();
    if let Some(known) = &known {
        if let Some(etag) = &known.validators.etag {
            conditions.push(("if-none-match", etag.clone()));
        }
        if let Some(time) = &known.validators.last_modified {
            conditions.push(("if-modified-since", time.clone()));
        }
    }
    let headers: Vec<(&str, &str)> = conditions.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let response = send("GET", url, &headers, None)?;
    if response.status().as_u16() == 304 && known.is_some() {
        return Ok(file);
    }
    let validators = Validators::of(&response);
    let total = response.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse().ok());
    let mut body = check_body(url, response)?;
    let io =
        |what: &str, e: &dyn std::fmt::Display| format!("cannot {what} the download cache ({}): {e}", folder.display());
    std::fs::create_dir_all(&folder).map_err(|e| io("create", &e))?;
    // One name per download: two blocks of a run may fetch the same file at once.
    let n = DOWNLOADS_STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial = folder.join(format!(".partial.{}.{n}", std::process::id()));
    let received = (|| {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(|e| io("write into", &e))?);
        let mut buffer = vec![0; 1 << 20];
        let mut received = 0_u64;
        loop {
            let n = body.read(&mut buffer).map_err(|e| format!("the download of {url} was cut short: {e}"))?;
            if n == 0 {
                break;
            }
            out.write_all(&buffer[..n]).map_err(|e| io("write into", &e))?;
            received += n as u64;
            progress(received, total)?;
        }
        out.flush().map_err(|e| io("write into", &e))?;
        if let Some(expected) = total.filter(|&t| t != received) {
            return Err(format!("the download of {url} was cut short: {received} of {expected} bytes"));
        }
        std::fs::rename(&partial, &file).map_err(|e| io("write into", &e))?;
        Ok(received)
    })();
    let bytes = match received {
        Ok(bytes) => bytes,
        Err(e) => {
            // Best effort: a partial download is of no use.
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let source = Source { url: url.to_owned(), validators, bytes, fetched: UtcTime::now().rfc3339() };
    let meta = serde_json::to_vec_pretty(&source).map_err(|e| io("describe", &e))?;
    crate::write_atomic(&meta_path, &meta).map_err(|e| io("write into", &e))?;
    Ok(file)
}

/// Uploads `bytes` as the remote file: HTTP `PUT`, or an S3 `PUT` object.
pub fn upload(url: &str, bytes: &[u8], content_type: &str) -> Result<(), String> {
    let response = send("PUT", url, &[("content-type", content_type)], Some(bytes))?;
    check(url, &response, &[])
}

/// The download cache's folder for `url` and the copy's path in it (named as the remote file, so its
/// extension still tells its format).
fn entry(url: &str, base_dir: &Path) -> (PathBuf, PathBuf) {
    let project = crate::project_dir_from(base_dir).unwrap_or_else(|| base_dir.to_path_buf());
    let hash = blake3::hash(url.as_bytes()).to_hex();
    let folder = project.join(".pipewright").join(DOWNLOADS).join(&hash.as_str()[..16]);
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name: String = path
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && !n.contains("://"))
        .unwrap_or("download")
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    let name = if name.starts_with('.') || name == "source.json" { format!("file{name}") } else { name };
    (folder.clone(), folder.join(name))
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| make_agent(CONNECT_TIMEOUT, READ_TIMEOUT))
}

/// The agent of the version checks made while a run is planned (the designer waits on them).
fn quick_agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| make_agent(QUICK_TIMEOUT, QUICK_TIMEOUT))
}

fn make_agent(connect: Duration, read: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        // Every status is an answer to read: a 404 or an S3 error document says what went wrong.
        .http_status_as_error(false)
        .timeout_connect(Some(connect))
        .timeout_per_read(Some(read))
        .timeout_per_write(Some(read))
        .build()
        .into()
}

/// Sends a request to `url`; an `s3://` address goes to its bucket's endpoint, signed when credentials are set.
fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<ureq::http::Response<ureq::Body>, String> {
    send_with(agent(), method, url, headers, body)
}

fn send_with(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<ureq::http::Response<ureq::Body>, String> {
    let mut all: Vec<(String, String)> = headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    let target = match s3::Object::parse(url) {
        Some(object) => {
            let settings = s3::Settings::from_env();
            let target = settings.url_of(&object);
            if let Some(credentials) = &settings.credentials {
                let payload = body.map_or_else(|| s3::EMPTY_SHA256.to_owned(), s3::sha256_hex);
                all.extend(s3::sign(credentials, &settings.region, method, &target, &[], &payload, UtcTime::now()));
            }
            target
        }
        None if url.starts_with("s3://") => {
            return Err(format!("{url} is not an S3 address: write s3://bucket/key"));
        }
        None => url.to_owned(),
    };
    let mut builder = ureq::http::Request::builder().method(method).uri(&target);
    for (name, value) in &all {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let sent = match body {
        Some(bytes) => builder.body(bytes).map_err(|e| format!("{url}: {e}")).map(|r| agent.run(r)),
        None => builder.body(()).map_err(|e| format!("{url}: {e}")).map(|r| agent.run(r)),
    }?;
    sent.map_err(|e| match e {
        ureq::Error::Timeout(_) => format!("{url} did not answer in time ({e})"),
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => format!("{url} is not a valid address: {e}"),
        ureq::Error::ConnectionFailed | ureq::Error::Io(_) | ureq::Error::HostNotFound => {
            format!(
                "cannot connect to {}: {}",
                if target == url { url.to_owned() } else { format!("{url} ({target})") },
                chain(&e)
            )
        }
        other => format!("{url}: {}", chain(&other)),
    })
}

/// The body of a successful answer, else the error `check` words.
fn check_body(url: &str, response: ureq::http::Response<ureq::Body>) -> Result<impl Read, String> {
    let status = response.status();
    if status.is_success() {
        return Ok(response.into_body().into_with_config().limit(u64::MAX).reader());
    }
    let mut body = Vec::new();
    let _ = response.into_body().into_with_config().limit(1 << 16).reader().read_to_end(&mut body);
    Err(failure(url, status, &body))
}

/// Nothing when the answer is a success, else the error in words.
fn check(url: &str, response: &ureq::http::Response<ureq::Body>, body: &[u8]) -> Result<(), String> {
    if response.status().is_success() { Ok(()) } else { Err(failure(url, response.status(), body)) }
}

/// What a failed answer means: for S3, whether the key or bucket is missing or access was denied (with where
/// the credentials came from); else the status.
fn failure(url: &str, status: ureq::http::StatusCode, body: &[u8]) -> String {
    let reason = status.canonical_reason().unwrap_or("");
    let Some(object) = s3::Object::parse(url) else {
        return format!("{url} answered {} {reason}", status.as_u16());
    };
    let detail = s3::error_of(body);
    let code = detail.as_ref().map_or("", |(c, _)| c.as_str());
    let said = detail.as_ref().map(|(c, m)| format!(" ({c}: {m})")).unwrap_or_default();
    match (status.as_u16(), code) {
        (_, "NoSuchBucket") => format!("{url}: the bucket \"{}\" does not exist{said}", object.bucket),
        (404, _) => {
            format!("{url} does not exist: no key \"{}\" in the bucket \"{}\"{said}", object.key, object.bucket)
        }
        (401 | 403, _) => format!(
            "access to {url} was denied{said}; the request used {}",
            s3::Settings::from_env().credentials_source()
        ),
        (status, _) => format!("{url}: the store answered {status} {reason}{said}"),
    }
}

/// An error with what lies beneath it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_addresses_and_their_cache_names() {
        assert!(is_remote("https://example.org/a.csv"));
        assert!(is_remote("HTTP://example.org/a.csv"));
        assert!(is_remote("s3://bucket/a.csv"));
        assert!(!is_remote("data/a.csv"));
        assert!(!is_remote("s3.csv"));
        let base = Path::new("/nowhere/project");
        let (folder, file) = entry("https://example.org/data/flights.parquet?x=1", base);
        assert_eq!(file.file_name().and_then(|n| n.to_str()), Some("flights.parquet"));
        assert!(folder.starts_with("/nowhere/project/.pipewright/downloads"), "{}", folder.display());
        let (_, file) = entry("https://example.org/", base);
        assert_eq!(file.file_name().and_then(|n| n.to_str()), Some("download"));
        let (_, file) = entry("s3://b/source.json", base);
        assert_eq!(file.file_name().and_then(|n| n.to_str()), Some("filesource.json"));
    }
}
