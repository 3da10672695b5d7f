//! PostgresML's vector functions over `real[]` and `float8[]`: element-wise arithmetic with a
//! scalar or another vector, norms, normalisation, distances, and the element-wise aggregates
//! `pgml.sum/min/max/min_abs/max_abs`. All IMMUTABLE PARALLEL SAFE STRICT.
//!
//! Vectors of different lengths are an error (22000) naming both lengths, where PostgresML
//! silently used the shorter one; NULL elements are an error (22004) naming the position.
//! Normalising a zero vector returns it unchanged (scikit-learn's `normalize`), not NaNs.

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::error::{OrRaise, Result, SqlError};

fn values<T>(array: &Array<T>) -> Result<Vec<T>>
where
    for<'a> T: Copy + pgrx::FromDatum + pgrx::IntoDatum + pgrx::datum::UnboxDatum<As<'a> = T> + 'static,
{
    array
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.ok_or_else(|| {
                SqlError::new(
                    PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    format!("vector element {} is NULL", i + 1),
                )
            })
        })
        .collect()
}

fn same_length(a: usize, b: usize) -> Result<()> {
    if a == b {
        return Ok(());
    }
    Err(SqlError::new(
        PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        format!("vectors have different lengths: {a} and {b}"),
    ))
}

/// `f` on corresponding elements of two vectors of one length.
fn pairwise<T: Copy>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> Result<Vec<T>> {
    same_length(a.len(), b.len())?;
    Ok(a.iter().zip(b).map(|(x, y)| f(*x, *y)).collect())
}

/// The running state of an element-wise aggregate: the first vector, then `f` of the state
/// and each next one.
fn fold_state<T: Copy>(
    state: Option<Vec<T>>,
    next: Option<Vec<T>>,
    first: impl Fn(T) -> T,
    f: impl Fn(T, T) -> T,
) -> Result<Option<Vec<T>>> {
    Ok(match (state, next) {
        (state, None) => state,
        (None, Some(v)) => Some(v.into_iter().map(first).collect()),
        (Some(s), Some(v)) => Some(pairwise(&s, &v, f)?),
    })
}

