//! Versioned model bytes as stored in `pgml.files`, and the loaded model that predicts
//! with the user's labels and checks the feature count.
//!
//! Layout: the magic `PGMLRS`, a format version byte, a little-endian u32 header length,
//! the JSON header, then the algorithm's own bytes.

use crate::algorithms::{Algorithm, Model};
use crate::data::preprocess::Preprocessor;
use crate::data::schema::{self, FeatureColumn};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 6] = b"PGMLRS";
const FORMAT: u8 = 1;

/// What a model needs besides its parameters to predict for a user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    pub algorithm: String,
    pub task: Task,
    pub num_features: usize,
    /// The label of each class index (classification only).
    #[serde(default)]
    pub classes: Vec<f32>,
    /// The columns the features came from, for predictions from a row.
    #[serde(default)]
    pub features: Vec<FeatureColumn>,
    /// Imputation, encoding and scaling fitted on the training rows; applied to the raw
    /// features (`num_features` of them) on every predict path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess: Option<Preprocessor>,
    /// The number of targets of a joint (multi-target) model; None for one target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<usize>,
    /// The mean of each model input over the training rows (after preprocessing): a linear
    /// model's explanations are centred on them. None for models trained before 0.8.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_means: Option<Vec<f32>>,
}

impl Header {
    /// The start of the artifact: `MAGIC`, `FORMAT`, the header's length and JSON. The
    /// model's bytes follow.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        let header =
            serde_json::to_vec(self).map_err(|e| Error::Internal(format!("cannot serialize header: {e}")))?;
        let mut prefix = Vec::with_capacity(11 + header.len());
        prefix.extend_from_slice(MAGIC);
        prefix.push(FORMAT);
        prefix.extend_from_slice(&(header.len() as u32).to_le_bytes());
        prefix.extend_from_slice(&header);
        Ok(prefix)
    }

    /// The features the model expects, as a caller passes them: `a, b, c[1], c[2]`.
    pub fn feature_list(&self) -> String {
        let names = schema::feature_names(&self.features, self.num_features);
        let shown: Vec<&str> = names.iter().take(12).map(String::as_str).collect();
        match names.len() - shown.len() {
            0 => shown.join(", "),
            more => format!("{}, … ({more} more)", shown.join(", ")),
        }
    }
}

impl Header {
    /// Rows of features given by name (`names` per row, `values` row after row), in this
    /// model's order: every feature must be named exactly once; unknown names are refused, so
    /// a caller of another schema gets an error rather than a prediction.
    pub fn order_named(&self, names: &[String], values: &[f32]) -> Result<Vec<f32>> {
        let expected = schema::feature_names(&self.features, self.num_features);
        let hint = || format!("this model takes: {}", self.feature_list());
        if let Some(unknown) = names.iter().find(|n| !expected.contains(n)) {
            return Err(Error::data(format!("the model has no feature \"{unknown}\"")).with_hint(hint()));
        }
        let mut position = Vec::with_capacity(expected.len());
        for name in &expected {
            let mut at = names.iter().enumerate().filter(|(_, n)| *n == name).map(|(i, _)| i);
            match (at.next(), at.next()) {
                (Some(i), None) => position.push(i),
                (None, _) => {
                    return Err(Error::data(format!("feature \"{name}\" is missing")).with_hint(hint()))
                }
                (Some(_), Some(_)) => {
                    return Err(Error::data(format!("feature \"{name}\" is given twice")).with_hint(hint()))
                }
            }
        }
        if names.is_empty() || !values.len().is_multiple_of(names.len()) {
            return Err(Error::data(format!(
                "{} value(s) do not make whole rows of {} named features",
                values.len(),
                names.len()
            )));
        }
        Ok(values.chunks(names.len()).flat_map(|row| position.iter().map(move |&i| row[i])).collect())
    }
}

/// A model ready to predict.
pub struct LoadedModel {
    pub header: Header,
    model: Box<dyn Model>,
}

impl LoadedModel {
    pub fn new(header: Header, model: Box<dyn Model>) -> LoadedModel {
        LoadedModel { header, model }
    }

    /// The model itself, which takes the preprocessed inputs.
    pub fn model(&self) -> &dyn Model {
        self.model.as_ref()
    }

