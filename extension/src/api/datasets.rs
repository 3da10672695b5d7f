//! `pgml.load_dataset`: the scikit-learn toy datasets, shipped in the repository
//! (datasets/*.csv) and compiled into the extension, so nothing is downloaded.

use crate::error::{OrRaise, Result, SqlError};
use crate::privilege::as_owner;
use crate::store::execute;
use pgrx::prelude::*;
use pgrx::JsonB;

const DATASETS: &[(&str, &str)] = &[
    ("iris", include_str!("../../../datasets/iris.csv")),
    ("breast_cancer", include_str!("../../../datasets/breast_cancer.csv")),
    ("digits", include_str!("../../../datasets/digits.csv")),
    ("diabetes", include_str!("../../../datasets/diabetes.csv")),
    ("wine", include_str!("../../../datasets/wine.csv")),
    ("linnerud", include_str!("../../../datasets/linnerud.csv")),
    // Headlines written for pgml-rs, labelled 1 for clickbait: the text workflow's example.
    ("clickbait", include_str!("../../../datasets/clickbait.csv")),
];

/// Rows per INSERT statement.
const BATCH: usize = 500;

#[pg_extern]
fn load_dataset(
    source: &str,
    subset: default!(Option<&str>, "NULL"),
    limit: default!(Option<i64>, "NULL"),
    kwargs: default!(JsonB, "'{}'"),
) -> TableIterator<'static, (name!(table_name, String), name!(rows, i64))> {
    let _ = (subset, kwargs);
    load(source, limit).or_raise()
}

/// PostgresML's column types: labels are integers (booleans for breast_cancer), digits'
/// image is an 8×8 smallint array, clickbait's title text, everything else real.
fn column_type(dataset: &str, column: &str) -> &'static str {
    match (dataset, column) {
        ("breast_cancer", "malignant") => "BOOLEAN",
        ("digits", "image") => "SMALLINT[][]",
        ("clickbait", "title") => "TEXT",
        ("diabetes", "target") => "REAL",
        (_, "target") => "INTEGER",
        _ => "REAL",
    }
}

fn load(
    source: &str,
    limit: Option<i64>,
) -> Result<TableIterator<'static, (name!(table_name, String), name!(rows, i64))>> {
    let (name, csv) = DATASETS.iter().find(|(n, _)| *n == source).ok_or_else(|| {
        // PostgresML downloads any other name from Hugging Face
        SqlError::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!(
                "dataset \"{source}\" is not built in, and pgml-rs does not download Hugging Face datasets"
            ),
        )
        .hint(format!(
            "built-in datasets: {}; load other data into a table with COPY",
            DATASETS.iter().map(|d| d.0).collect::<Vec<_>>().join(", ")
        ))
    })?;
    if limit.is_some_and(|l| l < 0) {
        return Err(SqlError::invalid(format!(
            "limit must not be negative, got {}",
            limit.unwrap_or_default()
        )));
    }
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let table = format!("pgml.{name}");
    let columns: Vec<String> = header
        .iter()
        .map(|c| format!("{} {}", crate::relation::quote_ident(c), column_type(name, c)))
        .collect();
    let rows: Vec<&str> = lines.take(limit.map_or(usize::MAX, |l| l as usize)).collect();
    // The tables live in the extension's schema, which only its owner may create in; every
    // pgml role may read them.
    as_owner(|| {
        execute(&format!("DROP TABLE IF EXISTS {table}"), &[])?;
        execute(&format!("CREATE TABLE {table} ({})", columns.join(", ")), &[])?;
        for chunk in rows.chunks(BATCH) {
            let values: Vec<String> =
                chunk.iter().map(|line| format!("({})", literals(line).join(", "))).collect();
            execute(&format!("INSERT INTO {table} VALUES {}", values.join(", ")), &[])?;
        }
        execute(&format!("GRANT SELECT ON {table} TO pgml_predictor"), &[])?;
        Ok(())
    })?;
    Ok(TableIterator::once((table, rows.len() as i64)))
}

/// The fields of a CSV line as quoted SQL literals (fields may be double-quoted arrays).
fn literals(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut current)),
            _ => current.push(ch),
        }
    }
    fields.push(current);
    fields.into_iter().map(|f| format!("'{}'", f.replace('\'', "''"))).collect()
}
