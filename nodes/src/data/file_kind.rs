//! What a file is when it is not the text Import Data expected: told from its first bytes, so that the error
//! names the kind of file (UTF-16 text, gzip, a ZIP archive or workbook, a database, binary data) and says what
//! to do, without ever quoting the file's contents.

use std::io::Read;
use std::path::Path;

/// How much of a file is looked at.
const SNIFF_BYTES: u64 = 8192;

/// Why a file cannot be read as UTF-8 or latin-1 text, if its first bytes say so: a sentence naming the file.
pub(super) fn not_text(path: &Path) -> Option<String> {
    let mut head = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(SNIFF_BYTES).read_to_end(&mut head)).ok()?;
    describe(&head).map(|what| format!("{} is {what}", path.display()))
}

/// What the bytes at the start of a file are, when they are not UTF-8 or latin-1 text.
pub(super) fn describe(head: &[u8]) -> Option<&'static str> {
    const MAGIC: [(&[u8], &str); 8] = [
        (
            b"\xFF\xFE",
            "UTF-16 text (it starts with a UTF-16 byte-order mark): save it as UTF-8 (in Excel: CSV UTF-8) and import that",
        ),
        (
            b"\xFE\xFF",
            "UTF-16 text (it starts with a UTF-16 byte-order mark): save it as UTF-8 (in Excel: CSV UTF-8) and import that",
        ),
        (b"\x1F\x8B", "a gzip-compressed file: decompress it first (gunzip, or 7-Zip) and import the file inside"),
        (
            b"PK\x03\x04",
            "a ZIP archive (an Excel .xlsx or OpenDocument .ods workbook is one): for a workbook, set the format to excel (or name it .xlsx or .ods); else unpack it and import the file inside",
        ),
        (b"SQLite format 3\0", "a SQLite database: set the format to sqlite and give a query"),
        (b"PAR1", "a Parquet file: set the format to parquet (or auto with a .parquet name)"),
        (
            b"\xD0\xCF\x11\xE0",
            "an old Excel (.xls) or Office file: for a workbook, set the format to excel (or name it .xls)",
        ),
        (b"%PDF", "a PDF document, not a data file"),
    ];
    if let Some((_, what)) = MAGIC.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Some(what);
    }
    if !head.starts_with(b"\xEF\xBB\xBF") && looks_like_utf16(head) {
        return Some("UTF-16 text without a byte-order mark: save it as UTF-8 (in Excel: CSV UTF-8) and import that");
    }
    if head.iter().any(|&b| is_binary(b)) {
        return Some("binary data, not a text file: check that the path names the data file you meant");
    }
    None
}

/// When the file's first lines hold no `delimiter` but the same number of another separator each (a
/// semicolon-separated export, a colon-separated system file), a sentence saying so and what to set: read with
/// the wrong delimiter, each whole line would become one cell and its first line a column name, which later
/// messages would quote.
pub(super) fn delimiter_mismatch(head: &[u8], delimiter: u8) -> Option<String> {
    let text = String::from_utf8_lossy(head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head));
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(6).collect();
    if !text.ends_with('\n') && lines.len() == 6 {
        lines.pop(); // The last line may be cut off.
    }
    if lines.len() < 2 || lines.iter().any(|l| l.as_bytes().contains(&delimiter)) {
        return None;
    }
    let name = |b: u8| match b {
        b',' => "comma",
        b';' => "semicolon",
        b'\t' => "tab",
        b'|' => "pipe",
        b' ' => "space",
        _ => "colon",
    };
    [b';', b'\t', b',', b'|', b':'].into_iter().filter(|&c| c != delimiter).find_map(|c| {
        let count = |l: &str| l.bytes().filter(|&b| b == c).count();
        let first = count(lines[0]);
        (first > 0 && lines.iter().all(|l| count(l) == first)).then(|| {
            let current = name(delimiter);
            if c == b':' {
                format!(
                    "its lines hold no {current} but {first} colons each: it is not a {current}-separated table (Import Data reads comma, semicolon, tab, pipe or space separated text)"
                )
            } else {
                format!(
                    "its lines hold no {current} but {first} {}s each: set the delimiter parameter to {}",
                    name(c),
                    name(c)
                )
            }
        })
    })
}

/// Whether bytes that are not valid UTF-8 may be latin-1 text: no control characters besides tab and line ends.
pub(super) fn may_be_latin1(bytes: &[u8]) -> bool {
    !bytes.iter().any(|&b| is_binary(b))
}

/// A byte that no text file holds: NUL and the control characters other than tab, line feed, form feed,
/// carriage return and escape.
fn is_binary(b: u8) -> bool {
    matches!(b, 0x00..=0x08 | 0x0E..=0x1A | 0x1C..=0x1F)
}

/// ASCII text in UTF-16: a zero byte in every other position.
fn looks_like_utf16(head: &[u8]) -> bool {
    let pairs = head.len() / 2;
    if pairs < 2 {
        return false;
    }
    let zeros_at = |offset: usize| head.iter().skip(offset).step_by(2).take(pairs).filter(|&&b| b == 0).count();
    let (even, odd) = (zeros_at(0), zeros_at(1));
    even.max(odd) * 10 >= pairs * 9 && even.min(odd) * 10 <= pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_files_are_named() {
        let utf16: Vec<u8> = "a,b\n1,2\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(describe(&utf16).is_some_and(|w| w.contains("UTF-16")), "without a mark");
        assert!(describe(&[b"\xFF\xFE".as_slice(), &utf16].concat()).is_some_and(|w| w.contains("UTF-16")));
        assert!(describe(b"\x1F\x8B\x08\x00").is_some_and(|w| w.contains("gzip")));
        assert!(describe(b"\x7FELF\x02\x01\x01\x00\x00").is_some_and(|w| w.contains("binary")));
        assert_eq!(describe(b"name,city\nJos\xe9,K\xf6ln\n"), None, "latin-1 text is text");
        assert_eq!(describe("a,b\n1,é\n".as_bytes()), None);
        assert!(may_be_latin1(b"Jos\xe9\tK\xf6ln\r\n"));
        assert!(!may_be_latin1(b"\xff\x00\x01"));
    }

    #[test]
    fn a_file_separated_by_another_character_is_named() {
        let semicolons = delimiter_mismatch(b"a;b;c\n1;2;3\n4;5;6\n", b',').expect("mismatch");
        assert!(semicolons.contains("2 semicolons each") && semicolons.contains("to semicolon"), "{semicolons}");
        assert!(delimiter_mismatch(b"root:x:0\nbin:x:1\n", b',').is_some_and(|m| m.contains("colons")));
        assert_eq!(delimiter_mismatch(b"a,b\n1,2\n", b','), None);
        assert_eq!(delimiter_mismatch(b"time\n12:30\n13:45\n", b','), None, "one column of times");
        assert_eq!(delimiter_mismatch(b"a\n1\n", b','), None);
    }
}
