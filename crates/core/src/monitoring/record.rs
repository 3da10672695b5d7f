//! One logged prediction, and its compact encoding in the shared-memory buffer (little-endian,
//! no allocation when encoding into a reused buffer). The buffer only ever holds records of
//! the running server's own library, so the encoding has no version.

use crate::error::{Error, Result};

/// Where a prediction was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Source {
    /// `pgml.predict` and its kin in a primary's SQL.
    Sql = 1,
    /// pgml-serve's HTTP endpoints.
    Http = 2,
    /// SQL on a hot standby.
    Standby = 3,
    /// A batch scoring run.
    Batch = 4,
    /// A rollout's candidate scoring a request the baseline answered (never returned); its
    /// request id is the answered prediction's, and a failed score has a NaN prediction (NULL in
    /// `pgml.prediction_log`).
    Shadow = 5,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Sql => "sql",
            Source::Http => "http",
            Source::Standby => "standby",
            Source::Batch => "batch",
            Source::Shadow => "shadow",
        }
    }

    fn from_u8(v: u8) -> Result<Source> {
        Ok(match v {
            1 => Source::Sql,
            2 => Source::Http,
            3 => Source::Standby,
            4 => Source::Batch,
            5 => Source::Shadow,
            _ => return Err(Error::Internal(format!("prediction log: unknown source {v}"))),
        })
    }
}

/// The longest entity key a prediction may carry, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// One prediction as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub request_id: [u8; 16],
    /// Microseconds since 1970-01-01 UTC.
    pub at_unix_micros: i64,
    pub project_id: i64,
    pub model_id: i64,
    pub source: Source,
    /// How many predictions this record stands for (1 / the sampling rate).
    pub weight: f32,
    pub latency_micros: f32,
    /// The prediction (a label for a classifier; NaN when only probabilities were asked for).
    pub prediction: f32,
    pub stage: String,
    pub key: Option<String>,
    /// Class probabilities, when the call computed them.
    pub probabilities: Vec<f32>,
    /// The features, for the sampled share that keeps them.
    pub features: Vec<f32>,
}

const FIXED: usize = 16 + 8 + 8 + 8 + 1 + 4 + 4 + 4;
const NO_KEY: u16 = u16::MAX;

impl LogRecord {
    /// The encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        FIXED
            + 2
            + self.stage.len()
            + 2
            + self.key.as_ref().map_or(0, String::len)
            + 4
            + 4 * self.probabilities.len()
            + 4
            + 4 * self.features.len()
    }

    /// Appends the encoding to `out`. Strings longer than 65,534 bytes are cut (stages and keys
    /// are checked far below that before a record is made).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.extend_from_slice(&self.request_id);
        out.extend_from_slice(&self.at_unix_micros.to_le_bytes());
        out.extend_from_slice(&self.project_id.to_le_bytes());
        out.extend_from_slice(&self.model_id.to_le_bytes());
        out.push(self.source as u8);
        out.extend_from_slice(&self.weight.to_le_bytes());
        out.extend_from_slice(&self.latency_micros.to_le_bytes());
        out.extend_from_slice(&self.prediction.to_le_bytes());
        put_str(out, Some(&self.stage));
        put_str(out, self.key.as_deref());
        put_floats(out, &self.probabilities);
        put_floats(out, &self.features);
    }

    /// Reads one record from the start of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<LogRecord> {
        let mut r = Reader { bytes, at: 0 };
        let request_id: [u8; 16] = r.take(16)?.try_into().expect("16 bytes");
        Ok(LogRecord {
            request_id,
            at_unix_micros: i64::from_le_bytes(r.array()?),
            project_id: i64::from_le_bytes(r.array()?),
            model_id: i64::from_le_bytes(r.array()?),
            source: Source::from_u8(r.take(1)?[0])?,
            weight: f32::from_le_bytes(r.array()?),
            latency_micros: f32::from_le_bytes(r.array()?),
            prediction: f32::from_le_bytes(r.array()?),
            stage: r.string()?.unwrap_or_default(),
            key: r.string()?,
            probabilities: r.floats()?,
            features: r.floats()?,
        })
    }
}

fn put_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.extend_from_slice(&NO_KEY.to_le_bytes()),
        Some(s) => {
            let mut end = s.len().min(NO_KEY as usize - 1);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            out.extend_from_slice(&(end as u16).to_le_bytes());
            out.extend_from_slice(&s.as_bytes()[..end]);
        }
    }
}

fn put_floats(out: &mut Vec<u8>, values: &[f32]) {
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| Error::Internal("prediction log: a record is cut short".into()))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn string(&mut self) -> Result<Option<String>> {
        let len = u16::from_le_bytes(self.array()?);
        if len == NO_KEY {
            return Ok(None);
        }
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Error::Internal("prediction log: a string is not UTF-8".into()))
    }

    fn floats(&mut self) -> Result<Vec<f32>> {
        let n = u32::from_le_bytes(self.array()?) as usize;
        let bytes =
            self.take(n.checked_mul(4).ok_or_else(|| Error::Internal("prediction log: bad length".into()))?)?;
        Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: Option<&str>, probabilities: Vec<f32>, features: Vec<f32>) -> LogRecord {
        LogRecord {
            request_id: [7; 16],
            at_unix_micros: 1_796_601_600_000_001,
            project_id: 3,
            model_id: 12,
            source: Source::Http,
            weight: 100.0,
            latency_micros: 12.5,
            prediction: 1.0,
            stage: "production".into(),
            key: key.map(str::to_string),
            probabilities,
            features,
        }
    }

    #[test]
    fn records_round_trip_with_and_without_their_optional_parts() {
        for r in [
            record(None, vec![], vec![]),
            record(Some(""), vec![0.25, 0.75], vec![]),
            record(Some("customer-42 é"), vec![], vec![5.1, 3.5, 1.4, 0.2]),
        ] {
            let mut out = vec![0xAA];
            r.encode(&mut out);
            assert_eq!(out.len(), 1 + r.encoded_len());
            assert_eq!(LogRecord::decode(&out[1..]).unwrap(), r);
        }
    }

    #[test]
    fn a_cut_record_is_an_error_not_a_panic() {
        let mut out = vec![];
        record(Some("k"), vec![0.5, 0.5], vec![1.0]).encode(&mut out);
        for n in 0..out.len() {
            assert!(LogRecord::decode(&out[..n]).is_err(), "{n} bytes");
        }
    }
}
