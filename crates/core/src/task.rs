//! Learning tasks and the key metric that ranks models of each.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What a project learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Regression,
    Classification,
    Clustering,
    Decomposition,
}

impl Task {
    /// Every task, in the order PostgresML lists them.
    pub const ALL: [Task; 4] =
        [Task::Regression, Task::Classification, Task::Clustering, Task::Decomposition];

    /// Parses a task name as PostgresML spells it.
    pub fn parse(name: &str) -> Result<Task> {
        Task::ALL.into_iter().find(|t| t.name() == name).ok_or_else(|| {
            Error::invalid(format!("unknown task \"{name}\""))
                .with_hint("use one of: regression, classification, clustering, decomposition")
        })
    }

    /// The name stored in the registry.
    pub fn name(self) -> &'static str {
        match self {
            Task::Regression => "regression",
            Task::Classification => "classification",
            Task::Clustering => "clustering",
            Task::Decomposition => "decomposition",
        }
    }

    /// The metric that decides which model is better; higher is better for every task.
    pub fn key_metric(self) -> &'static str {
        match self {
            Task::Regression => "r2",
            Task::Classification => "f1",
            Task::Clustering => "silhouette",
            Task::Decomposition => "cumulative_explained_variance",
        }
    }

    /// Whether training needs a label column.
    pub fn is_supervised(self) -> bool {
        matches!(self, Task::Regression | Task::Classification)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_name_back() {
        for t in Task::ALL {
            assert_eq!(Task::parse(t.name()).unwrap(), t);
        }
        let err = Task::parse("clasification").unwrap_err();
        assert!(err.to_string().contains("clasification"));
        assert!(err.hint().unwrap().contains("classification"));
    }
}
