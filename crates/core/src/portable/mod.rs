//! Models in and out of the registry: a stored model exported in a format other tools read
//! (XGBoost's and LightGBM's own files, or a bundle that another pgml-rs database imports),
//! and a model trained elsewhere imported as an ordinary stored model.
//!
//! Imported bytes are untrusted: their size is capped, and their structure is checked here, in
//! Rust, before a C++ library parses them (`xgboost`, `lightgbm`); a bundle's own model goes
//! through the same checks for its family, or is loaded in Rust and tried on a row.

pub mod lightgbm;
pub mod onnx;
pub mod ubjson;
pub mod xgboost;

use crate::algorithms::{self, Algorithm};
use crate::artifact::{Header, LoadedModel};
use crate::data::schema::{self, FeatureColumn, FeatureKind};
use crate::data::Matrix;
use crate::error::{Error, Result};
use crate::task::Task;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest model file imported: far above any tree ensemble of the shipped datasets, far
/// below what would strain a backend's memory.
pub const MAX_BYTES: usize = 256 << 20;

const BUNDLE_MAGIC: &[u8; 8] = b"PGMLBNDL";
const BUNDLE_VERSION: u8 = 1;

/// A file format of models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// pgml-rs's own: a manifest and the stored model.
    Bundle,
    /// XGBoost's UBJSON model (`save_model("m.ubj")`, its default).
    XgboostUbj,
    /// XGBoost's JSON model (`save_model("m.json")`).
    XgboostJson,
    /// LightGBM's text model (`save_model("m.txt")`).
    Lightgbm,
    /// ONNX: scikit-learn pipelines (skl2onnx), XGBoost and LightGBM (onnxmltools).
    Onnx,
}