macro_rules! vector_functions {
    ($t:ty, $sql:literal, $m:ident) => {
        mod $m {
            use super::*;
            paste::paste! {

            #[pg_extern(immutable, parallel_safe, strict, name = "add")]
            fn [<add_scalar_ $m>](vector: Array<$t>, addend: $t) -> Vec<$t> {
                values(&vector).or_raise().into_iter().map(|a| a + addend).collect()
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "subtract")]
            fn [<subtract_scalar_ $m>](vector: Array<$t>, subtrahend: $t) -> Vec<$t> {
                values(&vector).or_raise().into_iter().map(|a| a - subtrahend).collect()
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "multiply")]
            fn [<multiply_scalar_ $m>](vector: Array<$t>, multiplicand: $t) -> Vec<$t> {
                values(&vector).or_raise().into_iter().map(|a| a * multiplicand).collect()
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "divide")]
            fn [<divide_scalar_ $m>](vector: Array<$t>, dividend: $t) -> Vec<$t> {
                values(&vector).or_raise().into_iter().map(|a| a / dividend).collect()
            }
            fn both(a: &Array<$t>, b: &Array<$t>, f: impl Fn($t, $t) -> $t) -> Vec<$t> {
                (|| pairwise(&values(a)?, &values(b)?, f))().or_raise()
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "add")]
            fn [<add_vector_ $m>](vector: Array<$t>, addend: Array<$t>) -> Vec<$t> {
                both(&vector, &addend, |a, b| a + b)
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "subtract")]
            fn [<subtract_vector_ $m>](vector: Array<$t>, subtrahend: Array<$t>) -> Vec<$t> {
                both(&vector, &subtrahend, |a, b| a - b)
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "multiply")]
            fn [<multiply_vector_ $m>](vector: Array<$t>, multiplicand: Array<$t>) -> Vec<$t> {
                both(&vector, &multiplicand, |a, b| a * b)
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "divide")]
            fn [<divide_vector_ $m>](vector: Array<$t>, dividend: Array<$t>) -> Vec<$t> {
                both(&vector, &dividend, |a, b| a / b)
            }

            fn l0(v: &[$t]) -> $t {
                v.iter().filter(|a| **a != 0.0).count() as $t
            }
            fn l1(v: &[$t]) -> $t {
                v.iter().map(|a| a.abs()).sum()
            }
            fn l2(v: &[$t]) -> $t {
                v.iter().map(|a| a * a).sum::<$t>().sqrt()
            }
            fn max(v: &[$t]) -> $t {
                v.iter().fold(0.0, |m, a| m.max(a.abs()))
            }
            fn scaled(vector: Array<$t>, norm: fn(&[$t]) -> $t) -> Vec<$t> {
                let v = values(&vector).or_raise();
                let n = norm(&v);
                if n == 0.0 {
                    return v;
                }
                v.into_iter().map(|a| a / n).collect()
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "norm_l0")]
            fn [<norm_l0_ $m>](vector: Array<$t>) -> $t {
                l0(&values(&vector).or_raise())
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "norm_l1")]
            fn [<norm_l1_ $m>](vector: Array<$t>) -> $t {
                l1(&values(&vector).or_raise())
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "norm_l2")]
            fn [<norm_l2_ $m>](vector: Array<$t>) -> $t {
                l2(&values(&vector).or_raise())
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "norm_max")]
            fn [<norm_max_ $m>](vector: Array<$t>) -> $t {
                max(&values(&vector).or_raise())
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "normalize_l1")]
            fn [<normalize_l1_ $m>](vector: Array<$t>) -> Vec<$t> {
                scaled(vector, l1)
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "normalize_l2")]
            fn [<normalize_l2_ $m>](vector: Array<$t>) -> Vec<$t> {
                scaled(vector, l2)
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "normalize_max")]
            fn [<normalize_max_ $m>](vector: Array<$t>) -> Vec<$t> {
                scaled(vector, max)
            }
            fn reduce(a: &Array<$t>, b: &Array<$t>, f: impl Fn(&[$t]) -> $t, g: impl Fn($t, $t) -> $t) -> $t {
                f(&both(a, b, g))
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "distance_l1")]
            fn [<distance_l1_ $m>](vector: Array<$t>, other: Array<$t>) -> $t {
                reduce(&vector, &other, l1, |a, b| a - b)
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "distance_l2")]
            fn [<distance_l2_ $m>](vector: Array<$t>, other: Array<$t>) -> $t {
                reduce(&vector, &other, l2, |a, b| a - b)
            }
            /// Euclidean distance, the name PostgresML's vectors.sql example calls.
            #[pg_extern(immutable, parallel_safe, strict, name = "distance")]
            fn [<distance_ $m>](vector: Array<$t>, other: Array<$t>) -> $t {
                reduce(&vector, &other, l2, |a, b| a - b)
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "dot_product")]
            fn [<dot_product_ $m>](vector: Array<$t>, other: Array<$t>) -> $t {
                reduce(&vector, &other, |v| v.iter().sum(), |a, b| a * b)
            }
            #[pg_extern(immutable, parallel_safe, strict, name = "cosine_similarity")]
            fn [<cosine_similarity_ $m>](vector: Array<$t>, other: Array<$t>) -> $t {
                let (a, b) = (values(&vector).or_raise(), values(&other).or_raise());
                same_length(a.len(), b.len()).or_raise();
                let dot: $t = a.iter().zip(&b).map(|(x, y)| x * y).sum();
                dot / (l2(&a) * l2(&b))
            }

            type State = Option<Vec<$t>>;
            fn step(state: State, next: Option<Array<$t>>, first: impl Fn($t) -> $t, f: impl Fn($t, $t) -> $t) -> State {
                (|| fold_state(state, next.as_ref().map(values).transpose()?, first, f))().or_raise()
            }
            #[pg_extern(immutable, parallel_safe, name = "_pgml_sum_step")]
            pub fn [<_pgml_sum_step_ $m>](state: State, next: Option<Array<$t>>) -> State {
                step(state, next, |a| a, |a, b| a + b)
            }
            #[pg_extern(immutable, parallel_safe, name = "_pgml_min_step")]
            pub fn [<_pgml_min_step_ $m>](state: State, next: Option<Array<$t>>) -> State {
                step(state, next, |a| a, |a, b| a.min(b))
            }
            #[pg_extern(immutable, parallel_safe, name = "_pgml_max_step")]
            pub fn [<_pgml_max_step_ $m>](state: State, next: Option<Array<$t>>) -> State {
                step(state, next, |a| a, |a, b| a.max(b))
            }
            // The state holds absolute values, so the same step combines two states.
            #[pg_extern(immutable, parallel_safe, name = "_pgml_min_abs_step")]
            pub fn [<_pgml_min_abs_step_ $m>](state: State, next: Option<Array<$t>>) -> State {
                step(state, next, |a| a.abs(), |a, b| a.min(b.abs()))
            }
            #[pg_extern(immutable, parallel_safe, name = "_pgml_max_abs_step")]
            pub fn [<_pgml_max_abs_step_ $m>](state: State, next: Option<Array<$t>>) -> State {
                step(state, next, |a| a.abs(), |a, b| a.max(b.abs()))
            }
            }
        }
    };
}

