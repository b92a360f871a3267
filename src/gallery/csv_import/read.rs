//! The CSV's bytes as rows of text: the separator found in the header row, every record read
//! with the `csv` crate, each with its spreadsheet row and file line, and every cell that is not
//! UTF-8 named by row, column and byte (with its Windows-1252 reading, the usual legacy export).

use super::columns::column_letter;
use super::{Plan, Problem, Row, MAX_CSV_BYTES};

/// The CSV's records (the header row first), with the separator and byte-order mark noted in
/// `plan`; None when the bytes cannot be a CSV export at all (too large, UTF-16), with the
/// problem in `plan`.
pub(super) fn records(bytes: &[u8], plan: &mut Plan) -> Option<Vec<Row>> {
    if bytes.len() > MAX_CSV_BYTES {
        plan.problems.push(Problem::file(format!("{} bytes, at most {MAX_CSV_BYTES}: is this the right file?", bytes.len())));
        return None;
    }
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        plan.problems.push(Problem::file(
            "the file is UTF-16 (Excel's \"Unicode Text\"): export it as CSV UTF-8 (Excel: Save As > \"CSV UTF-8 (Comma delimited)\")"
                .into(),
        ));
        return None;
    }
    plan.bom = bytes.starts_with(b"\xef\xbb\xbf");
    let base = if plan.bom { 3 } else { 0 };
    let separator = detect_separator(&bytes[base..]);
    plan.separator = match separator {
        b'\t' => "tab".into(),
        s => char::from(s).to_string(),
    };
    Some(read_records(bytes, base, separator, &mut plan.problems))
}

/// Windows-1252's character for a byte (the usual legacy encoding of a spreadsheet export).
fn windows_1252(b: u8) -> Option<char> {
    const HIGH: [char; 32] = [
        '€', '\0', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\0', 'Ž', '\0', '\0', '‘', '’', '“', '”', '•', '–', '—', '˜',
        '™', 'š', '›', 'œ', '\0', 'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => Some(HIGH[(b - 0x80) as usize]).filter(|c| *c != '\0'),
        0xa0..=0xff => Some(char::from(b)),
        _ => None,
    }
}

/// The separator of the header row: the most frequent of `,` `;` and tab outside quotes in the
/// first line (`,` when none).
pub(super) fn detect_separator(bytes: &[u8]) -> u8 {
    let (mut quoted, mut counts) = (false, [0usize; 3]);
    for &b in bytes {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let seps = [b',', b';', b'\t'];
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        seps[best]
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The CSV's records as strings, each with its spreadsheet row and line; problems for bytes that
/// are not UTF-8 (named by row, column and byte offset).
pub(super) fn read_records(bytes: &[u8], base: usize, separator: u8, problems: &mut Vec<Problem>) -> Vec<Row> {
    let body = &bytes[base..];
    let mut reader = csv::ReaderBuilder::new().delimiter(separator).has_headers(false).flexible(true).from_reader(body);
    let mut rows = Vec::new();
    let mut not_utf8 = 0usize;
    let mut record = csv::ByteRecord::new();
    // Lines counted here: the csv crate's count lags after a CRLF row end.
    let (mut counted_to, mut newlines) = (0usize, 0u64);
    loop {
        let row = rows.len() + 1;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                problems.push(Problem { row: Some(row), ..Problem::file(format!("the CSV cannot be read further: {e}")) });
                break;
            }
        }
        let mut start = record.position().map_or(counted_to, |p| p.byte() as usize).clamp(counted_to, body.len());
        while start < body.len() && matches!(body[start], b'\r' | b'\n') {
            start += 1;
        }
        newlines += body[counted_to..start].iter().filter(|&&b| b == b'\n').count() as u64;
        counted_to = start;
        let line = newlines + 1;
        let mut cells = Vec::with_capacity(record.len());
        for (col, field) in record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(s) => cells.push(s.to_string()),
                Err(e) => {
                    not_utf8 += 1;
                    let bad = e.valid_up_to();
                    let byte = field[bad];
                    let from = bad.saturating_sub(8);
                    let at = find(&body[start..], &field[from..=bad]).map(|p| base + start + p + (bad - from));
                    let guess = windows_1252(byte).map(|c| format!(" ('{c}' in Windows-1252)")).unwrap_or_default();
                    let at = at.map(|a| format!(" at byte {a} of the file")).unwrap_or_default();
                    problems.push(Problem {
                        row: Some(row),
                        line: (line != row as u64).then_some(line),
                        column: Some(column_letter(col)),
                        header: None,
                        message: format!("byte 0x{byte:02X}{guess}{at} is not UTF-8"),
                    });
                    cells.push(String::from_utf8_lossy(field).into_owned());
                }
            }
        }
        rows.push(Row { row, line: (line != row as u64).then_some(line), cells });
    }
    if not_utf8 > 0 {
        problems.push(Problem::file(format!(
            "the file is not UTF-8 ({not_utf8} cell(s) above; a Windows-1252 or other legacy export?): export it again as UTF-8 \
             (LibreOffice: File > Save As > Text CSV, Character set \"Unicode (UTF-8)\"; Excel: Save As > \"CSV UTF-8 (Comma delimited)\")"
        )));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators() {
        assert_eq!(detect_separator(b"id;name;\"a,b,c\"\nx,y,z,w"), b';');
        assert_eq!(detect_separator(b"id,name;x,role\n"), b',');
        assert_eq!(detect_separator(b"id\n"), b',');
        assert_eq!(detect_separator(b"id\tname\n"), b'\t');
    }
}
