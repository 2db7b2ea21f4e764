//! Offline verification for `ringhook journal check`.
//!
//! `check` reads the segments with plain file reads (no mapping, no lock, no
//! writes), runs the same scanner and the same decision table as recovery,
//! and reports what `Journal::open` would do: accept, cut a torn tail, or
//! refuse with corruption at a given file and offset. It never panics on any
//! byte content, because an operator runs it precisely when the bytes are
//! suspect.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use super::error::{JournalIoError, ScanError};
use super::format::{
    decode_segment_header, segment_base_lsn, segment_order_problem, HeaderProblem,
};
use super::scan::{classify, find_nonzero, scan_records, EndVerdict, SegmentBytes};
use super::segment::list_segments;
use super::{Corruption, TornTail, Visit};

/// Result of an offline scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    pub dir: PathBuf,
    /// Segment files scanned (up to and including a corrupt one).
    pub segments: usize,
    /// Valid records before the end of the log (or the corruption).
    pub records: u64,
    /// Bytes those records occupy, headers and padding included.
    pub bytes: u64,
    /// A torn tail that `open` would cut off.
    pub torn_tail: Option<TornTail>,
    /// The first corruption; `open` refuses to start because of it unless
    /// repairing. Nothing after it is scanned, since no later byte can be
    /// trusted to be at a record boundary.
    pub corruption: Option<Corruption>,
}

impl CheckReport {
    /// Whether `Journal::open` would start without `repair`.
    pub fn is_openable(&self) -> bool {
        self.corruption.is_none()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "journal {}: {} segments, {} records, {} record bytes",
            self.dir.display(),
            self.segments,
            self.records,
            self.bytes
        )?;
        if let Some(torn) = &self.torn_tail {
            writeln!(f, "{torn}; open will truncate it")?;
        }
        if let Some(corruption) = &self.corruption {
            writeln!(f, "{corruption}")?;
            write!(
                f,
                "status: CORRUPT (open refuses to start; --repair truncates at this point)"
            )
        } else if self.torn_tail.is_some() {
            write!(f, "status: ok (torn tail)")
        } else {
            write!(f, "status: ok")
        }
    }
}

/// Scans the journal in `dir` without modifying anything.
pub fn check(dir: &Path) -> Result<CheckReport, ScanError> {
    check_with(dir, &mut |_| Ok(()))
}

/// Like [`check`], with a visitor that validates each record's body as
/// `Journal::open_checked`'s would: a body it refuses is reported as
/// corruption with its file and offset.
pub fn check_with(dir: &Path, visit: &mut Visit<'_>) -> Result<CheckReport, ScanError> {
    let segments = list_segments(dir)?;
    let mut report = CheckReport {
        dir: dir.to_path_buf(),
        segments: 0,
        records: 0,
        bytes: 0,
        torn_tail: None,
        corruption: None,
    };
    // The size recorded by the first valid header; every segment must match it.
    let mut reference_bytes: Option<u64> = None;
    let mut previous_seq: Option<u64> = None;
    let trailing = super::segment::trailing_empty(&segments)?;
    for (index, segment) in segments.iter().enumerate() {
        // The newest segment holding records (see `trailing_empty`).
        let newest = index + 1 >= segments.len() - trailing.min(segments.len() - 1);
        report.segments += 1;
        let corrupt = |offset: u64, reason: String| Corruption {
            path: segment.path.clone(),
            offset,
            reason,
        };
        let data = fs::read(&segment.path)
            .map_err(|e| JournalIoError::new("read segment", &segment.path, e))?;
        let file_bytes = data.len() as u64;
        let header = decode_segment_header(&data, segment.seq);
        let segment_bytes = match &header {
            Ok(found) => found.segment_bytes,
            Err(_) => reference_bytes.unwrap_or(file_bytes),
        };
        let expected_bytes = *reference_bytes.get_or_insert(segment_bytes);
        let order_problem = segment_order_problem(previous_seq, segment.seq, segment_bytes);
        previous_seq = Some(segment.seq);
        let problem = if let Some(reason) = order_problem {
            Some(reason)
        } else if segment_bytes != expected_bytes {
            Some(format!(
                "segment size {segment_bytes} differs from {expected_bytes} of the first segment"
            ))
        } else if file_bytes > segment_bytes {
            Some(format!(
                "segment file is {file_bytes} bytes, larger than the segment size of {segment_bytes}"
            ))
        } else {
            None
        };
        if let Some(reason) = problem {
            report.corruption = Some(corrupt(0, reason));
            break;
        }
        // Like recovery, read a short file (files grow as they fill) as if
        // its missing bytes were zero; they are not allocated.
        let Ok(view_bytes) = usize::try_from(segment_bytes) else {
            report.corruption = Some(corrupt(
                0,
                format!("segment size {segment_bytes} does not fit in memory"),
            ));
            break;
        };
        let view = SegmentBytes::new(&data, view_bytes);
        match header {
            Ok(_) => {}
            Err(HeaderProblem::AllZero) if newest => {
                match find_nonzero(&data, 0) {
                    // Open re-initializes an all-zero newest segment.
                    None => continue,
                    Some(at) => {
                        report.corruption = Some(corrupt(
                        0,
                        format!("segment header is all zero but the segment holds data at offset {at}"),
                    ));
                        break;
                    }
                }
            }
            Err(problem) => {
                report.corruption = Some(corrupt(0, problem.to_string()));
                break;
            }
        }
        let base_lsn = segment_base_lsn(segment.seq, segment_bytes).unwrap_or(0);
        let scan = scan_records(view, segment.seq, base_lsn, visit);
        report.records += scan.records;
        report.bytes += scan.record_bytes;
        match classify(&scan.end, newest) {
            EndVerdict::EndOfData { .. } => {}
            EndVerdict::TornTail {
                offset,
                extent_end,
                reason,
            } => {
                report.torn_tail = Some(TornTail {
                    path: segment.path.clone(),
                    offset,
                    bytes_discarded: extent_end - offset,
                    reason,
                });
            }
            EndVerdict::Corrupt { offset, reason } => {
                report.corruption = Some(corrupt(offset, reason));
                break;
            }
        }
    }
    Ok(report)
}
