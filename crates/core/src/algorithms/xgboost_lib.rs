//! The XGBoost C API, owned: the library `xgboost_lib-sys` (the binding under the `xgb`
//! crate, which we do not use) links, called through its bindings directly. A hist training
//! matrix is XGBoost's QuantileDMatrix, fed by a one-batch callback, so our rows are binned
//! straight into XGBoost's 1-byte index instead of first being copied into its 8-byte
//! sparse entries; predictions run in place on our dense rows, with no matrix at all.

use crate::data::Matrix;
use crate::error::{Error, Result};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use xgboost_sys as sys;

fn check(code: c_int) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    // SAFETY: XGBoost returns a NUL-terminated, thread-local message.
    let message = unsafe { CStr::from_ptr(sys::XGBGetLastError()) }.to_string_lossy().into_owned();
    Err(Error::Internal(format!("XGBoost: {message}")))
}

fn c_string(text: String) -> Result<CString> {
    CString::new(text).map_err(|_| Error::invalid("an XGBoost setting contains a NUL character"))
}

/// The `__array_interface__` JSON of `values` with `shape`, as XGBoost's C API takes arrays.
/// The pointer is only read while `values` is borrowed by the call it is passed to.
fn array(values: &[f32], shape: &[usize]) -> Result<CString> {
    let shape: Vec<String> = shape.iter().map(usize::to_string).collect();
    c_string(format!(
        r#"{{"data": [{}, true], "shape": [{}], "typestr": "<f4", "version": 3}}"#,
        values.as_ptr() as usize,
        shape.join(", ")
    ))
}

/// A training matrix with its labels.
pub(super) struct TrainMatrix(sys::DMatrixHandle);

// SAFETY: a matrix is used by one thread at a time (a training's, or the one round a forest
// trains on a thread of its own); it holds its own copy of the rows, and XGBoost's handles are
// not tied to the thread that created them.
unsafe impl Send for TrainMatrix {}

impl Drop for TrainMatrix {
    fn drop(&mut self) {
        // SAFETY: the handle was created by XGBoost and is freed once.
        unsafe { sys::XGDMatrixFree(self.0) };
    }
}

/// The one batch the quantile callback hands to XGBoost (which may ask for it more than
/// once, after a reset).
struct OneBatch<'a> {
    x: &'a Matrix,
    y: &'a [f32],
    proxy: sys::DMatrixHandle,
    given: bool,
    failed: Option<Error>,
}

unsafe extern "C" fn next_batch(handle: sys::DataIterHandle) -> c_int {
    // SAFETY: `handle` is the `OneBatch` passed to XGQuantileDMatrixCreateFromCallback below,
    // alive for the whole call.
    let batch = unsafe { &mut *handle.cast::<OneBatch>() };
    if batch.given || batch.failed.is_some() {
        return 0;
    }
    batch.given = true;
    let set = (|| {
        let data = array(&batch.x.data, &[batch.x.rows, batch.x.cols])?;
        let label = array(batch.y, &[batch.y.len()])?;
        // SAFETY: the proxy is live; the arrays point into `batch`'s borrowed slices.
        unsafe {
            check(sys::XGProxyDMatrixSetDataDense(batch.proxy, data.as_ptr()))?;
            check(sys::XGDMatrixSetInfoFromInterface(batch.proxy, c"label".as_ptr(), label.as_ptr()))
        }
    })();
    match set {
        Ok(()) => 1,
        Err(e) => {
            batch.failed = Some(e);
            0
        }
    }
}

unsafe extern "C" fn reset_batches(handle: sys::DataIterHandle) {
    // SAFETY: as in `next_batch`.
    unsafe { (*handle.cast::<OneBatch>()).given = false };
}

const MISSING: &str = r#""missing": NaN, "nthread": 0"#;