    /// Serializes header and model.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok([self.header.bytes()?, self.model.to_bytes()?].concat())
    }

    /// Reads bytes written by `to_bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<LoadedModel> {
        Self::from_vec(bytes.to_vec())
    }

    /// `from_bytes`, handing the bytes over: a model that keeps its stored form (a forest)
    /// keeps them instead of a copy.
    pub fn from_vec(mut bytes: Vec<u8>) -> Result<LoadedModel> {
        let (header, start) = Self::header(&bytes)?;
        if header.algorithm == crate::portable::onnx::ALGORITHM {
            let model = crate::portable::onnx::model::load(&bytes[start..])?;
            return Ok(LoadedModel { header, model });
        }
        let algorithm = Algorithm::parse(&header.algorithm)?;
        let model = match header.targets {
            Some(_) => crate::algorithms::joint::load(algorithm, &bytes[start..])?,
            None => {
                bytes.drain(..start);
                algorithm.load_owned(bytes)?
            }
        };
        Ok(LoadedModel { header, model })
    }

    /// The header of an artifact, from its first bytes (the model's own bytes may be left
    /// out): what a model is, without loading it.
    pub fn read_header(prefix: &[u8]) -> Result<Header> {
        Self::header(prefix).map(|(header, _)| header)
    }

    /// The header of an artifact, and where the model's bytes start.
    fn header(bytes: &[u8]) -> Result<(Header, usize)> {
        let corrupt = |what: &str| Error::Internal(format!("corrupt model artifact: {what}"));
        if bytes.len() < 11 || &bytes[..6] != MAGIC {
            return Err(corrupt("not a pgml-rs model"));
        }
        if bytes[6] != FORMAT {
            return Err(corrupt(&format!("unknown format version {}", bytes[6])));
        }
        let len = u32::from_le_bytes([bytes[7], bytes[8], bytes[9], bytes[10]]) as usize;
        let body = &bytes[11..];
        if body.len() < len {
            return Err(corrupt("truncated header"));
        }
        let header: Header = serde_json::from_slice(&body[..len]).map_err(|e| corrupt(&e.to_string()))?;
        Ok((header, 11 + len))
    }

    /// Checks that `values` holds whole rows of this model's features.
    pub fn matrix(&self, values: Vec<f32>) -> Result<Matrix> {
        let n = self.header.num_features;
        if values.is_empty() || !values.len().is_multiple_of(n) {
            return Err(Error::data(format!(
                "the model expects {n} features per row ({}), got {} value(s)",
                self.header.feature_list(),
                values.len()
            ))
            .with_hint("pass the features in the order of the training relation's columns"));
        }
        Matrix::new(values, n)
    }

    /// Checks that a row has exactly this model's number of features.
    fn check_row(&self, len: usize) -> Result<()> {
        let n = self.header.num_features;
        if len != n {
            return Err(Error::data(format!(
                "the model expects {n} features ({}), got {len}",
                self.header.feature_list()
            ))
            .with_hint("pass the features in the order of the training relation's columns"));
        }
        Ok(())
    }

    /// Checks that `values` is exactly one row of this model's features.
    pub fn one_row(&self, values: Vec<f32>) -> Result<Matrix> {
        self.check_row(values.len())?;
        Matrix::new(values, self.header.num_features)
    }

    /// The prediction for one row, in the user's label for classification.
    pub fn predict_one(&self, row: &[f32]) -> Result<f32> {
        self.check_row(row.len())?;
        let raw = match &self.header.preprocess {
            None => self.model.predict_row(row)?,
            Some(p) => {
                let mut input = Vec::with_capacity(p.width());
                p.transform_row(row, &mut input);
                self.model.predict_row(&input)?
            }
        };
        Ok(self.label(raw))
    }

    /// Attributions of one raw row's prediction to its raw features (a one-hot encoded
    /// column's indicators summed into the column), in the model's margin.
    pub fn explain(
        &self,
        row: &[f32],
        method: crate::explain::Method,
    ) -> Result<crate::explain::Explanation> {
        self.check_row(row.len())?;
        match &self.header.preprocess {
            None => crate::explain::explain_input(self.model.as_ref(), &self.header, row, method),
            Some(p) => {
                let mut input = Vec::with_capacity(p.width());
                p.transform_row(row, &mut input);
                crate::explain::explain_input(self.model.as_ref(), &self.header, &input, method)
            }
        }
    }

    /// The output an explanation is read for, and its name: a regression's value (`value`), a
    /// binary classifier's log-odds of its second class (that class's label), a multiclass
    /// one's predicted class (its label).
    pub fn explained_output(&self, e: &crate::explain::Explanation) -> (usize, String) {
        let classes = &self.header.classes;
        match (self.header.task, e.outputs) {
            (Task::Classification, 1) => (0, classes.get(1).map_or("1".into(), |c| c.to_string())),
            (Task::Classification, _) => {
                let best = (0..e.outputs).max_by(|&a, &b| e.margin[a].total_cmp(&e.margin[b])).unwrap_or(0);
                (best, classes.get(best).map_or(best.to_string(), |c| c.to_string()))
            }
            _ => (0, "value".into()),
        }
    }

    /// The global explanation over raw rows `x` (an imported model's holdout), within `budget`.
    pub fn global_explanation(
        &self,
        x: &Matrix,
        budget: std::time::Duration,
    ) -> Option<crate::explain::Global> {
        let inputs = self.input(x).ok()?;
        crate::explain::global(self.model.as_ref(), &self.header, &inputs, budget)
    }

    /// How much the model relies on each of its inputs (after preprocessing).
    pub fn importance(&self) -> Result<crate::explain::Importance> {
        self.model.importance()
    }

    /// Whether a missing value (NULL) of raw feature `i` is imputed rather than refused.
    pub fn imputes(&self, i: usize) -> bool {
        self.header.preprocess.as_ref().is_some_and(|p| p.imputes(i))
    }

    /// The model's input for raw rows.
    fn input<'a>(&self, x: &'a Matrix) -> Result<std::borrow::Cow<'a, Matrix>> {
        Ok(match &self.header.preprocess {
            None => std::borrow::Cow::Borrowed(x),
            Some(p) => std::borrow::Cow::Owned(p.transform(x)?),
        })
    }

    fn label(&self, raw: f32) -> f32 {
        if self.header.task == Task::Classification {
            self.header.classes.get(raw as usize).copied().unwrap_or(f32::NAN)
        } else {
            raw
        }
    }

    /// One prediction per row, in the user's labels for classification.
    pub fn predict(&self, x: &Matrix) -> Result<Vec<f32>> {
        let input = self.input(x)?;
        Ok(self.model.predict(&input)?.into_iter().map(|raw| self.label(raw)).collect())
    }

    /// Every target's prediction for each row (`rows × targets`), for a joint model.
    pub fn predict_joint(&self, x: &Matrix) -> Result<Vec<f32>> {
        if self.header.targets.is_none() {
            return Err(Error::unsupported("pgml.predict_joint needs a model trained by pgml.train_joint")
                .with_hint("use pgml.predict"));
        }
        let input = self.input(x)?;
        self.model.predict_joint(&input)
    }

    /// The components of each row (`rows × k`), for a decomposition.
    pub fn decompose(&self, x: &Matrix) -> Result<Vec<f32>> {
        if self.header.task != Task::Decomposition {
            return Err(Error::unsupported(format!(
                "pgml.decompose needs a decomposition model, this one is {}",
                self.header.task.name()
            ))
            .with_hint("use pgml.predict"));
        }
        let input = self.input(x)?;
        self.model.decompose(&input)
    }

    /// What an HTTP prediction answers, in the database and in pgml-serve alike: rows given as
    /// one flat array, in this model's order or by feature name (`names`, the same for every
    /// row), answered with predictions or with class probabilities; the first value is the
    /// number of values per row of the answer (1, or the number of classes).
    pub fn serve(
        &self,
        values: Vec<f32>,
        names: Option<&[String]>,
        proba: bool,
    ) -> Result<(usize, Vec<f32>)> {
        let values = match names {
            Some(names) => self.header.order_named(names, &values)?,
            None => values,
        };
        let x = self.matrix(values)?;
        if proba {
            return Ok((self.header.classes.len().max(1), self.predict_proba(&x)?));
        }
        Ok((1, self.predict(&x)?))
    }

    /// Class probabilities, `rows × classes`, in ascending label order.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vec<f32>> {
        if self.header.task != Task::Classification {
            return Err(Error::unsupported(format!(
                "predict_proba needs a classification model, this one is {}",
                self.header.task.name()
            ))
            .with_hint("use pgml.predict"));
        }
        let input = self.input(x)?;
        self.model.predict_proba(&input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_features_are_put_in_the_models_order() {
        use crate::data::schema::{FeatureColumn, FeatureKind};
        let col = |name: &str, kind, size| FeatureColumn {
            name: name.into(),
            pg_type: "real".into(),
            kind,
            size,
            levels: vec![],
        };
        let header = Header {
            algorithm: "linear".into(),
            task: Task::Regression,
            num_features: 3,
            classes: vec![],
            features: vec![col("a", FeatureKind::Numeric, 1), col("v", FeatureKind::Array, 2)],
            preprocess: None,
            targets: None,
            input_means: None,
        };
        let names: Vec<String> = ["v[2]", "a", "v[1]"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            header.order_named(&names, &[3.0, 1.0, 2.0, 6.0, 4.0, 5.0]).unwrap(),
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
        let err = header.order_named(&names[..2], &[1.0, 2.0]).unwrap_err().to_string();
        assert_eq!(err, "feature \"v[1]\" is missing");
        let mut extra = names.clone();
        extra.push("b".into());
        assert!(header.order_named(&extra, &[0.0; 4]).unwrap_err().to_string().contains("no feature \"b\""));
    }
}
