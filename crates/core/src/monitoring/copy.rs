//! Log records in PostgreSQL's binary COPY format, the columns of `pgml.prediction_log` in
//! order: the writers hand a batch to COPY, which inserts it in multi-row batches with nothing
//! to parse (an INSERT … SELECT FROM unnest(…) of the same rows cost about twice the CPU).

use crate::monitoring::LogRecord;

/// PostgreSQL counts timestamps from 2000-01-01, Unix from 1970-01-01: this many microseconds apart.
pub const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
const FLOAT4_OID: i32 = 700;
const COLUMNS: i16 = 12;

/// The whole COPY stream (header, rows, trailer) of a batch.
pub fn binary(batch: &[LogRecord]) -> Vec<u8> {
    let mut out = Vec::with_capacity(19 + batch.len() * 160 + 2);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension
    for r in batch {
        out.extend_from_slice(&COLUMNS.to_be_bytes());
        field(&mut out, &r.request_id);
        field(&mut out, &(r.at_unix_micros - POSTGRES_EPOCH_MICROS).to_be_bytes());
        field(&mut out, &r.project_id.to_be_bytes());
        field(&mut out, r.stage.as_bytes());
        field(&mut out, &r.model_id.to_be_bytes());
        field(&mut out, r.source.name().as_bytes());
        match &r.key {
            Some(k) => field(&mut out, k.as_bytes()),
            None => null(&mut out),
        }
        match r.prediction.is_nan() {
            true => null(&mut out),
            false => field(&mut out, &r.prediction.to_be_bytes()),
        }
        floats(&mut out, &r.probabilities);
        floats(&mut out, &r.features);
        field(&mut out, &r.latency_micros.to_be_bytes());
        field(&mut out, &r.weight.to_be_bytes());
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

/// A one-dimensional real[] (NULL when empty).
fn floats(out: &mut Vec<u8>, values: &[f32]) {
    if values.is_empty() {
        return null(out);
    }
    let len = 20 + 8 * values.len();
    out.extend_from_slice(&(len as i32).to_be_bytes());
    for v in [1, 0, FLOAT4_OID, values.len() as i32, 1] {
        out.extend_from_slice(&v.to_be_bytes()); // dimensions, has nulls, element type, size, lower bound
    }
    for v in values {
        out.extend_from_slice(&4i32.to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::Source;

    #[test]
    fn the_stream_has_copys_header_fields_and_trailer() {
        let r = LogRecord {
            request_id: [1; 16],
            at_unix_micros: POSTGRES_EPOCH_MICROS + 5,
            project_id: 2,
            model_id: 3,
            source: Source::Sql,
            weight: 1.0,
            latency_micros: 2.5,
            prediction: f32::NAN,
            stage: "production".into(),
            key: None,
            probabilities: vec![0.25, 0.75],
            features: vec![],
        };
        let out = binary(&[r]);
        assert_eq!(&out[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(&out[19..21], &12i16.to_be_bytes());
        // request id, then the time: 5 microseconds after PostgreSQL's epoch
        assert_eq!(&out[21..25], &16i32.to_be_bytes());
        assert_eq!(&out[41..45], &8i32.to_be_bytes());
        assert_eq!(&out[45..53], &5i64.to_be_bytes());
        assert_eq!(&out[out.len() - 2..], &(-1i16).to_be_bytes());
        // 2 + 16+4 + 8+4 + 8+4 + 10+4 + 8+4 + 3+4 + 4 (NULL key) + 4 (NULL prediction)
        //   + (4 + 20 + 16) + 4 (NULL features) + 8 + 8 bytes per row
        assert_eq!(out.len(), 19 + 2 + 20 + 12 + 12 + 14 + 12 + 7 + 4 + 4 + 40 + 4 + 8 + 8 + 2);
    }
}