impl TrainMatrix {
    /// XGBoost's QuantileDMatrix (for the `hist` method): the rows binned once, at
    /// `max_bin` bins per feature.
    pub(super) fn quantile(x: &Matrix, y: &[f32], max_bin: u32) -> Result<TrainMatrix> {
        let mut proxy = std::ptr::null_mut();
        // SAFETY: `proxy` receives a handle freed below.
        check(unsafe { sys::XGProxyDMatrixCreate(&mut proxy) })?;
        let mut batch = OneBatch { x, y, proxy, given: false, failed: None };
        let config = c_string(format!("{{{MISSING}, \"max_bin\": {max_bin}}}"))?;
        let mut out = std::ptr::null_mut();
        // SAFETY: `batch` outlives the call, which is the only one to use the callbacks.
        let created = check(unsafe {
            sys::XGQuantileDMatrixCreateFromCallback(
                (&mut batch as *mut OneBatch).cast::<c_void>(),
                proxy,
                std::ptr::null_mut(),
                Some(reset_batches),
                Some(next_batch),
                config.as_ptr(),
                &mut out,
            )
        });
        // SAFETY: the proxy is not used after this.
        unsafe { sys::XGDMatrixFree(proxy) };
        if let Some(e) = batch.failed {
            if !out.is_null() {
                drop(TrainMatrix(out));
            }
            return Err(e);
        }
        created?;
        Ok(TrainMatrix(out))
    }

    /// A plain DMatrix (for the `exact` and `approx` methods, which read the values).
    pub(super) fn dense(x: &Matrix, y: &[f32]) -> Result<TrainMatrix> {
        let data = array(&x.data, &[x.rows, x.cols])?;
        let config = c_string(format!("{{{MISSING}}}"))?;
        let mut out = std::ptr::null_mut();
        // SAFETY: the array interface points into `x`, borrowed for the call.
        check(unsafe { sys::XGDMatrixCreateFromDense(data.as_ptr(), config.as_ptr(), &mut out) })?;
        let matrix = TrainMatrix(out);
        let label = array(y, &[y.len()])?;
        // SAFETY: the matrix is live; the label array points into `y`.
        check(unsafe { sys::XGDMatrixSetInfoFromInterface(matrix.0, c"label".as_ptr(), label.as_ptr()) })?;
        Ok(matrix)
    }
}

/// A booster (XGBoost's learner).
pub(super) struct Learner(sys::BoosterHandle);

// SAFETY: a learner is used by one thread at a time (the model keeps it behind a mutex);
// XGBoost's handles are not tied to the thread that created them.
unsafe impl Send for Learner {}

impl Drop for Learner {
    fn drop(&mut self) {
        // SAFETY: the handle was created by XGBoost and is freed once.
        unsafe { sys::XGBoosterFree(self.0) };
    }
}

impl Learner {
    /// A learner to train on `train`.
    pub(super) fn new(train: &TrainMatrix) -> Result<Learner> {
        let mut out = std::ptr::null_mut();
        // SAFETY: one live matrix handle; `out` receives the booster.
        check(unsafe { sys::XGBoosterCreate(&train.0, 1, &mut out) })?;
        Ok(Learner(out))
    }

    /// A learner read back from `save("ubj")` or `save("json")` bytes.
    pub(super) fn load(bytes: &[u8]) -> Result<Learner> {
        let mut out = std::ptr::null_mut();
        // SAFETY: no matrices; `out` receives the booster.
        check(unsafe { sys::XGBoosterCreate(std::ptr::null(), 0, &mut out) })?;
        let mut learner = Learner(out);
        // SAFETY: `bytes` is readable for its length.
        check(unsafe {
            sys::XGBoosterLoadModelFromBuffer(learner.0, bytes.as_ptr().cast(), bytes.len() as u64)
        })?;
        match crate::threads::prediction_threads() {
            0 => {}
            n => learner.set("nthread", &n.to_string())?,
        }
        Ok(learner)
    }

