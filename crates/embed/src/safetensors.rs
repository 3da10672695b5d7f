//! A read-only view of a `.safetensors` file, mapped rather than read: every backend that
//! loads the same model shares the page cache's one copy of its weights (90 MB for
//! all-MiniLM-L6-v2), and only the rows of the word-embedding table a text uses are touched.
//!
//! The format: an 8-byte little-endian header length, a JSON header mapping each tensor's
//! name to its dtype, shape and byte range, then the data.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{EmbedError, Result};

/// A mapped file and its tensors' places in it.
pub struct SafeTensors {
    map: Mapping,
    data_start: usize,
    tensors: HashMap<String, Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// A tensor's values as f32: borrowed from the mapping when stored as aligned f32, converted
/// otherwise (f16, bf16, or an unaligned f32 tensor).
pub enum Floats<'a> {
    Borrowed(&'a [f32]),
    Owned(Vec<f32>),
}

impl std::ops::Deref for Floats<'_> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            Floats::Borrowed(s) => s,
            Floats::Owned(v) => v,
        }
    }
}

impl SafeTensors {
    pub fn open(path: &Path) -> Result<SafeTensors> {
        let map = Mapping::open(path)?;
        let bytes = map.bytes();
        let bad = |why: &str| EmbedError::model_file(path, why);
        let header_len = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
            .ok_or_else(|| bad("shorter than its 8-byte header length"))?;
        let header = bytes
            .get(8..8usize.saturating_add(header_len))
            .ok_or_else(|| bad("header longer than the file"))?;
        let mut raw: HashMap<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|e| bad(&format!("header is not JSON: {e}")))?;
        raw.remove("__metadata__");
        let mut tensors = HashMap::with_capacity(raw.len());
        for (name, value) in raw {
            let entry: Entry =
                serde_json::from_value(value).map_err(|e| bad(&format!("tensor {name}: {e}")))?;
            tensors.insert(name, entry);
        }
        let data_start = 8 + header_len;
        let data_len = bytes.len() - data_start;
        for (name, e) in &tensors {
            let [start, end] = e.data_offsets;
            let count: usize = e.shape.iter().product();
            let size_ok = dtype_width(&e.dtype).is_none_or(|width| end.wrapping_sub(start) == count * width);
            if start > end || end > data_len || !size_ok {
                return Err(bad(&format!("tensor {name}'s byte range does not match its shape")));
            }
        }
        Ok(SafeTensors { map, data_start, tensors })
    }

    /// Whether the file holds a tensor of this name.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The named tensor's shape and values; None if there is no such floating-point tensor.
    pub fn get(&self, name: &str) -> Option<(&[usize], Floats<'_>)> {
        let e = self.tensors.get(name)?;
        let bytes =
            &self.map.bytes()[self.data_start + e.data_offsets[0]..self.data_start + e.data_offsets[1]];
        let floats = match e.dtype.as_str() {
            "F32" if (bytes.as_ptr() as usize).is_multiple_of(4) && cfg!(target_endian = "little") => {
                // SAFETY: aligned, in bounds, every bit pattern is a valid f32, and the
                // mapping lives as long as `self`.
                Floats::Borrowed(unsafe {
                    std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), bytes.len() / 4)
                })
            }
            "F32" => Floats::Owned(
                bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect(),
            ),
            "F16" => Floats::Owned(
                bytes.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
            ),
            "BF16" => Floats::Owned(
                bytes
                    .chunks_exact(2)
                    .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
                    .collect(),
            ),
            _ => return None,
        };
        Some((&e.shape, floats))
    }
}

fn dtype_width(dtype: &str) -> Option<usize> {
    match dtype {
        "F32" => Some(4),
        "F16" | "BF16" | "I16" | "U16" => Some(2),
        "F64" | "I64" | "U64" => Some(8),
        "I32" | "U32" => Some(4),
        "I8" | "U8" | "BOOL" => Some(1),
        _ => None,
    }
}

/// IEEE half precision to single, subnormals and infinities included.
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = frac * 2^-24.
            return if sign != 0 { -(frac as f32) * 2f32.powi(-24) } else { frac as f32 * 2f32.powi(-24) };
        }
        (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// A private read-only mapping of a whole file, unmapped on drop.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and never changes after creation.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    fn open(path: &Path) -> Result<Mapping> {
        let file = std::fs::File::open(path).map_err(|e| EmbedError::io(path, e))?;
        let len = file.metadata().map_err(|e| EmbedError::io(path, e))?.len() as usize;
        if len == 0 {
            return Err(EmbedError::model_file(path, "is empty"));
        }
        use std::os::fd::AsRawFd;
        // SAFETY: maps `len` bytes of an open file read-only; the fd may close afterwards.
        let ptr = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0)
        };
        if ptr == libc::MAP_FAILED {
            return Err(EmbedError::io(path, std::io::Error::last_os_error()));
        }
        Ok(Mapping { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes for the life of `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `open` mapped.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_converts_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert_eq!(f16_to_f32(0x8000), -0.0);
    }
}