vector_functions!(f32, "real", real);
vector_functions!(f64, "float8", float8);

// The aggregates, over both element types; a step function also combines two states.
extension_sql!(
    r#"
CREATE AGGREGATE pgml.sum(real[]) (SFUNC = pgml._pgml_sum_step, STYPE = real[], COMBINEFUNC = pgml._pgml_sum_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.min(real[]) (SFUNC = pgml._pgml_min_step, STYPE = real[], COMBINEFUNC = pgml._pgml_min_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.max(real[]) (SFUNC = pgml._pgml_max_step, STYPE = real[], COMBINEFUNC = pgml._pgml_max_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.min_abs(real[]) (SFUNC = pgml._pgml_min_abs_step, STYPE = real[], COMBINEFUNC = pgml._pgml_min_abs_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.max_abs(real[]) (SFUNC = pgml._pgml_max_abs_step, STYPE = real[], COMBINEFUNC = pgml._pgml_max_abs_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.sum(float8[]) (SFUNC = pgml._pgml_sum_step, STYPE = float8[], COMBINEFUNC = pgml._pgml_sum_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.min(float8[]) (SFUNC = pgml._pgml_min_step, STYPE = float8[], COMBINEFUNC = pgml._pgml_min_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.max(float8[]) (SFUNC = pgml._pgml_max_step, STYPE = float8[], COMBINEFUNC = pgml._pgml_max_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.min_abs(float8[]) (SFUNC = pgml._pgml_min_abs_step, STYPE = float8[], COMBINEFUNC = pgml._pgml_min_abs_step, PARALLEL = SAFE);
CREATE AGGREGATE pgml.max_abs(float8[]) (SFUNC = pgml._pgml_max_abs_step, STYPE = float8[], COMBINEFUNC = pgml._pgml_max_abs_step, PARALLEL = SAFE);
"#,
    name = "vector_aggregates",
    requires = [
        real::_pgml_sum_step_real,
        real::_pgml_min_step_real,
        real::_pgml_max_step_real,
        real::_pgml_min_abs_step_real,
        real::_pgml_max_abs_step_real,
        float8::_pgml_sum_step_float8,
        float8::_pgml_min_step_float8,
        float8::_pgml_max_step_float8,
        float8::_pgml_min_abs_step_float8,
        float8::_pgml_max_abs_step_float8
    ]
);

// `ARRAY[1.0, 2.0, 3.0]` is numeric[], which casts to real[] and float8[] alike, so a call
// with only arrays is ambiguous between the two; PostgresML's examples write exactly that.
// These numeric[] forms compute in float8.
extension_sql!(
    r#"
CREATE FUNCTION pgml.add(vector numeric[], other numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.add($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.subtract(vector numeric[], other numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.subtract($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.multiply(vector numeric[], other numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.multiply($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.divide(vector numeric[], other numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.divide($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.distance(vector numeric[], other numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.distance($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.distance_l1(vector numeric[], other numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.distance_l1($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.distance_l2(vector numeric[], other numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.distance_l2($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.dot_product(vector numeric[], other numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.dot_product($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.cosine_similarity(vector numeric[], other numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.cosine_similarity($1::float8[], $2::float8[])';
CREATE FUNCTION pgml.norm_l0(vector numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.norm_l0($1::float8[])';
CREATE FUNCTION pgml.norm_l1(vector numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.norm_l1($1::float8[])';
CREATE FUNCTION pgml.norm_l2(vector numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.norm_l2($1::float8[])';
CREATE FUNCTION pgml.norm_max(vector numeric[]) RETURNS float8 IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.norm_max($1::float8[])';
CREATE FUNCTION pgml.normalize_l1(vector numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.normalize_l1($1::float8[])';
CREATE FUNCTION pgml.normalize_l2(vector numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.normalize_l2($1::float8[])';
CREATE FUNCTION pgml.normalize_max(vector numeric[]) RETURNS float8[] IMMUTABLE PARALLEL SAFE STRICT LANGUAGE sql AS 'SELECT pgml.normalize_max($1::float8[])';
"#,
    name = "vector_numeric_forms",
    requires = [
        float8::add_vector_float8,
        float8::subtract_vector_float8,
        float8::multiply_vector_float8,
        float8::divide_vector_float8,
        float8::distance_float8,
        float8::distance_l1_float8,
        float8::distance_l2_float8,
        float8::dot_product_float8,
        float8::cosine_similarity_float8,
        float8::norm_l0_float8,
        float8::norm_l1_float8,
        float8::norm_l2_float8,
        float8::norm_max_float8,
        float8::normalize_l1_float8,
        float8::normalize_l2_float8,
        float8::normalize_max_float8
    ]
);
