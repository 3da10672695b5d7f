//! Reading a plain table of fixed-width numbers straight from its heap pages: each row's values
//! are taken from the tuple at their known offsets, with no query, executor or slot between
//! the page and the training (the executor's scan cost as much as a least-squares fit). A
//! relation this cannot read — a view, a partitioned or inherited table, a column of another
//! type, a table whose rows the caller may only see through column privileges or row-level
//! security — is left to a query, which applies all of that.

use crate::error::{Result, SqlError};
use crate::relation::RowHandler;
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use std::ffi::CStr;

/// A column's type, and how its value becomes the float4 that the query's `::float4` (or a
/// boolean's `::int::float4`) makes of it.
#[derive(Clone, Copy)]
enum Number {
    Float4,
    Float8,
    Int2,
    Int4,
    Int8,
    Bool,
}

impl Number {
    fn of(type_oid: pg_sys::Oid) -> Option<Number> {
        Some(match type_oid {
            pg_sys::FLOAT4OID => Number::Float4,
            pg_sys::FLOAT8OID => Number::Float8,
            pg_sys::INT2OID => Number::Int2,
            pg_sys::INT4OID => Number::Int4,
            pg_sys::INT8OID => Number::Int8,
            pg_sys::BOOLOID => Number::Bool,
            _ => return None,
        })
    }

    /// The raw value at `at` in a tuple: the low bytes of a by-value datum of this type.
    ///
    /// SAFETY: `at` points to a value of this type.
    #[inline]
    unsafe fn raw(self, at: *const u8) -> u64 {
        match self {
            Number::Bool => *at as u64,
            Number::Int2 => at.cast::<u16>().read_unaligned() as u64,
            Number::Float4 | Number::Int4 => at.cast::<u32>().read_unaligned() as u64,
            Number::Float8 | Number::Int8 => at.cast::<u64>().read_unaligned(),
        }
    }

    /// The float4 of a raw value (`raw`'s).
    #[inline]
    fn value(self, raw: u64, field: &Field) -> Result<f32> {
        Ok(match self {
            Number::Float4 => f32::from_bits(raw as u32),
            Number::Float8 => {
                let wide = f64::from_bits(raw);
                let v = wide as f32;
                // float8's cast to float4 refuses what float4 cannot hold, as PostgreSQL's does
                if (v.is_infinite() && wide.is_finite()) || (v == 0.0 && wide != 0.0) {
                    return Err(out_of_range(wide, field));
                }
                v
            }
            Number::Int2 => raw as u16 as i16 as f32,
            Number::Int4 => raw as u32 as i32 as f32,
            Number::Int8 => raw as i64 as f32,
            Number::Bool => (raw as u8 != 0) as u8 as f32,
        })
    }
}

#[cold]
fn out_of_range(value: f64, field: &Field) -> SqlError {
    SqlError::new(
        PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        format!("value {value:e} of column \"{}\" is out of range for type real", field.name),
    )
    .hint("features and labels are read as real (float4); train from a view that scales the column")
}

/// A column read: its attribute, where its value lies in a row without NULLs, its type.
struct Field {
    attribute: usize,
    offset: usize,
    number: Number,
    name: String,
}

