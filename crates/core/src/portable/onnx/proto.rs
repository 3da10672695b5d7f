//! The parts of ONNX's protobuf messages a model import reads (`ModelProto`, `GraphProto`,
//! `NodeProto`, `AttributeProto`, `TensorProto`, `ValueInfoProto`), decoded from the wire
//! format by hand for untrusted bytes: every length is checked against what is left, fields
//! not read are skipped, subgraphs are not entered, and counts are bounded by the input.

use crate::error::{Error, Result};

/// A model file's parts that matter here.
#[derive(Debug, Default)]
pub struct Model {
    pub ir_version: i64,
    pub producer: String,
    /// (domain, version) of each operator set imported.
    pub opsets: Vec<(String, i64)>,
    pub graph: Graph,
    /// `metadata_props`: (key, value).
    pub metadata: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub initializers: Vec<Tensor>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
}

#[derive(Debug, Default)]
pub struct Node {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub op_type: String,
    pub domain: String,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Default)]
pub struct Attribute {
    pub name: String,
    pub f: Option<f32>,
    pub i: Option<i64>,
    pub s: Option<Vec<u8>>,
    pub t: Option<Tensor>,
    pub floats: Vec<f32>,
    pub ints: Vec<i64>,
    pub strings: Vec<Vec<u8>>,
}

/// A tensor's values, as numbers: float, double and integer types are read; any other type
/// keeps its `data_type` and no values.
#[derive(Debug, Default, Clone)]
pub struct Tensor {
    pub name: String,
    pub dims: Vec<i64>,
    pub data_type: i32,
    pub values: Vec<f64>,
}

#[derive(Debug, Default)]
pub struct ValueInfo {
    pub name: String,
    /// The tensor's element type (0 when not a tensor: a map or a sequence).
    pub elem_type: i32,
    /// Each dimension's size; None for a symbolic or unknown one.
    pub shape: Vec<Option<i64>>,
}

pub const FLOAT: i32 = 1;
pub const INT32: i32 = 6;
pub const INT64: i32 = 7;
pub const DOUBLE: i32 = 11;

pub fn parse(bytes: &[u8]) -> Result<Model> {
    let mut model = Model::default();
    let mut graphs = 0;
    for field in Fields::new(bytes) {
        let (number, value) = field?;
        match (number, value) {
            (1, Value::Varint(v)) => model.ir_version = v as i64,
            (2, Value::Bytes(b)) => model.producer = text(b),
            (7, Value::Bytes(b)) => {
                graphs += 1;
                model.graph = graph(b)?;
            }
            (8, Value::Bytes(b)) => {
                let (mut domain, mut version) = (String::new(), 0);
                for f in Fields::new(b) {
                    match f? {
                        (1, Value::Bytes(b)) => domain = text(b),
                        (2, Value::Varint(v)) => version = v as i64,
                        _ => {}
                    }
                }
                model.opsets.push((domain, version));
            }
            (14, Value::Bytes(b)) => {
                let (mut key, mut value) = (String::new(), String::new());
                for f in Fields::new(b) {
                    match f? {
                        (1, Value::Bytes(b)) => key = text(b),
                        (2, Value::Bytes(b)) => value = text(b),
                        _ => {}
                    }
                }
                model.metadata.push((key, value));
            }
            _ => {}
        }
    }
    if graphs != 1 {
        return Err(bad("the file holds no graph"));
    }
    Ok(model)
}

fn graph(bytes: &[u8]) -> Result<Graph> {
    let mut g = Graph::default();
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(b)) => g.nodes.push(node(b)?),
            (5, Value::Bytes(b)) => g.initializers.push(tensor(b)?),
            (11, Value::Bytes(b)) => g.inputs.push(value_info(b)?),
            (12, Value::Bytes(b)) => g.outputs.push(value_info(b)?),
            (15, Value::Bytes(_)) => {
                return Err(Error::unsupported("the ONNX graph has sparse initializers"))
            }
            _ => {}
        }
    }
    Ok(g)
}

fn node(bytes: &[u8]) -> Result<Node> {
    let mut n = Node::default();
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(b)) => n.inputs.push(text(b)),
            (2, Value::Bytes(b)) => n.outputs.push(text(b)),
            (4, Value::Bytes(b)) => n.op_type = text(b),
            (5, Value::Bytes(b)) => n.attributes.push(attribute(b)?),
            (7, Value::Bytes(b)) => n.domain = text(b),
            _ => {}
        }
    }
    Ok(n)
}

fn attribute(bytes: &[u8]) -> Result<Attribute> {
    let mut a = Attribute::default();
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(b)) => a.name = text(b),
            (2, Value::Fixed32(v)) => a.f = Some(f32::from_bits(v)),
            (3, Value::Varint(v)) => a.i = Some(v as i64),
            (4, Value::Bytes(b)) => a.s = Some(b.to_vec()),
            (5, Value::Bytes(b)) => a.t = Some(tensor(b)?),
            (7, Value::Fixed32(v)) => a.floats.push(f32::from_bits(v)),
            (7, Value::Bytes(b)) => a.floats.extend(packed_fixed32(b)?.map(f32::from_bits)),
            (8, Value::Varint(v)) => a.ints.push(v as i64),
            (8, Value::Bytes(b)) => a.ints.extend(packed_varints(b)?),
            (9, Value::Bytes(b)) => a.strings.push(b.to_vec()),
            _ => {}
        }
    }
    Ok(a)
}

