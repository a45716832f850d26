//! A blocking HTTP client for the designer's test form, the engines' REST APIs (slurmrestd, the Ray Jobs API)
//! and the tests, on `ureq`: `http://` and `https://` (rustls, certificates checked against the system's
//! trust store, or against given certificates), one request at a time, answers of any status returned as
//! they are.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::Value as Json;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one read or write of a request or its answer may wait.
pub const IO_TIMEOUT: Duration = Duration::from_mins(1);
/// The largest answer read (the engines' job lists, a scored batch).
pub const MAX_ANSWER_BYTES: u64 = 256 * 1024 * 1024;

/// An answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Json, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("the answer is not JSON ({e}): {}", self.text()))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A client: the certificates it trusts for `https://`, and its timeouts. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// A client that trusts the system's certificate authorities (those of the operating system's trust
    /// store, where a site's own authority is installed for its internal servers).
    pub fn new() -> Self {
        Self::with_roots(RootCerts::PlatformVerifier)
    }

    /// A client that trusts only the certificates in `pem` (one or more PEM blocks): a server with a
    /// self-signed certificate, or a private certificate authority.
    pub fn trusting_pem(pem: &[u8]) -> Result<Self, String> {
        let certificates: Vec<Certificate<'static>> = ureq::tls::parse_pem(pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                Ok(_) => None,
                Err(e) => Some(Err(format!("the certificate cannot be read: {e}"))),
            })
            .collect::<Result<_, _>>()?;
        if certificates.is_empty() {
            return Err("no certificate found in the PEM text".into());
        }
        Ok(Self::with_roots(RootCerts::Specific(Arc::new(certificates))))
    }

    fn with_roots(roots: RootCerts) -> Self {
        let config = ureq::Agent::config_builder()
            // Every status is an answer for the caller to read (a 422 names the bad field).
            .http_status_as_error(false)
            // Redirects are answers too: a POST is never silently re-sent elsewhere.
            .max_redirects(0)
            .max_redirects_will_error(false)
            // Straight to the host: the endpoints are on this machine or on the cluster's network.
            .proxy(None)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_per_read(Some(IO_TIMEOUT))
            .timeout_per_write(Some(IO_TIMEOUT))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build();
        Self { agent: config.into() }
    }

    /// Sends one request to `url` (`http://` or `https://`) and reads the whole answer. Errors name the URL.
    pub fn request(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, String> {
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let sent = if body.is_empty() && matches!(method, "GET" | "HEAD" | "DELETE") {
            builder.body(()).map_err(|e| format!("{url}: {e}")).and_then(|r| self.run(url, r))
        } else {
            builder.body(body).map_err(|e| format!("{url}: {e}")).and_then(|r| self.run(url, r))
        };
        let mut answer = sent?;
        let status = answer.status().as_u16();
        let headers = answer
            .headers()
            .iter()
            .map(|(name, value)| {
                (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
            })
            .collect();
        let body = answer
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| format!("the answer from {url} was cut short: {}", describe(&e)))?;
        Ok(Response { status, headers, body })
    }

    fn run(
        &self,
        url: &str,
        request: ureq::http::Request<impl ureq::AsSendBody>,
    ) -> Result<ureq::http::Response<ureq::Body>, String> {
        self.agent.run(request).map_err(|e| match e {
            ureq::Error::ConnectionFailed | ureq::Error::Io(_) | ureq::Error::HostNotFound => {
                format!("cannot connect to {url}: {}", describe(&e))
            }
            ureq::Error::Timeout(_) => format!("{url} did not answer in time: {}", describe(&e)),
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => format!("{url} is not a valid URL: {}", describe(&e)),
            other => format!("{url}: {}", describe(&other)),
        })
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

/// An error in words, with what lies beneath it (a TLS error says which certificate check failed).
fn describe(e: &ureq::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

/// The client the functions below share (the system's certificate authorities).
fn shared() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(Client::new)
}

/// Sends one request to `url` (`http://` or `https://`) and reads the whole answer.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, String> {
    shared().request(method, url, headers, body)
}

/// `POST` of a JSON value.
pub fn post_json(url: &str, token: Option<&str>, value: &Json) -> Result<Response, String> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    request("POST", url, &headers, value.to_string().as_bytes())
}

/// `GET`.
pub fn get(url: &str, token: Option<&str>) -> Result<Response, String> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    request("GET", url, &headers, &[])
}

#[cfg(test)]
mod tests;
