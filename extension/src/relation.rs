//! Reading a training relation into a feature matrix. Names resolve as SQL would
//! (`to_regclass`, search_path) and reach the query only as quoted identifiers.

use crate::error::{Result, SqlError};
use crate::heap;
use crate::scratch::Scratch;
use crate::store::first_row;
pub use pgml_core::data::schema::{FeatureColumn as Column, FeatureKind as Kind};
use pgml_core::data::{table_buffer, Matrix};
use pgml_core::Task;
use pgrx::prelude::*;
use pgrx::{FromDatum, PgSqlErrorCode};

/// The training data read from a relation.
pub struct Data {
    /// The relation as a quoted, schema-qualified name.
    pub qualified: String,
    pub columns: Vec<Column>,
    pub x: Matrix,
    pub y: Vec<f32>,
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Resolves a relation name to its quoted, schema-qualified form and its oid.
fn resolve(relation_name: &str) -> Result<(pg_sys::Oid, String)> {
    let row = first_row(
        "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = to_regclass($1)",
        &[relation_name.into()],
        |r| {
            Ok((
                r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::InvalidOid),
                r.get::<String>(2)?.unwrap_or_default(),
            ))
        },
    )?;
    row.ok_or_else(|| {
        SqlError::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
            format!("relation \"{relation_name}\" does not exist"),
        )
        .hint("name a table or view visible on the search_path, or qualify it with its schema")
    })
}

/// A relation's quoted, schema-qualified name, so a stored name keeps meaning the same
/// relation whatever the search_path of a later session.
pub fn qualified_name(relation_name: &str) -> Result<String> {
    resolve(relation_name).map(|(_, name)| name)
}

/// (name, type, element type category) of each column, in attribute order.
fn attributes(oid: pg_sys::Oid) -> Result<Vec<(String, String, String, bool)>> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
                    COALESCE(et.typcategory, t.typcategory)::text, t.typcategory = 'A'
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            None,
            &[oid.into()],
        )?;
        t.map(|r| {
            Ok((
                r.get(1)?.unwrap_or_default(),
                r.get(2)?.unwrap_or_default(),
                r.get(3)?.unwrap_or_default(),
                r.get(4)?.unwrap_or(false),
            ))
        })
        .collect()
    })
}

/// Classifies a column by its type category (N numeric, B boolean, S string).
fn kind_of(name: &str, pg_type: &str, category: &str, is_array: bool) -> Result<Kind> {
    match (category, is_array) {
        ("N", false) => Ok(Kind::Numeric),
        ("B", false) => Ok(Kind::Boolean),
        ("N" | "B", true) => Ok(Kind::Array),
        ("S", false) => Ok(Kind::Categorical),
        _ => Err(SqlError::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("column \"{name}\" has type {pg_type}, which cannot be used as a feature"),
        )
        .hint("features are numeric, boolean, arrays of those, or text; train from a view that leaves the column out or casts it")),
    }
}

/// The SQL expression reading a column (a feature's, or a label's).
fn column_expr(col: &Column) -> String {
    let q = quote_ident(&col.name);
    match col.kind {
        Kind::Numeric => format!("{q}::float4"),
        Kind::Boolean => format!("{q}::int::float4"),
        Kind::Array if col.pg_type.starts_with("boolean") => format!("{q}::int[]::float4[]"),
        Kind::Array => format!("{q}::float4[]"),
        Kind::Categorical => format!("{q}::text"),
    }
}

