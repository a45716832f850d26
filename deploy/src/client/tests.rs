//! The client against real servers on loopback: plain HTTP answers in every framing, and HTTPS with a
//! certificate made for the test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use super::*;

/// Reads one request's head and body; returns the request line and the headers (names lower case).
fn read_request(stream: &mut impl Read) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("request line");
    let request_line = line.trim().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        let Some((name, value)) = line.trim_end().split_once(':') else { break };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length = headers.iter().find(|(n, _)| n == "content-length").map_or(0, |(_, v)| v.parse().expect("length"));
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    (request_line, headers, body)
}

/// An answer echoing what the server received, as JSON.
fn echo(request_line: &str, headers: &[(String, String)], body: &[u8]) -> String {
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    json!({
        "request": request_line,
        "authorization": header("authorization"),
        "content_type": header("content-type"),
        "body": String::from_utf8_lossy(body),
    })
    .to_string()
}

use serde_json::json;

#[test]
fn answers_with_a_length_in_chunks_and_of_any_status_are_read_whole() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let server = std::thread::Builder::new()
        .name("test-http".into())
        .spawn(move || {
            let answers = [
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_owned(),
                "HTTP/1.1 422 Unprocessable\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                    .to_owned(),
            ];
            let mut seen = Vec::new();
            for answer in answers {
                let (mut stream, _) = listener.accept().expect("accept");
                seen.push(read_request(&mut stream));
                stream.write_all(answer.as_bytes()).expect("answer");
            }
            seen
        })
        .expect("thread");
    let plain = get(&format!("{url}/health"), Some("t0ken")).expect("plain");
    assert_eq!((plain.status, plain.text()), (200, "ok".to_owned()));
    let chunked = post_json(&format!("{url}/score"), None, &json!({"x": 1})).expect("chunked");
    assert_eq!((chunked.status, chunked.text()), (422, "abcde".to_owned()));
    assert_eq!(chunked.header("TRANSFER-ENCODING"), Some("chunked"));
    let seen = server.join().expect("server");
    assert_eq!(seen[0].0, "GET /health HTTP/1.1");
    assert!(seen[0].1.contains(&("authorization".into(), "Bearer t0ken".into())), "{:?}", seen[0].1);
    assert_eq!(seen[1].0, "POST /score HTTP/1.1");
    assert!(seen[1].1.contains(&("content-type".into(), "application/json".into())), "{:?}", seen[1].1);
    assert_eq!(seen[1].2, b"{\"x\":1}");
}

#[test]
fn an_unreachable_server_is_an_error_naming_the_url() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let url = format!("http://127.0.0.1:{port}/health");
    let e = get(&url, None).expect_err("nothing listens");
    assert!(e.contains(&url) && e.contains("cannot connect"), "{e}");
    let e = get("ftp://127.0.0.1/x", None).expect_err("not http");
    assert!(e.contains("ftp://127.0.0.1/x"), "{e}");
}

/// A one-connection-at-a-time HTTPS server on loopback with a certificate for 127.0.0.1 made here; returns
/// its URL, the certificate (PEM) and the thread, which answers `count` requests with their echo.
fn tls_server(count: usize) -> (String, String, std::thread::JoinHandle<usize>) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
    let pem = certified.cert.pem();
    let chain = vec![certified.cert.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("https://{}", listener.local_addr().expect("address"));
    let server = std::thread::Builder::new()
        .name("test-https".into())
        .spawn(move || {
            let mut answered = 0;
            for _ in 0..count {
                let (tcp, _) = listener.accept().expect("accept");
                let connection = rustls::ServerConnection::new(config.clone()).expect("connection");
                let mut tls = rustls::StreamOwned::new(connection, tcp);
                // A client that refuses the certificate ends the handshake: nothing to answer.
                let mut first = [0u8; 1];
                if tls.read(&mut first).unwrap_or(0) == 0 {
                    continue;
                }
                let (line, headers, body) = read_request(&mut first.as_slice().chain(&mut tls));
                let text = echo(&line, &headers, &body);
                let answer = format!(
                    "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                tls.write_all(answer.as_bytes()).expect("answer");
                tls.conn.send_close_notify();
                let _ = tls.flush();
                answered += 1;
            }
            answered
        })
        .expect("thread");
    (url, pem, server)
}

#[test]
fn https_to_a_server_whose_certificate_is_trusted_and_not_otherwise() {
    let (url, pem, server) = tls_server(2);
    // The system's authorities do not know a certificate made a moment ago.
    let refused = get(&format!("{url}/health"), None).expect_err("untrusted certificate");
    assert!(refused.contains(&url), "{refused}");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    let client = Client::trusting_pem(pem.as_bytes()).expect("client");
    let answer = client
        .request(
            "POST",
            &format!("{url}/slurm/v0.0.41/job/submit"),
            &[("Authorization", "Bearer s3cret"), ("Content-Type", "application/json")],
            b"{\"job\": 1}",
        )
        .expect("https");
    assert_eq!(answer.status, 201);
    let echoed = answer.json().expect("json");
    assert_eq!(echoed["request"], "POST /slurm/v0.0.41/job/submit HTTP/1.1");
    assert_eq!(echoed["authorization"], "Bearer s3cret");
    assert_eq!(echoed["content_type"], "application/json");
    assert_eq!(echoed["body"], "{\"job\": 1}");
    assert_eq!(server.join().expect("server"), 1, "one request answered, the refused one not");
    assert!(Client::trusting_pem(b"not a certificate").is_err());
}