impl Format {
    const NAMES: [(&'static str, Format); 5] = [
        ("bundle", Format::Bundle),
        ("xgboost", Format::XgboostUbj),
        ("xgboost_json", Format::XgboostJson),
        ("lightgbm", Format::Lightgbm),
        ("onnx", Format::Onnx),
    ];

    pub fn parse(name: &str) -> Result<Format> {
        let wanted = name.trim().to_ascii_lowercase();
        let alias = match wanted.as_str() {
            "ubj" | "xgboost_ubj" => "xgboost",
            "json" => "xgboost_json",
            "lightgbm_text" | "txt" => "lightgbm",
            other => other,
        };
        Self::NAMES.iter().find(|(n, _)| *n == alias).map(|(_, f)| *f).ok_or_else(|| {
            Error::invalid(format!("unknown model format \"{name}\""))
                .with_hint("use 'bundle', 'xgboost', 'xgboost_json', 'lightgbm' or 'onnx'")
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, f)| *f == self).map_or("bundle", |(n, _)| n)
    }

    /// The format of a file, from its first bytes.
    pub fn sniff(bytes: &[u8]) -> Result<Format> {
        let text = bytes.iter().position(|b| !b.is_ascii_whitespace()).map_or(&bytes[..0], |i| &bytes[i..]);
        Ok(if bytes.starts_with(BUNDLE_MAGIC) {
            Format::Bundle
        } else if text.starts_with(b"tree\n") || text.starts_with(b"tree\r\n") {
            Format::Lightgbm
        } else if text.starts_with(b"{\"") || text.starts_with(b"{ \"") || text.starts_with(b"{\n") {
            Format::XgboostJson
        } else if bytes.first() == Some(&b'{') {
            Format::XgboostUbj
        } else if bytes.first() == Some(&0x08) {
            // an ONNX ModelProto starts with field 1 (ir_version), a varint
            Format::Onnx
        } else {
            return Err(Error::invalid("the model file is of no format pgml.import reads").with_hint(
                "pass a pgml-rs bundle, an XGBoost .json or .ubj model, a LightGBM text model or an ONNX model, or name its format",
            ));
        })
    }
}

/// What a bundle says of its model besides the model itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The pgml-rs version that wrote the bundle.
    pub pgml_rs: String,
    pub project: String,
    pub task: Task,
    pub algorithm: String,
    /// The model's id in the database it came from.
    pub model_id: i64,
    pub features: Vec<FeatureColumn>,
    #[serde(default)]
    pub classes: Vec<f32>,
    #[serde(default)]
    pub preprocess: Option<Value>,
    #[serde(default)]
    pub hyperparams: Value,
    #[serde(default)]
    pub metrics: Value,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A stored model (`LoadedModel::to_bytes`'s bytes) in `format`. `manifest` is asked for only
/// by a bundle.
pub fn export(stored: &[u8], format: Format, manifest: impl FnOnce(&Header) -> Manifest) -> Result<Vec<u8>> {
    let header = LoadedModel::read_header(stored)?;
    let model = &stored[header.bytes()?.len()..];
    if format == Format::Bundle {
        let manifest = serde_json::to_vec(&manifest(&header))
            .map_err(|e| Error::Internal(format!("cannot write the manifest: {e}")))?;
        let mut out = Vec::with_capacity(13 + manifest.len() + stored.len());
        out.extend_from_slice(BUNDLE_MAGIC);
        out.push(BUNDLE_VERSION);
        out.extend_from_slice(&(manifest.len() as u32).to_le_bytes());
        out.extend_from_slice(&manifest);
        out.extend_from_slice(stored);
        return Ok(out);
    }
    let family = match header.algorithm.as_str() {
        onnx::ALGORITHM => None,
        name => native_family(Algorithm::parse(name)?),
    };
    let wanted = match (format, family) {
        (Format::Onnx, _) => return onnx::export(stored),
        (Format::XgboostUbj | Format::XgboostJson, Some(Format::XgboostUbj))
        | (Format::Lightgbm, Some(Format::Lightgbm)) => format,
        _ => {
            return Err(Error::unsupported(format!(
                "{} models cannot be exported as {}",
                header.algorithm,
                format.name()
            ))
            .with_hint(match family {
                Some(f) => format!("export it as '{}' or 'bundle'", f.name()),
                None => "export it as 'bundle'".into(),
            }))
        }
    };
    if header.preprocess.is_some() || header.targets.is_some() {
        return Err(Error::unsupported(format!(
            "model trained with {}: {} has no place for it",
            if header.targets.is_some() { "several targets" } else { "preprocessing" },
            format.name()
        ))
        .with_hint("export it as 'bundle'"));
    }
    let names = schema::feature_names(&header.features, header.num_features);
    match wanted {
        Format::Lightgbm => {
            let (_, text) = algorithms::lightgbm::split_stored(model)?;
            let names: Vec<String> = names.iter().map(|n| lightgbm_name(n)).collect();
            Ok(lightgbm::name_features(text, &names).into_bytes())
        }
        _ => {
            let (_, ubj) = algorithms::xgboost::split_stored(model)?;
            let mut json = ubjson::parse(ubj)?;
            let names: Vec<String> = names.iter().map(|n| xgboost_name(n)).collect();
            xgboost::name_features(&mut json, &names, &xgboost_types(&header));
            let attributes = &mut json["learner"]["attributes"];
            if !attributes.is_object() {
                *attributes = Value::Object(Default::default());
            }
            if header.task == Task::Classification {
                attributes["pgml_classes"] =
                    Value::from(serde_json::to_string(&header.classes).unwrap_or_default());
            }
            attributes["pgml_features"] =
                Value::from(serde_json::to_string(&header.features).unwrap_or_default());
            let json =
                serde_json::to_vec(&json).map_err(|e| Error::Internal(format!("XGBoost JSON: {e}")))?;
            algorithms::xgboost::library_file(
                &json,
                if wanted == Format::XgboostJson { "json" } else { "ubj" },
            )
        }
    }
}

/// The file format a stored model of `algorithm` has natively.
fn native_family(algorithm: Algorithm) -> Option<Format> {
    match algorithm {
        Algorithm::Xgboost | Algorithm::XgboostRandomForest | Algorithm::GradientBoostingTrees => {
            Some(Format::XgboostUbj)
        }
        Algorithm::Lightgbm | Algorithm::HistGradientBoosting => Some(Format::Lightgbm),
        _ => None,
    }
}

/// A feature name XGBoost accepts (none of `[`, `]`, `<`): `v[2]` is written `v_2`.
fn xgboost_name(name: &str) -> String {
    name.replace('[', "_").replace(']', "").replace('<', "_")
}

/// A feature name LightGBM accepts (no spaces, none of JSON's special characters).
fn lightgbm_name(name: &str) -> String {
    name.replace('[', "_")
        .chars()
        .filter(|c| *c != ']')
        .map(|c| if c.is_whitespace() || "{}:,\"".contains(c) { '_' } else { c })
        .collect()
}

/// XGBoost's feature types of a model's features: `int` for integers and categorical codes,
/// `i` (indicator) for booleans, `float` otherwise.
fn xgboost_types(header: &Header) -> Vec<&'static str> {
    let mut out = Vec::with_capacity(header.num_features);
    for c in &header.features {
        let t = match c.kind {
            FeatureKind::Boolean => "i",
            FeatureKind::Categorical => "int",
            FeatureKind::Numeric if c.pg_type.contains("int") => "int",
            _ => "float",
        };
        out.extend(std::iter::repeat_n(t, c.size));
    }
    out.resize(header.num_features, "float");
    out
}

/// A model read from a file: its stored bytes (`LoadedModel::to_bytes`'s), what it is, and the
/// bundle's manifest when it came in one.
#[derive(Debug)]
pub struct Imported {
    pub header: Header,
    pub stored: Vec<u8>,
    pub format: Format,
    pub manifest: Option<Manifest>,
}

impl Imported {
    /// Learns from holdout rows (model inputs) what the file could not hold: an ONNX model's
    /// tree covers and input means, which its explanations need. Other models are unchanged.
    pub fn observe(mut self, x: &Matrix) -> Result<Imported> {
        if self.header.algorithm != onnx::ALGORITHM {
            return Ok(self);
        }
        let start = self.header.bytes()?.len();
        let mut pipeline: onnx::model::Pipeline = serde_json::from_slice(&self.stored[start..])
            .map_err(|e| Error::Internal(format!("corrupt ONNX pipeline: {e}")))?;
        pipeline.observe(x);
        self.stored.truncate(start);
        self.stored.extend(algorithms::Model::to_bytes(&pipeline)?);
        Ok(self)
    }

