//! `s3://bucket/key`: where an object is, the credentials and region to reach it with (the usual environment
//! variables, then the shared credentials and config files), and AWS Signature Version 4 for its requests.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use ring::{digest, hmac};

use crate::UtcTime;

/// The SHA-256 of nothing: the payload hash of a request without a body.
pub(super) const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// An object in a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The bucket.
    pub bucket: String,
    /// The key inside it.
    pub key: String,
}

impl Object {
    /// `s3://bucket/key` taken apart; `None` when it is not that shape.
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/')?;
        (!bucket.is_empty() && !key.is_empty()).then(|| Self { bucket: bucket.to_owned(), key: key.to_owned() })
    }
}

/// Keys that sign requests.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
    /// A session token of temporary credentials.
    pub session_token: Option<String>,
    /// Where they came from, for messages (never the keys themselves).
    pub source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// How requests reach a bucket: the credentials (none: unsigned, for public buckets), the region and the
/// endpoint, from the environment as the AWS command-line tools read it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Keys, if any were found.
    pub credentials: Option<Credentials>,
    /// The region requests are signed for.
    pub region: String,
    /// An S3-compatible store's address (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`), addressed path-style.
    pub endpoint: Option<String>,
}

impl Settings {
    /// The settings the environment gives: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// `AWS_SESSION_TOKEN`, else the profile (`AWS_PROFILE`, else `default`) of the shared credentials file;
    /// `AWS_REGION`, `AWS_DEFAULT_REGION`, else the profile's region in the config file, else `us-east-1`;
    /// `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, else the profile's `endpoint_url`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".into());
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let file = |variable: &str, default: &str| {
            var(variable).map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
        };
        let credentials_file = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
            .and_then(|p| std::fs::read_to_string(&p).ok().map(|text| (p, text)));
        let config = file("AWS_CONFIG_FILE", "config").and_then(|p| std::fs::read_to_string(p).ok()).map(|text| {
            let section = if profile == "default" { "default".to_owned() } else { format!("profile {profile}") };
            ini_section(&text, &section)
        });
        let from_config = |key: &str| config.as_ref().and_then(|c| c.get(key).cloned());
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key), Some(secret_key)) => Some(Credentials {
                access_key,
                secret_key,
                session_token: var("AWS_SESSION_TOKEN"),
                source: "the environment (AWS_ACCESS_KEY_ID)".into(),
            }),
            _ => credentials_file.and_then(|(path, text)| {
                let section = ini_section(&text, &profile);
                Some(Credentials {
                    access_key: section.get("aws_access_key_id")?.clone(),
                    secret_key: section.get("aws_secret_access_key")?.clone(),
                    session_token: section.get("aws_session_token").cloned(),
                    source: format!("profile \"{profile}\" of {}", path.display()),
                })
            }),
        };
        Self {
            credentials,
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .or_else(|| from_config("region"))
                .unwrap_or_else(|| "us-east-1".into()),
            endpoint: var("AWS_ENDPOINT_URL_S3")
                .or_else(|| var("AWS_ENDPOINT_URL"))
                .or_else(|| from_config("endpoint_url"))
                .map(|e| e.trim_end_matches('/').to_owned()),
        }
    }

    /// The object's address: path-style under an endpoint override (or a bucket whose name has dots, which
    /// a virtual host's certificate does not cover), else the bucket's virtual host on AWS.
    pub fn url_of(&self, object: &Object) -> String {
        let key = encode_path(&object.key);
        match &self.endpoint {
            Some(endpoint) => format!("{endpoint}/{}/{key}", object.bucket),
            None if object.bucket.contains('.') => {
                format!("https://s3.{}.amazonaws.com/{}/{key}", self.region, object.bucket)
            }
            None => format!("https://{}.s3.{}.amazonaws.com/{key}", object.bucket, self.region),
        }
    }

    /// Where the credentials came from, for messages.
    pub fn credentials_source(&self) -> String {
        self.credentials.as_ref().map_or_else(
            || "no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)".into(),
            |c| format!("credentials from {}", c.source),
        )
    }
}

/// The `key = value` lines of one `[section]` of an INI file, keys lower-cased.
fn ini_section(text: &str, section: &str) -> BTreeMap<String, String> {
    let mut inside = false;
    let mut values = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
        } else if inside
            && !line.starts_with(['#', ';'])
            && let Some((key, value)) = line.split_once('=')
        {
            values.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    values
}

/// URI-encodes a key the way Signature Version 4 wants it: every byte but unreserved characters and `/`.
pub(super) fn encode_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The hex SHA-256 of `bytes`.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn hmac_sha256(key: &[u8], message: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message.as_bytes()).as_ref().to_vec()
}