/// Hands every row of the table `oid` to `row`, as the query `SELECT a1::float4, …` of the
/// attributes `order` would: float4 datums and NULL flags. Each is (0-based attribute number,
/// whether it is read as a boolean, `::int::float4`). `Ok(false)`, having read nothing, when
/// the table must be read by a query instead (a column of another type included).
pub fn for_each_row(oid: pg_sys::Oid, order: &[(usize, bool)], row: &mut RowHandler) -> Result<bool> {
    // SAFETY: a transaction is open (we are called from SQL); the relation is opened and
    // locked before its descriptor is read, and closed on every path below.
    unsafe {
        if !pg_sys::ActiveSnapshotSet()
            || pg_sys::pg_class_aclcheck(oid, pg_sys::GetUserId(), pg_sys::ACL_SELECT)
                != pg_sys::AclResult::ACLCHECK_OK
            || pg_sys::check_enable_rls(oid, pg_sys::InvalidOid, true)
                == pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32
        {
            return Ok(false);
        }
        let rel = pg_sys::table_open(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let read = match layout(rel, order) {
            Some(fields) => scan(rel, &fields, row).map(|()| true),
            None => Ok(false),
        };
        // the lock is kept to the end of the transaction, as a query's would be
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        read
    }
}

/// The fields `order` of a plain heap table with no subtables whose every attribute is a live
/// fixed-width number; None for any other relation.
///
/// SAFETY: `rel` is open.
unsafe fn layout(rel: pg_sys::Relation, order: &[(usize, bool)]) -> Option<Vec<Field>> {
    let class = &*(*rel).rd_rel;
    if class.relkind as u8 != pg_sys::RELKIND_RELATION
        || class.relam != pg_sys::HEAP_TABLE_AM_OID
        || class.relhassubclass
    {
        return None;
    }
    let desc = &*(*rel).rd_att;
    let attributes = desc.attrs.as_slice(desc.natts as usize);
    let mut offsets = Vec::with_capacity(attributes.len());
    let mut offset = 0usize;
    for a in attributes {
        Number::of(a.atttypid).filter(|_| !a.attisdropped && a.attbyval && a.attlen > 0)?;
        let align = match a.attalign as u8 {
            b'c' => 1,
            b's' => 2,
            b'i' => 4,
            _ => 8,
        };
        offset = offset.next_multiple_of(align);
        offsets.push(offset);
        offset += a.attlen as usize;
    }
    order
        .iter()
        .map(|&(i, boolean)| {
            let a = attributes.get(i)?;
            let number = Number::of(a.atttypid).filter(|n| matches!(n, Number::Bool) == boolean)?;
            Some(Field {
                attribute: i,
                offset: offsets[i],
                number,
                name: CStr::from_ptr(a.attname.data.as_ptr()).to_string_lossy().into_owned(),
            })
        })
        .collect()
}

/// Scans `rel` in its physical order from the first page (never joining another scan
/// midway, so the same table always gives the same rows in the same order).
///
/// SAFETY: `rel` is open and `fields` is its `layout`.
unsafe fn scan(rel: pg_sys::Relation, fields: &[Field], row: &mut RowHandler) -> Result<()> {
    let flags = pg_sys::ScanOptions::SO_TYPE_SEQSCAN
        | pg_sys::ScanOptions::SO_ALLOW_STRAT
        | pg_sys::ScanOptions::SO_ALLOW_PAGEMODE;
    let scan = pg_sys::heap_beginscan(
        rel,
        pg_sys::GetActiveSnapshot(),
        0,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        flags,
    );
    let desc = (*rel).rd_att;
    let natts = (*desc).natts as usize;
    let (mut values, mut nulls) =
        (vec![pg_sys::Datum::from(0usize); fields.len()], vec![false; fields.len()]);
    let (mut all_values, mut all_nulls) = (vec![pg_sys::Datum::from(0usize); natts], vec![false; natts]);
    let mut read = || -> Result<()> {
        for n in 0usize.. {
            if n % 4096 == 0 {
                pgrx::check_for_interrupts!();
            }
            let tuple = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tuple.is_null() {
                return Ok(());
            }
            let header = (*tuple).t_data;
            let whole = (*header).t_infomask as u32 & pg_sys::HEAP_HASNULL == 0
                && (*header).t_infomask2 as usize & pg_sys::HEAP_NATTS_MASK as usize == natts;
            if whole {
                // every value at its fixed offset from the tuple's data
                let data = header.cast::<u8>().add((*header).t_hoff as usize);
                for (k, f) in fields.iter().enumerate() {
                    let raw = f.number.raw(data.add(f.offset));
                    values[k] = float4_datum(f.number.value(raw, f)?);
                }
            } else {
                // NULLs, or a row older than an added column: deformed, missing values filled in
                pg_sys::heap_deform_tuple(tuple, desc, all_values.as_mut_ptr(), all_nulls.as_mut_ptr());
                for (k, f) in fields.iter().enumerate() {
                    nulls[k] = all_nulls[f.attribute];
                    if !nulls[k] {
                        values[k] = float4_datum(f.number.value(all_values[f.attribute].value() as u64, f)?);
                    }
                }
            }
            row(&values, &nulls)?;
            if !whole {
                nulls.iter_mut().for_each(|n| *n = false);
            }
        }
        Ok(())
    };
    let done = read();
    pg_sys::heap_endscan(scan);
    done
}

fn float4_datum(v: f32) -> pg_sys::Datum {
    pg_sys::Datum::from(v.to_bits() as usize)
}