    /// The import with other columns for its inputs (as many features, none of them text).
    pub fn with_features(mut self, columns: Vec<FeatureColumn>) -> Result<Imported> {
        let model = self.stored[self.header.bytes()?.len()..].to_vec();
        self.header = with_features(self.header, columns)?;
        self.stored = [self.header.bytes()?, model].concat();
        Ok(self)
    }
}

/// Reads a model file of `format` (None: sniffed). `features` names the model's inputs in
/// order (None: the names the file holds, else `f1`, `f2`, …).
pub fn import(
    bytes: &[u8],
    format: Option<Format>,
    features: Option<Vec<FeatureColumn>>,
) -> Result<Imported> {
    if bytes.len() > MAX_BYTES {
        return Err(Error::invalid(format!(
            "the model file is {} MiB; pgml.import reads at most {} MiB",
            bytes.len() >> 20,
            MAX_BYTES >> 20
        )));
    }
    if bytes.is_empty() {
        return Err(Error::invalid("the model file is empty"));
    }
    let bytes = without_postgresml_prefix(bytes);
    let sniffed = Format::sniff(bytes).ok();
    let format = match (format, sniffed) {
        (None, Some(f)) | (Some(f), None) => f,
        (None, None) => Format::sniff(bytes)?,
        // XGBoost's JSON and UBJ are read alike; other formats are told apart by their start
        (Some(f), Some(s))
            if f != s && [f, s].iter().any(|f| matches!(f, Format::Bundle | Format::Lightgbm)) =>
        {
            return Err(Error::invalid(format!("the model file is a {} file, not {}", s.name(), f.name()))
                .with_hint("leave format NULL: pgml.import recognises the file"))
        }
        (Some(f), Some(_)) => f,
    };
    let (header, model, manifest) = match format {
        Format::Bundle => {
            let (manifest, stored) = read_bundle(bytes)?;
            let (header, model) = check_bundled(stored)?;
            (header, model, Some(manifest))
        }
        Format::XgboostUbj | Format::XgboostJson => {
            let (facts, json, model) = checked_xgboost(xgboost::parse(bytes)?)?;
            let classes = attribute_classes(&json, facts.classes);
            let header =
                native_header("xgboost", facts.task, classes, facts.num_feature, &facts.feature_names);
            (header, model, None)
        }
        Format::Lightgbm => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| Error::invalid("the LightGBM model is not UTF-8 text"))?;
            let (checked, model) = checked_lightgbm(text)?;
            let classes = (0..checked.classes).map(|c| c as f32).collect();
            let header =
                native_header("lightgbm", checked.task, classes, checked.num_feature, &checked.feature_names);
            (header, model, None)
        }
        Format::Onnx => {
            let c = onnx::compile(bytes)?;
            let mut header = native_header(onnx::ALGORITHM, c.task, c.classes, c.pipeline.features, &[]);
            header.features = c.features.unwrap_or_default();
            (header, algorithms::Model::to_bytes(&c.pipeline)?, None)
        }
    };
    let header = match features {
        None => header,
        Some(columns) => with_features(header, columns)?,
    };
    let stored = [header.bytes()?, model].concat();
    Ok(Imported { header, stored, format, manifest })
}

