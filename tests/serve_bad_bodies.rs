//! The scoring endpoint against request bodies that are broken at the HTTP level, sent over a raw TCP
//! connection as a misbehaving client would: malformed chunked encoding and a body cut short get 400, only a
//! body over the size limit gets 413, and a CSV body without rows gets the same 400 as an empty JSON list.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use pipewright_deploy::{Package, ServeOptions, Server};
use pipewright_e2e::{Scratch, example};

/// The limit the server under test runs with.
const LIMIT_BYTES: usize = 4096;

/// Sends `request` as it is and returns the status code and the body of the answer. With `cut`, the client
/// then closes its sending half: a body shorter than announced ends there.
fn exchange(server: &Server, request: &[u8], cut: bool) -> (u16, String) {
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    stream.write_all(request).expect("send");
    if cut {
        stream.shutdown(Shutdown::Write).expect("half-close");
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

fn head(content_type: &str, framing: &str) -> String {
    format!(
        "POST /score HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: {content_type}\r\n{framing}\r\n"
    )
}

#[test]
fn broken_bodies_get_400_and_only_a_body_over_the_limit_gets_413() {
    let scratch = Scratch::new();
    assert!(scratch.run(&example("titanic-deploy")).success);
    let package = Package::read(&scratch.dir.path().join("models/titanic-survival.pwmodel")).expect("package");
    let good = package.manifest.example.clone().expect("an example record").to_string();
    let options = ServeOptions { port: 0, max_body_bytes: LIMIT_BYTES, ..ServeOptions::default() };
    let server = Server::start(package, &options).expect("start");

    // A well-formed chunked body scores: the framing itself is fine.
    let chunked = format!(
        "{}{:x}\r\n{good}\r\n0\r\n\r\n",
        head("application/json", "Transfer-Encoding: chunked\r\n"),
        good.len()
    );
    let (status, body) = exchange(&server, chunked.as_bytes(), false);
    assert_eq!(status, 200, "{body}");

    // A chunk size that is not hexadecimal.
    let malformed = format!("{}zz\r\n{good}\r\n0\r\n\r\n", head("application/json", "Transfer-Encoding: chunked\r\n"));
    let (status, body) = exchange(&server, malformed.as_bytes(), false);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("could not be read"), "{body}");

    // A body shorter than its Content-Length: the client stopped sending.
    let short = format!("{}{}", head("application/json", "Content-Length: 200\r\n"), &good[..good.len() / 2]);
    let (status, body) = exchange(&server, short.as_bytes(), true);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("could not be read"), "{body}");

    // A chunked body that stops in the middle of a chunk.
    let cut =
        format!("{}{:x}\r\n{}", head("application/json", "Transfer-Encoding: chunked\r\n"), good.len(), &good[..5]);
    let (status, body) = exchange(&server, cut.as_bytes(), true);
    assert_eq!(status, 400, "{body}");

    // Past the limit without a Content-Length: 413, as with one.
    let piece = "x".repeat(1000);
    let mut large = head("application/json", "Transfer-Encoding: chunked\r\n");
    for _ in 0..(LIMIT_BYTES / 1000 + 2) {
        let _ = write!(large, "{:x}\r\n{piece}\r\n", piece.len());
    }
    large.push_str("0\r\n\r\n");
    let (status, body) = exchange(&server, large.as_bytes(), false);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains(&format!("{LIMIT_BYTES} bytes")), "{body}");

    // No records: an empty JSON list, a CSV with only its header, an empty CSV; one answer for all.
    let empty_list = format!("{}[]", head("application/json", "Content-Length: 2\r\n"));
    let (status, expected) = exchange(&server, empty_list.as_bytes(), false);
    assert_eq!(status, 400, "{expected}");
    assert!(expected.contains("no records"), "{expected}");
    for csv in ["pclass,sex,age\n", "pclass,sex,age\r\n\r\n", ""] {
        let request = format!("{}{csv}", head("text/csv", &format!("Content-Length: {}\r\n", csv.len())));
        assert_eq!(exchange(&server, request.as_bytes(), false), (400, expected.clone()), "CSV body {csv:?}");
    }
    server.stop().expect("graceful stop");
}