/// The headers that sign a request to `url` (no query string) whose body hashes to `payload_sha256`, at
/// `now`: `x-amz-date`, `x-amz-content-sha256`, the session token if any, and `authorization`. `extra` are
/// further headers to sign (lower-case names), sent by the caller as given.
pub(super) fn sign(
    credentials: &Credentials,
    region: &str,
    method: &str,
    url: &str,
    extra: &[(&str, &str)],
    payload_sha256: &str,
    now: UtcTime,
) -> Vec<(String, String)> {
    let date = format!("{:04}{:02}{:02}", now.year, now.month, now.day);
    let stamp = format!("{date}T{:02}{:02}{:02}Z", now.hour, now.minute, now.second);
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (host, path) =
        after_scheme.split_once('/').map_or((after_scheme, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut signed: Vec<(String, String)> = vec![
        ("host".into(), host.to_owned()),
        ("x-amz-content-sha256".into(), payload_sha256.to_owned()),
        ("x-amz-date".into(), stamp.clone()),
    ];
    if let Some(token) = &credentials.session_token {
        signed.push(("x-amz-security-token".into(), token.clone()));
    }
    signed.extend(extra.iter().map(|(n, v)| ((*n).to_owned(), v.trim().to_owned())));
    signed.sort();
    let names = signed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
    let canonical_headers = signed.iter().fold(String::new(), |mut text, (n, v)| {
        let _ = writeln!(text, "{n}:{v}");
        text
    });
    let canonical_request = format!("{method}\n{path}\n\n{canonical_headers}\n{names}\n{payload_sha256}");
    let scope = format!("{date}/{region}/s3/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()));
    let mut key = hmac_sha256(format!("AWS4{}", credentials.secret_key).as_bytes(), &date);
    for part in [region, "s3", "aws4_request"] {
        key = hmac_sha256(&key, part);
    }
    let signature = hex(&hmac_sha256(&key, &to_sign));
    let mut headers: Vec<(String, String)> = signed.into_iter().filter(|(n, _)| n.starts_with("x-amz-")).collect();
    headers.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={names}, Signature={signature}",
            credentials.access_key
        ),
    ));
    headers
}

/// The `<Code>` and `<Message>` of an S3 error document, when the body is one.
pub(super) fn error_of(body: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(body).ok()?;
    let element = |name: &str| {
        let start = text.find(&format!("<{name}>"))? + name.len() + 2;
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].trim().to_owned())
    };
    Some((element("Code")?, element("Message").unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_of_the_documented_get_object_example() {
        // The "GET Object" example of the Signature Version 4 documentation for Amazon S3.
        let credentials = Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
            source: "the example".into(),
        };
        let now = UtcTime { year: 2013, month: 5, day: 24, hour: 0, minute: 0, second: 0 };
        let headers = sign(
            &credentials,
            "us-east-1",
            "GET",
            "https://examplebucket.s3.amazonaws.com/test.txt",
            &[("range", "bytes=0-9")],
            EMPTY_SHA256,
            now,
        );
        let authorization = &headers.iter().find(|(n, _)| n == "authorization").expect("signed").1;
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn objects_addresses_and_profiles() {
        assert_eq!(Object::parse("s3://b/dir/x.csv"), Some(Object { bucket: "b".into(), key: "dir/x.csv".into() }));
        assert_eq!(Object::parse("s3://b/"), None);
        assert_eq!(Object::parse("s3://b"), None);
        let mut settings = Settings { credentials: None, region: "eu-west-1".into(), endpoint: None };
        let object = Object { bucket: "b".into(), key: "a b/x+y.csv".into() };
        assert_eq!(settings.url_of(&object), "https://b.s3.eu-west-1.amazonaws.com/a%20b/x%2By.csv");
        settings.endpoint = Some("http://127.0.0.1:9000".into());
        assert_eq!(settings.url_of(&object), "http://127.0.0.1:9000/b/a%20b/x%2By.csv");
        let text = "[default]\nregion = us-west-2\n[profile work]\n# a comment\nregion=eu-central-1\n";
        assert_eq!(ini_section(text, "profile work").get("region").map(String::as_str), Some("eu-central-1"));
        assert_eq!(ini_section(text, "default").get("region").map(String::as_str), Some("us-west-2"));
        assert_eq!(
            error_of(b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The key does not exist</Message></Error>"),
            Some(("NoSuchKey".into(), "The key does not exist".into()))
        );
    }
}