/// PostgresML stores a LightGBM model as its feature and class counts (two big-endian u64)
/// before LightGBM's text: such a file (`pgml.files.data` of a PostgresML database) is read
/// from its text.
fn without_postgresml_prefix(bytes: &[u8]) -> &[u8] {
    match bytes.get(16..) {
        Some(text) if text.starts_with(b"tree\n") && !bytes.starts_with(b"tree") => text,
        _ => bytes,
    }
}

/// An XGBoost model checked, then read by the library from the JSON written of the checked
/// value: its facts, that JSON value, and the stored bytes.
fn checked_xgboost(mut json: Value) -> Result<(xgboost::Facts, Value, Vec<u8>)> {
    let facts = xgboost::check(&mut json)?;
    let text = serde_json::to_vec(&json).map_err(|e| Error::Internal(format!("XGBoost JSON: {e}")))?;
    let stored = algorithms::xgboost::stored_from_json(&text, facts.classes).map_err(refused("XGBoost"))?;
    Ok((facts, json, stored))
}

/// A LightGBM text model checked, then read by the library in its canonical form: what it
/// holds, and the stored bytes.
fn checked_lightgbm(text: &str) -> Result<(lightgbm::Checked, Vec<u8>)> {
    let checked = lightgbm::check(text)?;
    let stored = algorithms::lightgbm::stored_from_text(&checked.text, checked.classes)
        .map_err(refused("LightGBM"))?;
    Ok((checked, stored))
}

/// A library's refusal of a file that passed our checks: still the file's fault (22023).
fn refused(library: &'static str) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::Internal(message) => Error::invalid(format!("{library} cannot read the model: {message}")),
        other => other,
    }
}

/// The class labels an XGBoost file exported here carries; else `0..k`.
fn attribute_classes(json: &Value, classes: usize) -> Vec<f32> {
    let saved = json["learner"]["attributes"]["pgml_classes"]
        .as_str()
        .and_then(|s| serde_json::from_str::<Vec<f32>>(s).ok())
        .filter(|c| {
            c.len() == classes && c.iter().all(|v| v.is_finite()) && c.windows(2).all(|w| w[0] < w[1])
        });
    saved.unwrap_or_else(|| (0..classes).map(|c| c as f32).collect())
}

fn numeric(name: &str) -> FeatureColumn {
    FeatureColumn {
        name: name.into(),
        pg_type: "real".into(),
        kind: FeatureKind::Numeric,
        size: 1,
        levels: vec![],
    }
}

fn native_header(
    algorithm: &str,
    task: Task,
    classes: Vec<f32>,
    num_features: usize,
    names: &[String],
) -> Header {
    // a file's generic names (f0, Column_0) say nothing: the model takes f1, f2, … then
    let generic = names.iter().enumerate().all(|(i, n)| *n == format!("f{i}") || *n == format!("Column_{i}"));
    let features = if generic { Vec::new() } else { names.iter().map(|n| numeric(n)).collect() };
    Header {
        algorithm: algorithm.into(),
        task,
        num_features,
        classes,
        features,
        preprocess: None,
        targets: None,
        input_means: None,
    }
}

/// The header with the caller's feature columns: as many features as the model takes, and
/// none categorical (an imported model's inputs are numbers; its file holds no levels).
fn with_features(mut header: Header, columns: Vec<FeatureColumn>) -> Result<Header> {
    if header.features == columns {
        return Ok(header);
    }
    let width = schema::width(&columns);
    if width != header.num_features {
        return Err(Error::data(format!(
            "the model takes {} features, the features given make {width}",
            header.num_features
        ))
        .with_hint(format!("the model's own features: {}", header.feature_list())));
    }
    if let Some(c) = columns.iter().find(|c| c.kind == FeatureKind::Categorical) {
        return Err(Error::unsupported(format!(
            "feature \"{}\" is text ({}); an imported model takes numbers",
            c.name, c.pg_type
        ))
        .with_hint("give the model a view that encodes the column as the model was trained on it"));
    }
    let names = |c: &[FeatureColumn], n| schema::feature_names(c, n);
    if header.preprocess.is_some() && names(&header.features, width) != names(&columns, width) {
        return Err(Error::invalid("a bundled model with preprocessing keeps its own features")
            .with_hint(format!("it takes: {}", header.feature_list())));
    }
    header.features = columns;
    Ok(header)
}

