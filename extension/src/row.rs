//! Features from a row value, for `pgml.predict(project, row)`: each column of the model's
//! feature schema is looked up by name in the row, so the row may carry other columns
//! (the label, ids) in any order. An anonymous `ROW(...)` (`(carat, cut, …)`, whose columns
//! are f1, f2, …) is read by position, in the training columns' order, as PostgresML reads it.

use crate::error::{Result, SqlError};
use crate::relation::{Column, Kind};
use pgml_core::artifact::LoadedModel;
use pgrx::datum::TryFromDatumError;
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::prelude::*;
use pgrx::{AllocatedByRust, AnyElement, AnyNumeric, Array, PgSqlErrorCode};
use std::num::NonZeroUsize;

type Tuple<'a> = PgHeapTuple<'a, AllocatedByRust>;

/// The raw feature vector of a row for `model`; a NULL is a missing value where the model
/// imputes that feature, an error elsewhere.
pub fn features(model: &LoadedModel, value: &AnyElement) -> Result<Vec<f32>> {
    let oid = value.oid();
    let schema = &model.header.features;
    if unsafe { pg_sys::type_is_rowtype(oid) } {
        let tuple: Tuple = unsafe { PgHeapTuple::from_composite_datum(value.datum()) };
        let anonymous = oid == pg_sys::RECORDOID;
        if anonymous && tuple.len() != schema.len() {
            return Err(SqlError::new(
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                format!(
                    "the row has {} values; the model was trained on {} columns",
                    tuple.len(),
                    schema.len()
                ),
            )
            .hint(format!(
                "an anonymous row is read in the training columns' order: {}",
                schema.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let mut out = Vec::with_capacity(schema.iter().map(|c| c.size).sum());
        for (i, column) in schema.iter().enumerate() {
            let attno = if anonymous { NonZeroUsize::new(i + 1) } else { None };
            push(&tuple, column, attno, &mut out, &|i| model.imputes(i))?;
        }
        return Ok(out);
    }
    Err(mismatch(format!(
        "pgml.predict takes a row or an array of numbers, got a value of type {}",
        type_name(oid)
    )))
}

fn type_name(oid: pg_sys::Oid) -> String {
    unsafe {
        let name = pg_sys::format_type_be(oid);
        std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned()
    }
}

fn mismatch(message: String) -> SqlError {
    SqlError::new(PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH, message)
}

fn null(what: &str) -> SqlError {
    SqlError::new(PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED, format!("{what} is NULL"))
        .hint("replace missing values before predicting, for example with COALESCE")
}

/// A numeric as f32; out of range is an error, as the cast numeric::real is.
pub(crate) fn numeric(v: AnyNumeric) -> Result<f32> {
    f32::try_from(v)
        .map_err(|e| SqlError::new(PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, e.to_string()))
}

fn get<T>(tuple: &Tuple, attno: NonZeroUsize, column: &str) -> Result<Option<T>>
where
    T: FromDatum + IntoDatum + for<'t> pgrx::datum::UnboxDatum<As<'t> = T> + 'static,
{
    tuple.get_by_index::<T>(attno).map_err(|e: TryFromDatumError| {
        mismatch(format!("column \"{column}\" of the row cannot be read as a feature: {e}"))
    })
}

/// Appends the features of one schema column, read from the row at `position`, or by name.
fn push(
    tuple: &Tuple,
    column: &Column,
    position: Option<NonZeroUsize>,
    out: &mut Vec<f32>,
    imputes: &dyn Fn(usize) -> bool,
) -> Result<()> {
    let missing =
        |out: &Vec<f32>, what: &str| if imputes(out.len()) { Ok(f32::NAN) } else { Err(null(what)) };
    let name = column.name.as_str();
    let found = match position {
        Some(attno) => tuple.get_attribute_by_index(attno).map(|att| (attno, att)),
        None => tuple.get_attribute_by_name(name),
    };
    let (attno, att) = found.ok_or_else(|| {
        SqlError::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            format!("the row has no column \"{name}\", which the model was trained on"),
        )
        .hint("pass a row of the training relation, or a row with the same column names")
    })?;
    let typ = att.type_oid().value();
    let what = format!("column \"{name}\" of the row");
    match column.kind {
        Kind::Numeric | Kind::Boolean => {
            let v = match scalar(tuple, attno, typ, name)? {
                Some(v) => v,
                None => missing(out, &what)?,
            };
            out.push(v)
        }
        Kind::Categorical => {
            let v = match get::<String>(tuple, attno, name)? {
                Some(text) => column.level_code(&text),
                None => missing(out, &what)?,
            };
            out.push(v);
        }
        Kind::Array => {
            let values = array(tuple, attno, typ, name)?.ok_or_else(|| null(&what))?;
            if values.len() != column.size {
                return Err(SqlError::new(
                    PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                    format!("{what} has {} elements; the model was trained on {}", values.len(), column.size),
                ));
            }
            for v in values {
                let v = match v {
                    Some(v) => v,
                    None => missing(out, &format!("an element of {what}"))?,
                };
                out.push(v);
            }
        }
    }
    Ok(())
}

fn scalar(tuple: &Tuple, attno: NonZeroUsize, typ: pg_sys::Oid, name: &str) -> Result<Option<f32>> {
    Ok(match typ {
        pg_sys::FLOAT4OID => get::<f32>(tuple, attno, name)?,
        pg_sys::FLOAT8OID => get::<f64>(tuple, attno, name)?.map(|v| v as f32),
        pg_sys::INT2OID => get::<i16>(tuple, attno, name)?.map(f32::from),
        pg_sys::INT4OID => get::<i32>(tuple, attno, name)?.map(|v| v as f32),
        pg_sys::INT8OID => get::<i64>(tuple, attno, name)?.map(|v| v as f32),
        pg_sys::BOOLOID => get::<bool>(tuple, attno, name)?.map(|v| if v { 1.0 } else { 0.0 }),
        pg_sys::NUMERICOID => get::<AnyNumeric>(tuple, attno, name)?.map(numeric).transpose()?,
        other => {
            return Err(mismatch(format!(
                "column \"{name}\" of the row has type {}, which cannot be a numeric feature",
                type_name(other)
            )))
        }
    })
}

/// The elements of an array column as f32.
fn array(
    tuple: &Tuple,
    attno: NonZeroUsize,
    typ: pg_sys::Oid,
    name: &str,
) -> Result<Option<Vec<Option<f32>>>> {
    macro_rules! elements {
        ($t:ty, $convert:expr) => {
            tuple
                .get_by_index::<Array<$t>>(attno)
                .map_err(|e| {
                    mismatch(format!("column \"{name}\" of the row cannot be read as a feature: {e}"))
                })?
                .map(|a| a.iter().map(|e| e.map($convert)).collect())
        };
    }
    Ok(match typ {
        pg_sys::FLOAT4ARRAYOID => elements!(f32, |v| v),
        pg_sys::FLOAT8ARRAYOID => elements!(f64, |v| v as f32),
        pg_sys::INT2ARRAYOID => elements!(i16, f32::from),
        pg_sys::INT4ARRAYOID => elements!(i32, |v| v as f32),
        pg_sys::INT8ARRAYOID => elements!(i64, |v| v as f32),
        pg_sys::BOOLARRAYOID => elements!(bool, |v| if v { 1.0 } else { 0.0 }),
        other => {
            return Err(mismatch(format!(
                "column \"{name}\" of the row has type {}, which cannot be an array feature",
                type_name(other)
            )))
        }
    })
}
