//! `Journal::open`: the recovery scan and the decision table that turns what
//! it finds into "continue", "truncate a torn tail", "repair" or "refuse".
//!
//! Recovery visits every valid record exactly once, in log order, while it
//! validates the log, so the engine rebuilds its state without a second read.
//! Records are only visited before the point where the log ends or is cut, so
//! nothing the visitor saw is ever discarded afterwards. The decision table
//! itself is documented in `docs/journal-format.md`; the numbered cases in
//! the comments below refer to it.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::error::{JournalIoError, OpenError};
use super::format::{
    decode_segment_header, segment_base_lsn, segment_order_problem, valid_segment_bytes,
    HeaderProblem, SEGMENT_HEADER_BYTES,
};
use super::scan::{
    classify, find_nonzero, last_nonzero_end, scan_records, EndVerdict, SegmentBytes,
};
use super::segment::{
    create_segment, initial_file_bytes, list_segments, lock_dir, open_rw, read_prefix,
    remove_segments, MappedSegment, SegmentFile,
};
use super::{
    Corruption, Journal, JournalConfig, Lsn, RecordRef, RecoveryReport, Repair, TornTail, Visit,
};

/// Where the log ends after looking at one segment.
struct LogEnd {
    segment: MappedSegment,
    base_lsn: u64,
    end_offset: u64,
}

/// What one segment turned out to be.
enum Step {
    /// A usable segment; the log continues (or ends) at `end_offset`.
    Continue(LogEnd),
    /// Corruption at `offset`. `segment` is the mapping when the segment
    /// header was fine (so repair can zero from `offset`), `None` when the
    /// whole segment is unusable.
    Corrupt {
        offset: u64,
        reason: String,
        segment: Option<LogEnd>,
    },
}