fn read_bundle(bytes: &[u8]) -> Result<(Manifest, &[u8])> {
    let bad = |what: &str| Error::invalid(format!("the bundle is malformed: {what}"));
    if bytes.len() < 13 || &bytes[..8] != BUNDLE_MAGIC {
        return Err(bad("no bundle header"));
    }
    if bytes[8] != BUNDLE_VERSION {
        return Err(Error::unsupported(format!(
            "bundle version {} is newer than this pgml-rs reads",
            bytes[8]
        ))
        .with_hint("upgrade pgml-rs here, or export the model from a database of the same version"));
    }
    let len = u32::from_le_bytes([bytes[9], bytes[10], bytes[11], bytes[12]]) as usize;
    if bytes.len() - 13 < len {
        return Err(bad("the manifest is cut short"));
    }
    let manifest: Manifest =
        serde_json::from_slice(&bytes[13..13 + len]).map_err(|e| bad(&format!("its manifest: {e}")))?;
    Ok((manifest, &bytes[13 + len..]))
}

/// A bundle's stored model, checked as an import of its family is: the header, and the model's
/// bytes to store.
fn check_bundled(stored: &[u8]) -> Result<(Header, Vec<u8>)> {
    let bad = |what: String| Error::invalid(format!("the bundle's model is malformed: {what}"));
    let header = LoadedModel::read_header(stored).map_err(|e| bad(e.to_string()))?;
    let model = &stored[header.bytes()?.len().min(stored.len())..];
    let family = match header.algorithm.as_str() {
        onnx::ALGORITHM => None,
        name => native_family(Algorithm::parse(name)?),
    };
    let expected_classes = if header.task == Task::Classification { header.classes.len() } else { 0 };
    if !header.features.is_empty() && schema::width(&header.features) != header.num_features {
        return Err(bad("its features do not make its width".into()));
    }
    if header.num_features == 0 || header.num_features > 1 << 20 {
        return Err(bad(format!("{} features", header.num_features)));
    }
    if family.is_some() && header.targets.is_some() {
        return Err(Error::unsupported(format!(
            "a bundled {} model of several targets cannot be imported",
            header.algorithm
        ))
        .with_hint("retrain it here with pgml.train_joint"));
    }
    let checked = match family {
        Some(Format::XgboostUbj) => {
            let (classes, ubj) = algorithms::xgboost::split_stored(model)?;
            let (facts, _, stored) = checked_xgboost(ubjson::parse(ubj)?)?;
            if facts.classes != classes
                || classes != expected_classes
                || facts.num_feature != header.num_features
            {
                return Err(bad("its classes or features disagree with its header".into()));
            }
            stored
        }
        Some(_) => {
            let (classes, text) =
                algorithms::lightgbm::split_stored(model).map_err(|e| bad(e.to_string()))?;
            let (c, stored) = checked_lightgbm(text)?;
            if c.classes != classes || classes != expected_classes || c.num_feature != header.num_features {
                return Err(bad("its classes or features disagree with its header".into()));
            }
            stored
        }
        None => {
            // a model of our own: read in Rust (refusing what does not decode), then tried on a
            // row of zeros and a row of NaN, where a model inconsistent with its header fails
            let whole = [header.bytes()?, model.to_vec()].concat();
            let loaded = LoadedModel::from_bytes(&whole).map_err(|e| bad(e.to_string()))?;
            for v in [0.0f32, f32::NAN] {
                let x = Matrix { data: vec![v; header.num_features], rows: 1, cols: header.num_features };
                let tried = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match header.task {
                    Task::Decomposition => loaded.decompose(&x).map(|_| ()),
                    _ if header.targets.is_some() => loaded.predict_joint(&x).map(|_| ()),
                    _ => loaded.predict(&x).map(|_| ()),
                }));
                if tried.is_err() {
                    return Err(bad("it cannot predict a row of its own width".into()));
                }
            }
            model.to_vec()
        }
    };
    Ok((header, checked))
}

#[cfg(test)]
mod tests;