    pub(super) fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let (name, value) = (c_string(name.into())?, c_string(value.into())?);
        // SAFETY: both are NUL-terminated.
        check(unsafe { sys::XGBoosterSetParam(self.0, name.as_ptr(), value.as_ptr()) })
    }

    /// One boosting round.
    /// The learner's configuration as XGBoost reports it: every parameter it uses, by name.
    pub(super) fn config(&self) -> Result<serde_json::Value> {
        let (mut len, mut buffer): (u64, *const c_char) = (0, std::ptr::null());
        let text = unsafe {
            check(sys::XGBoosterSaveJsonConfig(self.0, &mut len, &mut buffer))?;
            std::slice::from_raw_parts(buffer.cast::<u8>(), len as usize)
        };
        serde_json::from_slice(text).map_err(|e| Error::Internal(format!("XGBoost's configuration: {e}")))
    }

    pub(super) fn update(&mut self, round: i32, train: &TrainMatrix) -> Result<()> {
        // SAFETY: both handles are live.
        check(unsafe { sys::XGBoosterUpdateOneIter(self.0, round, train.0) })
    }

    /// The model in `format` ("ubj" or "json").
    pub(super) fn save(&self, format: &str) -> Result<Vec<u8>> {
        let config = c_string(format!(r#"{{"format": "{format}"}}"#))?;
        let (mut len, mut buffer): (u64, *const c_char) = (0, std::ptr::null());
        // SAFETY: XGBoost owns the buffer until the learner's next call; it is copied at once.
        unsafe {
            check(sys::XGBoosterSaveModelToBuffer(self.0, config.as_ptr(), &mut len, &mut buffer))?;
            Ok(std::slice::from_raw_parts(buffer.cast::<u8>(), len as usize).to_vec())
        }
    }

    /// XGBoost's own SHAP contributions of the rows of `x` (`pred_contribs`, or its
    /// approximate form): per row and output, one per feature and the bias last.
    #[cfg(test)]
    pub(super) fn contributions(&self, x: &Matrix, approximate: bool) -> Result<Vec<f32>> {
        let matrix = TrainMatrix::dense(x, &vec![0.0; x.rows])?;
        let config = c_string(format!(
            r#"{{"type": {}, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false}}"#,
            if approximate { 3 } else { 2 }
        ))?;
        let (mut shape, mut dim, mut result): (*const u64, u64, *const f32) =
            (std::ptr::null(), 0, std::ptr::null());
        // SAFETY: both handles are live; the result is XGBoost's buffer, copied at once.
        unsafe {
            check(sys::XGBoosterPredictFromDMatrix(
                self.0,
                matrix.0,
                config.as_ptr(),
                &mut shape,
                &mut dim,
                &mut result,
            ))?;
            let len: u64 = std::slice::from_raw_parts(shape, dim as usize).iter().product();
            Ok(std::slice::from_raw_parts(result, len as usize).to_vec())
        }
    }

    /// Predictions of the rows of `x`, in place (no DMatrix): XGBoost's `predict` output,
    /// or raw margins.
    pub(super) fn predict(&self, x: &Matrix, margin: bool) -> Result<Vec<f32>> {
        if x.rows == 0 {
            return Ok(Vec::new());
        }
        let data = array(&x.data, &[x.rows, x.cols])?;
        let config = c_string(format!(
            r#"{{"type": {}, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, {MISSING}}}"#,
            margin as u8
        ))?;
        let (mut shape, mut dim, mut result): (*const u64, u64, *const f32) =
            (std::ptr::null(), 0, std::ptr::null());
        // SAFETY: the array interface points into `x`, borrowed for the call; the result and
        // shape are XGBoost's thread-local buffers, copied before the learner is used again.
        unsafe {
            check(sys::XGBoosterPredictFromDense(
                self.0,
                data.as_ptr(),
                config.as_ptr(),
                std::ptr::null_mut(),
                &mut shape,
                &mut dim,
                &mut result,
            ))?;
            let len: u64 = std::slice::from_raw_parts(shape, dim as usize).iter().product();
            Ok(std::slice::from_raw_parts(result, len as usize).to_vec())
        }
    }
}
