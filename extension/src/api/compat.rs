//! Functions that the install scripts of earlier releases name and this release replaced
//! (`extension/sql/releases`): `CREATE EXTENSION pgml VERSION '<earlier>'` needs every symbol
//! its script names, and a database on an earlier release calls them until ALTER EXTENSION
//! pgml UPDATE. No SQL is generated for them; the upgrade scripts replace them.

use pgrx::prelude::*;

/// 0.1.0's `pgml._pgml_noop_predict(text, real[])`, without the stage argument.
#[pg_extern(sql = false)]
fn _pgml_noop_predict(project_name: &str, features: Vec<Option<f32>>) -> f32 {
    let _ = project_name;
    super::predict::noop(features)
}
