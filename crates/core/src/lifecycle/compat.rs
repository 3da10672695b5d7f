//! Whether a model may replace the one a stage serves without its callers noticing: the same
//! task and the same feature schema (names, order, types, flattened width, categorical levels).

use crate::artifact::Header;
use crate::data::schema::FeatureColumn;

/// The differences between the serving model's schema and a candidate's, one readable line
/// each; empty when the candidate is a drop-in replacement.
pub fn schema_diff(serving: &Header, candidate: &Header) -> Vec<String> {
    let mut diff = Vec::new();
    if serving.task != candidate.task {
        diff.push(format!("task: {} -> {}", serving.task.name(), candidate.task.name()));
    }
    if serving.targets != candidate.targets {
        let n = |t: Option<usize>| t.unwrap_or(1);
        diff.push(format!("targets: {} -> {}", n(serving.targets), n(candidate.targets)));
    }
    if serving.num_features != candidate.num_features {
        diff.push(format!(
            "features after flattening arrays: {} -> {}",
            serving.num_features, candidate.num_features
        ));
    }
    let (old, new) = (&serving.features, &candidate.features);
    for i in 0..old.len().max(new.len()) {
        match (old.get(i), new.get(i)) {
            (Some(a), Some(b)) => column_diff(i + 1, a, b, &mut diff),
            (Some(a), None) => diff.push(format!("column {}: {} -> (none)", i + 1, describe(a))),
            (None, Some(b)) => diff.push(format!("column {}: (none) -> {}", i + 1, describe(b))),
            (None, None) => {}
        }
    }
    if serving.task == candidate.task && serving.classes != candidate.classes && !serving.classes.is_empty() {
        diff.push(format!("class labels: {:?} -> {:?}", serving.classes, candidate.classes));
    }
    diff
}

fn column_diff(position: usize, a: &FeatureColumn, b: &FeatureColumn, diff: &mut Vec<String>) {
    if a.name != b.name || a.pg_type != b.pg_type || a.kind != b.kind || a.size != b.size {
        diff.push(format!("column {position}: {} -> {}", describe(a), describe(b)));
    } else if a.levels != b.levels {
        let added: Vec<&str> =
            b.levels.iter().filter(|l| !a.levels.contains(l)).map(String::as_str).collect();
        let removed: Vec<&str> =
            a.levels.iter().filter(|l| !b.levels.contains(l)).map(String::as_str).collect();
        diff.push(format!(
            "column {position} \"{}\": categorical levels changed (added [{}], removed [{}])",
            a.name,
            added.join(", "),
            removed.join(", ")
        ));
    }
}

fn describe(c: &FeatureColumn) -> String {
    let width = if c.size == 1 { String::new() } else { format!(" x{}", c.size) };
    format!("\"{}\" {}{width}", c.name, c.pg_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::schema::{self, FeatureKind};
    use crate::task::Task;

    fn col(name: &str, pg_type: &str, kind: FeatureKind, size: usize, levels: &[&str]) -> FeatureColumn {
        FeatureColumn {
            name: name.into(),
            pg_type: pg_type.into(),
            kind,
            size,
            levels: levels.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn header(task: Task, features: Vec<FeatureColumn>) -> Header {
        Header {
            algorithm: "linear".into(),
            task,
            num_features: schema::width(&features),
            classes: vec![],
            features,
            preprocess: None,
            targets: None,
            input_means: None,
        }
    }

    fn base() -> Vec<FeatureColumn> {
        vec![
            col("age", "integer", FeatureKind::Numeric, 1, &[]),
            col("region", "text", FeatureKind::Categorical, 1, &["north", "south"]),
            col("scores", "real[]", FeatureKind::Array, 3, &[]),
        ]
    }

    #[test]
    fn identical_schemas_are_compatible() {
        let a = header(Task::Regression, base());
        assert!(schema_diff(&a, &a.clone()).is_empty());
    }

    #[test]
    fn every_kind_of_change_is_named() {
        let old = header(Task::Regression, base());
        let mut cols = base();
        cols.swap(0, 1); // order
        assert_eq!(
            schema_diff(&old, &header(Task::Regression, cols)),
            ["column 1: \"age\" integer -> \"region\" text", "column 2: \"region\" text -> \"age\" integer"]
        );
        let mut cols = base();
        cols[2] = col("scores", "real[]", FeatureKind::Array, 4, &[]); // width
        assert_eq!(
            schema_diff(&old, &header(Task::Regression, cols)),
            [
                "features after flattening arrays: 5 -> 6",
                "column 3: \"scores\" real[] x3 -> \"scores\" real[] x4"
            ]
        );
        let mut cols = base();
        cols[1].levels.push("west".into()); // levels
        assert_eq!(
            schema_diff(&old, &header(Task::Regression, cols)),
            ["column 2 \"region\": categorical levels changed (added [west], removed [])"]
        );
        let mut cols = base();
        cols[0].pg_type = "double precision".into(); // type
        assert_eq!(schema_diff(&old, &header(Task::Regression, cols)).len(), 1);
        let mut cols = base();
        cols.pop(); // a column fewer
        let diff = schema_diff(&old, &header(Task::Regression, cols));
        assert_eq!(
            diff,
            ["features after flattening arrays: 5 -> 2", "column 3: \"scores\" real[] x3 -> (none)"]
        );
        let diff = schema_diff(&old, &header(Task::Classification, base()));
        assert_eq!(diff, ["task: regression -> classification"]);
    }

    #[test]
    fn the_expected_features_are_listed_flattened() {
        assert_eq!(
            header(Task::Regression, base()).feature_list(),
            "age, region, scores[1], scores[2], scores[3]"
        );
    }
}