fn tensor(bytes: &[u8]) -> Result<Tensor> {
    let mut t = Tensor::default();
    let mut raw: Option<&[u8]> = None;
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Varint(v)) => t.dims.push(v as i64),
            (1, Value::Bytes(b)) => t.dims.extend(packed_varints(b)?),
            (2, Value::Varint(v)) => t.data_type = v as i32,
            (4, Value::Fixed32(v)) => t.values.push(f32::from_bits(v) as f64),
            (4, Value::Bytes(b)) => t.values.extend(packed_fixed32(b)?.map(|v| f32::from_bits(v) as f64)),
            (5 | 7, Value::Varint(v)) => t.values.push(v as i64 as f64),
            (5, Value::Bytes(b)) => t.values.extend(packed_varints(b)?.into_iter().map(|v| v as i32 as f64)),
            (7, Value::Bytes(b)) => t.values.extend(packed_varints(b)?.into_iter().map(|v| v as f64)),
            (8, Value::Bytes(b)) => t.name = text(b),
            (9, Value::Bytes(b)) => raw = Some(b),
            (10, Value::Fixed64(v)) => t.values.push(f64::from_bits(v)),
            (10, Value::Bytes(b)) => {
                if !b.len().is_multiple_of(8) {
                    return Err(bad("a tensor's doubles are cut short"));
                }
                t.values.extend(b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())));
            }
            (13, _) => {
                return Err(Error::unsupported("the ONNX model keeps tensors in external files")
                    .with_hint("save it as one file (onnx.save_model(..., save_as_external_data=False))"))
            }
            _ => {}
        }
    }
    if let Some(raw) = raw {
        let width = match t.data_type {
            FLOAT | INT32 => 4,
            INT64 | DOUBLE => 8,
            _ => 0,
        };
        if width > 0 {
            if !raw.len().is_multiple_of(width) {
                return Err(bad("a tensor's raw data is cut short"));
            }
            t.values = raw
                .chunks_exact(width)
                .map(|c| match t.data_type {
                    FLOAT => f32::from_le_bytes(c.try_into().unwrap()) as f64,
                    INT32 => i32::from_le_bytes(c.try_into().unwrap()) as f64,
                    INT64 => i64::from_le_bytes(c.try_into().unwrap()) as f64,
                    _ => f64::from_le_bytes(c.try_into().unwrap()),
                })
                .collect();
        }
    }
    let count = t.dims.iter().try_fold(1i64, |n, &d| if d < 0 { None } else { n.checked_mul(d) });
    if count != Some(t.values.len() as i64) && matches!(t.data_type, FLOAT | INT32 | INT64 | DOUBLE) {
        return Err(bad(&format!(
            "tensor \"{}\" has {} values for its shape {:?}",
            t.name,
            t.values.len(),
            t.dims
        )));
    }
    Ok(t)
}

fn value_info(bytes: &[u8]) -> Result<ValueInfo> {
    let mut v = ValueInfo::default();
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(b)) => v.name = text(b),
            (2, Value::Bytes(ty)) => {
                for f in Fields::new(ty) {
                    // TypeProto.tensor_type
                    if let (1, Value::Bytes(tensor)) = f? {
                        for f in Fields::new(tensor) {
                            match f? {
                                (1, Value::Varint(e)) => v.elem_type = e as i32,
                                (2, Value::Bytes(shape)) => {
                                    for dim in Fields::new(shape) {
                                        if let (1, Value::Bytes(dim)) = dim? {
                                            let mut size = None;
                                            for f in Fields::new(dim) {
                                                if let (1, Value::Varint(n)) = f? {
                                                    size = Some(n as i64);
                                                }
                                            }
                                            v.shape.push(size);
                                        }
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(v)
}

fn bad(what: &str) -> Error {
    Error::invalid(format!("the ONNX model is malformed: {what}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// The fields of one message, in order.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Fields<'a> {
        Fields { bytes, at: 0, failed: false }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = *self.bytes.get(self.at).ok_or_else(|| bad("a number is cut short"))?;
            self.at += 1;
            if shift == 63 && b > 1 {
                return Err(bad("a number is too long"));
            }
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("a number is too long"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() - self.at < n {
            return Err(bad("a field is cut short"));
        }
        let out = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(out)
    }

    fn field(&mut self) -> Result<(u64, Value<'a>)> {
        let key = self.varint()?;
        let (number, wire) = (key >> 3, key & 7);
        if number == 0 {
            return Err(bad("field number 0"));
        }
        let value = match wire {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().unwrap())),
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| bad("a length is too large"))?;
                Value::Bytes(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().unwrap())),
            _ => return Err(bad(&format!("wire type {wire}"))),
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Value<'a>)>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at >= self.bytes.len() {
            return None;
        }
        let f = self.field();
        self.failed = f.is_err();
        Some(f)
    }
}

fn packed_fixed32(b: &[u8]) -> Result<impl Iterator<Item = u32> + '_> {
    if !b.len().is_multiple_of(4) {
        return Err(bad("packed floats are cut short"));
    }
    Ok(b.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())))
}

fn packed_varints(b: &[u8]) -> Result<Vec<i64>> {
    let mut f = Fields::new(b);
    let mut out = Vec::new();
    while f.at < b.len() {
        out.push(f.varint()? as i64);
    }
    Ok(out)
}