/// Reads the relation: every column but the label is a feature, in attribute order. NULLs of
/// the `imputed` columns become missing values (NaN) for preprocessing to fill; NULLs anywhere
/// else are refused.
pub fn read(relation_name: &str, labels: &[String], task: Task, imputed: &[String]) -> Result<Data> {
    let (oid, qualified) = resolve(relation_name)?;
    let attrs = attributes(oid)?;
    // each label, read as a feature of its kind is: a number, or a boolean as 0 and 1
    let mut label_columns = Vec::with_capacity(labels.len());
    for label in labels {
        let (_, pg_type, category, is_array) = attrs.iter().find(|a| &a.0 == label).ok_or_else(|| {
            SqlError::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                format!("column \"{label}\" does not exist in relation {qualified}"),
            )
            .hint(format!(
                "the relation's columns are: {}",
                attrs.iter().map(|a| a.0.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let kind = match (category.as_str(), is_array) {
            ("N", false) => Kind::Numeric,
            ("B", false) => Kind::Boolean,
            _ => {
                return Err(SqlError::new(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    format!(
                        "label column \"{label}\" has type {pg_type}; a {} label must be numeric or boolean",
                        task.name()
                    ),
                ))
            }
        };
        label_columns.push(Column {
            name: label.clone(),
            pg_type: pg_type.clone(),
            kind,
            size: 1,
            levels: vec![],
        });
    }
    let mut columns = Vec::new();
    for (name, pg_type, category, is_array) in attrs.iter().filter(|a| !labels.contains(&a.0)) {
        let kind = kind_of(name, pg_type, category, *is_array)?;
        columns.push(Column { name: name.clone(), pg_type: pg_type.clone(), kind, size: 1, levels: vec![] });
    }
    if columns.is_empty() {
        return Err(SqlError::new(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("relation {qualified} has no feature columns besides the label"),
        ));
    }
    // the columns read: the features, then the labels
    let read: Vec<Column> = columns.iter().cloned().chain(label_columns).collect();
    let read_rows = |row: &mut RowHandler| each_row(oid, &qualified, &attrs, &read, row);
    let (x, y) = load_rows(read_rows, &mut columns, labels, imputed, estimated_rows(oid)?)?;
    if y.is_empty() && x.is_empty() {
        return Err(SqlError::new(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("relation {qualified} has no rows"),
        )
        .hint("a training needs at least 2 rows"));
    }
    let width: usize = columns.iter().map(|c| c.size).sum();
    let x = Matrix::new(x, width)?;
    Ok(Data { qualified, columns, x, y })
}

/// The planner's row count estimate of a table (0 for a view or a never-analysed table).
fn estimated_rows(oid: pg_sys::Oid) -> Result<usize> {
    let n = first_row("SELECT reltuples::float8 FROM pg_class WHERE oid = $1", &[oid.into()], |r| {
        Ok(r.get::<f64>(1)?.unwrap_or(0.0))
    })?;
    Ok(n.unwrap_or(0.0).clamp(0.0, 100_000_000.0) as usize)
}

fn ragged_array(column: &str, len: usize, row_no: usize, size: usize) -> SqlError {
    SqlError::new(
        PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        format!(
            "array column \"{column}\" has {len} elements in row {} but {size} in the first row",
            row_no + 1
        ),
    )
}

fn null_error(column: &str, label: bool) -> SqlError {
    SqlError::new(
        PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        format!("{} \"{column}\" contains NULL", if label { "label column" } else { "feature column" }),
    )
    .hint(format!("train from a view that filters the NULLs out: WHERE \"{column}\" IS NOT NULL, or fills them with COALESCE"))
}

/// Reads the rows (`read_rows` hands each to its handler) and flattens them; categorical
/// columns get their levels here.
fn load_rows(
    read_rows: impl FnOnce(&mut RowHandler) -> Result<()>,
    columns: &mut [Column],
    labels: &[String],
    imputed: &[String],
    estimated_rows: usize,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let scalar = !detoasts(columns);
    let mut rows = Rows {
        scalar,
        nullable: columns.iter().map(|c| imputed.contains(&c.name)).collect(),
        raw_text: vec![Vec::new(); columns.len()],
        // sized once from the planner's estimate: growing by doubling would peak at twice the data
        x: table_buffer(estimated_rows * columns.len()),
        y: Vec::with_capacity(estimated_rows * labels.len()),
        columns,
        labels,
        row_no: 0,
    };
    read_rows(&mut |values, nulls| rows.push(values, nulls))?;
    let Rows { raw_text, mut x, y, .. } = rows;
    encode_categoricals(columns, &raw_text, &mut x);
    Ok((x, y))
}

/// Whether reading these columns detoasts values (arrays, text): every other feature is one
/// float4, passed by value.
fn detoasts(columns: &[Column]) -> bool {
    columns.iter().any(|c| matches!(c.kind, Kind::Array | Kind::Categorical))
}

/// Hands each row of `columns` of the relation `oid` (named `qualified`, whose attributes are
/// `attrs`) to `row`, each value cast as `column_expr` casts it: a plain table of numbers read
/// from its pages, any other relation by the query `SELECT <column_expr>, … FROM qualified`.
fn each_row(
    oid: pg_sys::Oid,
    qualified: &str,
    attrs: &[(String, String, String, bool)],
    columns: &[Column],
    row: &mut RowHandler,
) -> Result<()> {
    let detoasting = detoasts(columns);
    let fields: Option<Vec<(usize, bool)>> = columns
        .iter()
        .map(|c| Some((attrs.iter().position(|a| a.0 == c.name)?, c.kind == Kind::Boolean)))
        .collect();
    match fields {
        Some(fields) if !detoasting && heap::for_each_row(oid, &fields, row)? => Ok(()),
        _ => {
            let exprs: Vec<String> = columns.iter().map(column_expr).collect();
            for_each_row(&format!("SELECT {} FROM {qualified}", exprs.join(", ")), detoasting, row)
        }
    }
}

/// A float4 datum's value.
fn float4(datum: &pg_sys::Datum) -> f32 {
    f32::from_bits(datum.value() as u32)
}

/// Runs a query and hands each row's values to `row` as the executor produces it: SPI's own
/// receiver would copy every row into a tuple table first, and hold them all. `detoasts`:
/// `row` reads array or text values, whose copies go into a memory context reset after each
/// row. The first error stops the query and is returned.
fn for_each_row(query: &str, detoasts: bool, row: &mut RowHandler) -> Result<()> {
    let query = std::ffi::CString::new(query)
        .map_err(|_| SqlError::invalid("a relation or column name contains a NUL character"))?;
    let mut sink = Sink { row, scratch: detoasts.then(|| Scratch::new("pgml row")), error: None };
    let mut receiver = Receiver {
        base: pg_sys::DestReceiver {
            receiveSlot: Some(receive_row),
            rStartup: Some(startup),
            rShutdown: Some(shutdown),
            rDestroy: Some(shutdown),
            mydest: pg_sys::CommandDest::DestNone,
        },
        sink: (&mut sink as *mut Sink).cast(),
    };
    let options =
        pg_sys::SPIExecuteOptions { read_only: true, dest: &mut receiver.base, ..Default::default() };
    Spi::connect(|_| {
        // SAFETY: SPI is connected; `receiver` and the `sink` it points to outlive the call.
        let code = unsafe { pg_sys::SPI_execute_extended(query.as_ptr(), &options) };
        // (a SELECT into a receiver of kind DestNone reports SPI_OK_UTILITY; failures are < 0)
        if code < 0 {
            return Err(SqlError::new(
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("reading the relation's rows failed (SPI code {code})"),
            ));
        }
        Ok(())
    })?;
    sink.error.map_or(Ok(()), Err)
}

/// A DestReceiver handing rows to a `Sink`.
#[repr(C)]
struct Receiver {
    base: pg_sys::DestReceiver,
    sink: *mut std::ffi::c_void,
}

/// What `for_each_row` does with a row: its values and NULL flags.
pub type RowHandler<'a> = dyn FnMut(&[pg_sys::Datum], &[bool]) -> Result<()> + 'a;

struct Sink<'a> {
    row: &'a mut RowHandler<'a>,
    scratch: Option<Scratch>,
    error: Option<SqlError>,
}

#[pg_guard]
unsafe extern "C-unwind" fn receive_row(
    slot: *mut pg_sys::TupleTableSlot,
    receiver: *mut pg_sys::DestReceiver,
) -> bool {
    // SAFETY: `receiver` is the `Receiver` of `for_each_row`, whose `sink` is live for the
    // query; the slot holds one row of the query, every column deformed below.
    unsafe {
        let sink = &mut *(*receiver.cast::<Receiver>()).sink.cast::<Sink>();
        pg_sys::slot_getallattrs(slot);
        let n = (*(*slot).tts_tupleDescriptor).natts as usize;
        let values = std::slice::from_raw_parts((*slot).tts_values, n);
        let nulls = std::slice::from_raw_parts((*slot).tts_isnull, n);
        let row = &mut sink.row;
        let done = match &mut sink.scratch {
            None => row(values, nulls),
            Some(scratch) => scratch.run(|| row(values, nulls)),
        };
        match done {
            Ok(()) => true,
            Err(e) => {
                sink.error = Some(e);
                false // stops the executor
            }
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn startup(
    _receiver: *mut pg_sys::DestReceiver,
    _operation: std::ffi::c_int,
    _desc: pg_sys::TupleDesc,
) {
}

#[pg_guard]
unsafe extern "C-unwind" fn shutdown(_receiver: *mut pg_sys::DestReceiver) {}

/// The rows read so far, flattened; the first error stops the read.
struct Rows<'a> {
    columns: &'a mut [Column],
    labels: &'a [String],
    /// Every feature is one float4 (numbers and booleans): a row without NULLs is copied
    /// whole, and nothing is detoasted (no per-row context).
    scalar: bool,
    nullable: Vec<bool>,
    raw_text: Vec<Vec<Option<String>>>,
    x: Vec<f32>,
    y: Vec<f32>,
    row_no: usize,
}

impl Rows<'_> {
    fn missing(&self, i: usize) -> Result<f32> {
        if self.nullable[i] {
            Ok(f32::NAN)
        } else {
            Err(null_error(&self.columns[i].name, false))
        }
    }

    /// One row: the feature columns' values (cast to float4, float4[] or text by the query),
    /// then the labels'.
    fn push(&mut self, values: &[pg_sys::Datum], nulls: &[bool]) -> Result<()> {
        if self.scalar && !nulls.contains(&true) {
            let (features, labels) = values.split_at(self.columns.len());
            self.x.extend(features.iter().map(float4));
            self.y.extend(labels.iter().map(float4));
            self.row_no += 1;
            return Ok(());
        }
        let float = |i: usize| if nulls[i] { None } else { Some(float4(&values[i])) };
        for i in 0..self.columns.len() {
            match self.columns[i].kind {
                Kind::Numeric | Kind::Boolean => {
                    let v = match float(i) {
                        Some(v) => v,
                        None => self.missing(i)?,
                    };
                    self.x.push(v);
                }
                Kind::Array => {
                    // SAFETY: a float4[] datum of this row
                    let array: Vec<Option<f32>> = unsafe { FromDatum::from_datum(values[i], nulls[i]) }
                        .ok_or_else(|| null_error(&self.columns[i].name, false))?;
                    let col = &mut self.columns[i];
                    if self.row_no == 0 {
                        col.size = array.len();
                    } else if array.len() != col.size {
                        return Err(ragged_array(&col.name, array.len(), self.row_no, col.size));
                    }
                    for v in array {
                        let v = match v {
                            Some(v) => v,
                            None => self.missing(i)?,
                        };
                        self.x.push(v);
                    }
                }
                Kind::Categorical => {
                    // SAFETY: a text datum of this row
                    let v: Option<String> = unsafe { FromDatum::from_datum(values[i], nulls[i]) };
                    if v.is_none() {
                        self.missing(i)?;
                    }
                    self.raw_text[i].push(v);
                    self.x.push(f32::NAN); // encoded below, once the levels are known
                }
            }
        }
        for (k, label) in self.labels.iter().enumerate() {
            let v = float(self.columns.len() + k).ok_or_else(|| null_error(label, true))?;
            self.y.push(v);
        }
        self.row_no += 1;
        Ok(())
    }
}

/// Replaces the placeholders of categorical columns by level codes (a NULL stays missing).
fn encode_categoricals(columns: &mut [Column], raw_text: &[Vec<Option<String>>], x: &mut [f32]) {
    let width: usize = columns.iter().map(|c| c.size).sum();
    let mut offset = 0;
    for (i, col) in columns.iter_mut().enumerate() {
        if col.kind == Kind::Categorical {
            let mut levels: Vec<String> = raw_text[i].iter().flatten().cloned().collect();
            levels.sort();
            levels.dedup();
            for (row, v) in raw_text[i].iter().enumerate() {
                if let Some(v) = v {
                    x[row * width + offset] = levels.binary_search(v).unwrap_or(0) as f32;
                }
            }
            col.levels = levels;
        }
        offset += col.size;
    }
}

/// One feature's current values: numbers (NaN = missing) or category text (None = missing).
pub enum CurrentFeature {
    Numeric(Vec<f32>),
    Categorical(Vec<Option<String>>),
}

impl CurrentFeature {
    /// Appends a number of a numeric feature; a missing one is NaN.
    fn push_number(&mut self, v: Option<f32>) {
        if let CurrentFeature::Numeric(out) = self {
            out.push(v.unwrap_or(f32::NAN));
        }
    }
}

/// A model's features read from any relation that has the training columns (found by name).
/// Unlike training, NULLs are kept: drift reports them as missing values.
pub struct CurrentData {
    pub rows: usize,
    /// One per flattened feature, in the model's feature order.
    pub features: Vec<CurrentFeature>,
}

pub fn read_current(relation_name: &str, schema: &[Column]) -> Result<CurrentData> {
    let (oid, qualified) = resolve(relation_name)?;
    let attrs = attributes(oid)?;
    if let Some(col) = schema.iter().find(|c| !attrs.iter().any(|a| a.0 == c.name)) {
        return Err(SqlError::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            format!("relation {qualified} has no column \"{}\", which the model was trained on", col.name),
        ));
    }
    let mut features: Vec<CurrentFeature> = schema
        .iter()
        .flat_map(|c| {
            (0..c.size).map(move |_| match c.kind {
                Kind::Categorical => CurrentFeature::Categorical(Vec::new()),
                _ => CurrentFeature::Numeric(Vec::new()),
            })
        })
        .collect();
    let mut rows = 0;
    each_row(oid, &qualified, &attrs, schema, &mut |values, nulls| {
        rows += 1;
        let mut f = 0;
        for (i, col) in schema.iter().enumerate() {
            match col.kind {
                Kind::Categorical => {
                    if let CurrentFeature::Categorical(out) = &mut features[f] {
                        // SAFETY: a text datum of this row
                        out.push(unsafe { FromDatum::from_datum(values[i], nulls[i]) });
                    }
                    f += 1;
                }
                Kind::Array => {
                    // SAFETY: a float4[] datum of this row; a shorter array's missing elements
                    // and a NULL array are missing values
                    let array: Option<Vec<Option<f32>>> =
                        unsafe { FromDatum::from_datum(values[i], nulls[i]) };
                    for e in 0..col.size {
                        features[f].push_number(array.as_ref().and_then(|a| a.get(e).copied().flatten()));
                        f += 1;
                    }
                }
                Kind::Numeric | Kind::Boolean => {
                    features[f].push_number((!nulls[i]).then(|| float4(&values[i])));
                    f += 1;
                }
            }
        }
        Ok(())
    })?;
    Ok(CurrentData { rows, features })
}