impl Journal {
    /// Opens (creating if absent) the journal in `dir`, runs recovery, and
    /// positions the writer at the end of the log.
    ///
    /// `visit` is called for every valid record in log order during the
    /// recovery scan. Every record it sees is durable before `open` returns.
    /// If `open` fails, the visitor may already have seen a prefix of the
    /// log; whatever it built from it must be discarded.
    pub fn open(
        dir: &Path,
        config: JournalConfig,
        mut visit: impl FnMut(RecordRef<'_>),
    ) -> Result<(Journal, RecoveryReport), OpenError> {
        Journal::open_checked(dir, config, &mut |r| {
            visit(r);
            Ok(())
        })
    }

    /// Like [`Journal::open`], with a visitor that may refuse a record whose
    /// body is invalid (a valid CRC over bytes the caller cannot read, such
    /// as an unknown version): that is corruption at the record's offset,
    /// refused with its path and offset, or truncated there with `repair`.
    pub fn open_checked(
        dir: &Path,
        config: JournalConfig,
        visit: &mut Visit<'_>,
    ) -> Result<(Journal, RecoveryReport), OpenError> {
        let segment_bytes = config.segment_bytes;
        if !valid_segment_bytes(segment_bytes) {
            return Err(OpenError::InvalidSegmentBytes { segment_bytes });
        }
        super::segment::create_dir(dir)
            .map_err(|e| JournalIoError::new("create directory", dir, e))?;
        let lock = lock_dir(dir)?.ok_or_else(|| OpenError::Locked {
            path: dir.to_path_buf(),
        })?;
        let segments = list_segments(dir)?;
        let mut report = RecoveryReport {
            segments: 0,
            records: 0,
            end_lsn: Lsn(0),
            torn_tail: None,
            repaired: None,
            reinitialized: None,
        };
        let end = recover(dir, &config, &segments, visit, &mut report)?;
        // The writer writes into the rest of this file: a crash in the
        // middle of a growth may have left its tail without blocks, where a
        // full disk would fail a write of records already reported appended
        // (which aborts the engine) instead of refusing the start here.
        end.segment.reserve_file()?;
        // Repair may have deleted segments or created one; count what is there now.
        report.segments = list_segments(dir)?.len();
        report.end_lsn = Lsn(end.base_lsn + end.end_offset);
        let journal = Journal::resume(
            dir.to_path_buf(),
            segment_bytes,
            lock,
            end.segment,
            end.base_lsn,
            end.end_offset,
        );
        Ok((journal, report))
    }
}

/// Scans every segment in order and applies the decision table.
fn recover(
    dir: &Path,
    config: &JournalConfig,
    segments: &[SegmentFile],
    visit: &mut Visit<'_>,
    report: &mut RecoveryReport,
) -> Result<LogEnd, OpenError> {
    let mut previous: Option<LogEnd> = None;
    let trailing = super::segment::trailing_empty(segments)?;
    for (index, file) in segments.iter().enumerate() {
        // The newest segment holding records (see `trailing_empty`).
        let newest = index + 1 >= segments.len() - trailing.min(segments.len() - 1);
        let previous_seq = previous.as_ref().map(|p| p.segment.seq);
        let step = match segment_order_problem(previous_seq, file.seq, config.segment_bytes) {
            Some(reason) => Step::Corrupt {
                offset: 0,
                reason,
                segment: None,
            },
            None => recover_segment(
                file,
                config.segment_bytes,
                index == 0,
                newest,
                visit,
                report,
            )?,
        };
        match step {
            Step::Continue(end) => previous = Some(end),
            Step::Corrupt {
                offset,
                reason,
                segment,
            } => {
                let corruption = Corruption {
                    path: file.path.clone(),
                    offset,
                    reason,
                };
                if !config.repair {
                    return Err(OpenError::Corruption {
                        path: corruption.path,
                        offset: corruption.offset,
                        reason: corruption.reason,
                    });
                }
                return repair(
                    dir,
                    config,
                    &segments[index..],
                    corruption,
                    segment,
                    previous,
                    report,
                );
            }
        }
    }
    match previous {
        Some(end) => Ok(end),
        // Case 1: an empty directory becomes a new journal starting at segment 1.
        None => Ok(LogEnd {
            segment: create_segment(dir, 1, config.segment_bytes)?,
            base_lsn: 0,
            end_offset: SEGMENT_HEADER_BYTES,
        }),
    }
}

/// Validates one segment's header, scans its records and classifies its end.
fn recover_segment(
    file: &SegmentFile,
    segment_bytes: u64,
    first: bool,
    newest: bool,
    visit: &mut Visit<'_>,
    report: &mut RecoveryReport,
) -> Result<Step, OpenError> {
    let path = &file.path;
    let corrupt = |reason: String| Step::Corrupt {
        offset: 0,
        reason,
        segment: None,
    };
    // `segment_order_problem` already rejected sequence numbers without a base.
    let Some(base_lsn) = segment_base_lsn(file.seq, segment_bytes) else {
        return Ok(corrupt(format!(
            "segment sequence number {} is out of range",
            file.seq
        )));
    };
    let handle = open_rw(path)?;
    let file_bytes = handle
        .metadata()
        .map_err(|e| JournalIoError::new("stat segment", path, e))?
        .len();
    let prefix = read_prefix(&handle, path, SEGMENT_HEADER_BYTES as usize)?;
    let header = decode_segment_header(&prefix, file.seq);
    if let Ok(found) = &header {
        // The first segment's size against the configuration is a
        // configuration error; a later segment of another size than the
        // ones before it is damage, as `check` (which has no configuration
        // and compares with the first segment) reports it.
        if found.segment_bytes != segment_bytes && first {
            return Err(OpenError::SegmentSizeMismatch {
                path: path.clone(),
                found_bytes: found.segment_bytes,
                configured_bytes: segment_bytes,
            });
        }
        if found.segment_bytes != segment_bytes {
            return Ok(corrupt(format!(
                "segment size {} differs from {segment_bytes} of the first segment",
                found.segment_bytes
            )));
        }
    }
    // After the header: a journal written with a larger `segment_bytes` is
    // a configuration error (above), not damage that `--repair` would cut.
    if file_bytes > segment_bytes {
        return Ok(corrupt(format!(
            "segment file is {file_bytes} bytes, larger than the segment size of {segment_bytes}"
        )));
    }
    // Case 3: a file shorter than its segment is normal (files grow as
    // they fill); its missing bytes read as zero (`SegmentBytes`) and are
    // never touched through the mapping.
    let mut segment = MappedSegment::map(handle, path, file.seq, segment_bytes)?;
    let view_bytes = segment.len_bytes() as usize;
    match header {
        Ok(_) => {}
        Err(HeaderProblem::AllZero) if newest => {
            // Case 6, benign: a crash right after creating the newest segment
            // leaves it entirely zero; it never held a record.
            // SAFETY: no writes happen while the slice is borrowed.
            let data_at = find_nonzero(unsafe { segment.bytes() }, 0);
            if let Some(data_at) = data_at {
                return Ok(corrupt(format!(
                    "segment header is all zero but the segment holds data at offset {data_at}"
                )));
            }
            // The crash may have come before the file had its first size.
            segment.grow_to(initial_file_bytes(segment_bytes))?;
            segment.write_header()?;
            report.reinitialized = Some(path.clone());
            return Ok(Step::Continue(LogEnd {
                segment,
                base_lsn,
                end_offset: SEGMENT_HEADER_BYTES,
            }));
        }
        // Case 6: any other bad header makes the whole segment unreadable.
        Err(problem) => return Ok(corrupt(problem.to_string())),
    }
    // SAFETY: the slice lives only for the scan; the writes below come after it.
    let bytes = SegmentBytes::new(unsafe { segment.bytes() }, view_bytes);
    let scan = scan_records(bytes, file.seq, base_lsn, visit);
    report.records += scan.records;
    // A previous process may have died with these records only in the page
    // cache; make them durable before anything built from them is acted on.
    sync_file(segment.file(), path)?;
    // One of the three ends below is taken, so the segment moves into it.
    let (end_offset, corrupt_at) = match classify(&scan.end, newest) {
        EndVerdict::EndOfData { end_offset } => (end_offset, None),
        EndVerdict::TornTail {
            offset,
            extent_end,
            reason,
        } => {
            // Past the file's end the segment is zero already. The blocks
            // are reserved first: a crash during a growth may have left the
            // tail without them, and a store there on a full disk would be a
            // SIGBUS instead of this error.
            let in_file = extent_end.min(segment.file_bytes());
            segment.reserve_file()?;
            segment.zero(offset.min(in_file), in_file);
            segment.flush(offset.min(in_file), in_file)?;
            report.torn_tail = Some(TornTail {
                path: path.clone(),
                offset,
                bytes_discarded: extent_end - offset,
                reason,
            });
            (offset, None)
        }
        EndVerdict::Corrupt { offset, reason } => (offset, Some(reason)),
    };
    let end = LogEnd {
        segment,
        base_lsn,
        end_offset,
    };
    Ok(match corrupt_at {
        None => Step::Continue(end),
        Some(reason) => Step::Corrupt {
            offset: end_offset,
            reason,
            segment: Some(end),
        },
    })
}

fn sync_file(handle: &File, path: &Path) -> Result<(), JournalIoError> {
    handle
        .sync_data()
        .map_err(|e| JournalIoError::new("fsync segment", path, e))
}

/// `--repair`: truncates the log at `corruption`. `segments[0]` is the
/// corrupt segment; every later one is deleted.
fn repair(
    dir: &Path,
    config: &JournalConfig,
    segments: &[SegmentFile],
    corruption: Corruption,
    corrupt_segment: Option<LogEnd>,
    previous: Option<LogEnd>,
    report: &mut RecoveryReport,
) -> Result<LogEnd, OpenError> {
    let mut removed: Vec<PathBuf> = segments.iter().skip(1).map(|s| s.path.clone()).collect();
    let (end, bytes_discarded) = match corrupt_segment {
        Some(end) => {
            // The header is fine: keep the records before the corruption and
            // zero everything from it to the last non-zero byte.
            // Past the file's end the segment is zero already.
            let offset = end.end_offset.min(end.segment.file_bytes());
            // SAFETY: the slice is dropped before the segment is written.
            let zero_end = last_nonzero_end(unsafe { end.segment.bytes() }, offset as usize) as u64;
            end.segment.zero(offset, zero_end);
            end.segment.flush(offset, zero_end)?;
            remove_segments(dir, &removed)?;
            (end, zero_end - offset)
        }
        None => {
            // The segment itself is unusable: drop it too and continue after
            // the previous one, or start afresh with the same sequence number
            // when it was the first (so Lsns stay where they were).
            removed.insert(0, corruption.path.clone());
            remove_segments(dir, &removed)?;
            let end = match previous {
                Some(previous) => previous,
                None => {
                    let first_seq = segments.first().map_or(1, |s| s.seq);
                    let (seq, base_lsn) = match segment_base_lsn(first_seq, config.segment_bytes) {
                        Some(base_lsn) => (first_seq, base_lsn),
                        None => (1, 0),
                    };
                    LogEnd {
                        segment: create_segment(dir, seq, config.segment_bytes)?,
                        base_lsn,
                        end_offset: SEGMENT_HEADER_BYTES,
                    }
                }
            };
            (end, 0)
        }
    };
    report.repaired = Some(Repair {
        corruption,
        bytes_discarded,
        segments_removed: removed,
    });
    Ok(end)
}
