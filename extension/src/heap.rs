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

    /// The float4 of the value of this type at `at`: in a tuple, or in a by-value datum (whose
    /// first bytes are its value on a little-endian machine).
    ///
    /// SAFETY: `at` points to a value of this type.
    #[inline(always)]
    unsafe fn read(self, at: *const u8, field: &Field) -> Result<f32> {
        Ok(match self {
            Number::Float4 => at.cast::<f32>().read_unaligned(),
            Number::Float8 => {
                let wide = at.cast::<f64>().read_unaligned();
                let v = wide as f32;
                // float8's cast to float4 refuses what float4 cannot hold, as PostgreSQL's does
                if (v.is_infinite() && wide.is_finite()) || (v == 0.0 && wide != 0.0) {
                    return Err(out_of_range(wide, field));
                }
                v
            }
            Number::Int2 => at.cast::<i16>().read_unaligned() as f32,
            Number::Int4 => at.cast::<i32>().read_unaligned() as f32,
            Number::Int8 => at.cast::<i64>().read_unaligned() as f32,
            Number::Bool => (*at != 0) as u8 as f32,
        })
    }
}

// `Number::read` takes a datum's value from its first bytes
const _: () = assert!(cfg!(target_endian = "little"), "heap.rs reads datums as little-endian");

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
            Some(fields) => scan(rel, &fields, row),
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
    // each attribute's type and offset in a row without NULLs
    let mut placed = Vec::with_capacity(attributes.len());
    let mut offset = 0usize;
    for a in attributes {
        let number = Number::of(a.atttypid).filter(|_| !a.attisdropped && a.attbyval && a.attlen > 0)?;
        let align = match a.attalign as u8 {
            b'c' => 1,
            b's' => 2,
            b'i' => 4,
            _ => 8,
        };
        offset = offset.next_multiple_of(align);
        placed.push((number, offset));
        offset += a.attlen as usize;
    }
    order
        .iter()
        .map(|&(i, boolean)| {
            let (number, offset) = *placed.get(i).filter(|(n, _)| matches!(n, Number::Bool) == boolean)?;
            Some(Field {
                attribute: i,
                offset,
                number,
                name: CStr::from_ptr(attributes[i].attname.data.as_ptr()).to_string_lossy().into_owned(),
            })
        })
        .collect()
}

/// Scans `rel` in its physical order from the first page (never joining another scan
/// midway, so the same table always gives the same rows in the same order). Page by page, as
/// the executor's scan does it (`heapgetpage` pins a page and lists its visible tuples), but
/// each page's tuples are walked here, the ones AHEAD asked for before they are read.
/// `Ok(false)`, having read nothing, without an MVCC snapshot (no page-at-a-time scan).
///
/// SAFETY: `rel` is open and `fields` is its `layout`.
unsafe fn scan(rel: pg_sys::Relation, fields: &[Field], row: &mut RowHandler) -> Result<bool> {
    const AHEAD: usize = 4;
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
    let heap = scan.cast::<pg_sys::HeapScanDescData>();
    if (*heap).rs_base.rs_flags & pg_sys::ScanOptions::SO_ALLOW_PAGEMODE == 0 {
        pg_sys::heap_endscan(scan);
        return Ok(false);
    }
    let mut rows = Converter::new(rel, fields);
    let mut read = || -> Result<()> {
        for block in 0..(*heap).rs_nblocks {
            pgrx::check_for_interrupts!();
            pg_sys::heapgetpage(scan, block);
            let page = pg_sys::BufferGetPage((*heap).rs_cbuf);
            // the page's visible tuples, listed by heapgetpage (copied: the scan owns the list)
            let listed = (*heap).rs_vistuples;
            let visible = &listed[..(*heap).rs_ntuples as usize];
            // counted in the table's statistics (seq_tup_read) as heap_getnext counts them
            let stats = (*rel).pgstat_info;
            if !stats.is_null() {
                (*stats).t_counts.t_tuples_returned += visible.len() as i64;
            }
            let header = |offset: u16| pg_sys::PageGetItem(page, pg_sys::PageGetItemId(page, offset));
            for (i, &offset) in visible.iter().enumerate() {
                if let Some(&ahead) = visible.get(i + AHEAD) {
                    prefetch(header(ahead).cast());
                }
                let item = pg_sys::PageGetItemId(page, offset);
                let mut tuple = pg_sys::HeapTupleData {
                    t_len: (*item).lp_len(),
                    t_self: pg_sys::ItemPointerData {
                        ip_blkid: pg_sys::BlockIdData { bi_hi: (block >> 16) as u16, bi_lo: block as u16 },
                        ip_posid: offset,
                    },
                    t_tableOid: (*rel).rd_id,
                    t_data: header(offset).cast(),
                };
                let (values, nulls) = rows.convert(&mut tuple)?;
                row(values, nulls)?;
            }
        }
        Ok(())
    };
    let done = read();
    pg_sys::heap_endscan(scan);
    done.map(|()| true)
}

/// Turns a table's tuples into the float4 datums and NULL flags of the fields read.
struct Converter<'a> {
    fields: &'a [Field],
    desc: pg_sys::TupleDesc,
    natts: usize,
    /// Every field is a real: its bytes are the float4 datum's.
    all_real: bool,
    values: Vec<pg_sys::Datum>,
    nulls: Vec<bool>,
    all_values: Vec<pg_sys::Datum>,
    all_nulls: Vec<bool>,
}

impl<'a> Converter<'a> {
    /// SAFETY: `rel` is open and `fields` is its `layout`.
    unsafe fn new(rel: pg_sys::Relation, fields: &'a [Field]) -> Converter<'a> {
        let desc = (*rel).rd_att;
        let natts = (*desc).natts as usize;
        let zero = pg_sys::Datum::from(0usize);
        Converter {
            fields,
            desc,
            natts,
            all_real: fields.iter().all(|f| matches!(f.number, Number::Float4)),
            values: vec![zero; fields.len()],
            nulls: vec![false; fields.len()],
            all_values: vec![zero; natts],
            all_nulls: vec![false; natts],
        }
    }

    /// SAFETY: `tuple` is a tuple of the relation, on a pinned page.
    unsafe fn convert(&mut self, tuple: &mut pg_sys::HeapTupleData) -> Result<(&[pg_sys::Datum], &[bool])> {
        let header = tuple.t_data;
        let whole = (*header).t_infomask as u32 & pg_sys::HEAP_HASNULL == 0
            && (*header).t_infomask2 as usize & pg_sys::HEAP_NATTS_MASK as usize == self.natts;
        if whole && self.all_real {
            // the common case, without a conversion to choose per value
            let data = header.cast::<u8>().add((*header).t_hoff as usize);
            for (value, f) in self.values.iter_mut().zip(self.fields) {
                *value = pg_sys::Datum::from(data.add(f.offset).cast::<u32>().read_unaligned() as usize);
            }
            self.nulls.fill(false);
        } else if whole {
            // every value at its fixed offset from the tuple's data
            let data = header.cast::<u8>().add((*header).t_hoff as usize);
            for (k, f) in self.fields.iter().enumerate() {
                self.values[k] = float4_datum(f.number.read(data.add(f.offset), f)?);
                self.nulls[k] = false;
            }
        } else {
            // NULLs, or a row older than an added column: deformed, missing values filled in
            pg_sys::heap_deform_tuple(
                tuple,
                self.desc,
                self.all_values.as_mut_ptr(),
                self.all_nulls.as_mut_ptr(),
            );
            for (k, f) in self.fields.iter().enumerate() {
                self.nulls[k] = self.all_nulls[f.attribute];
                if !self.nulls[k] {
                    let datum = &self.all_values[f.attribute] as *const pg_sys::Datum;
                    self.values[k] = float4_datum(f.number.read(datum.cast(), f)?);
                }
            }
        }
        Ok((&self.values, &self.nulls))
    }
}

/// Asks for the cache line at `at` (a hint: nothing is read, nothing can fault).
#[inline]
fn prefetch(at: *const i8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

fn float4_datum(v: f32) -> pg_sys::Datum {
    pg_sys::Datum::from(v.to_bits() as usize)
}
