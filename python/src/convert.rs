//! Conversions between Python objects and SDK values. No decisions about data live here: the
//! SDK validates; these functions only change representation.

use apache_avro::types::Value as AvroValue;
use attune::import::Cell;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// A serde-serializable SDK value (the Personalize-shaped descriptions) as Python objects:
/// objects become dicts with the same (camelCase) keys.
pub(crate) fn to_py<'py>(
    py: Python<'py>,
    value: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_value(value)
        .map_err(|e| PyValueError::new_err(format!("cannot convert a result: {e}")))?;
    json_to_py(py, &json)
}

/// A JSON value as Python objects (`null` is `None`).
pub(crate) fn json_to_py<'py>(
    py: Python<'py>,
    v: &serde_json::Value,
) -> PyResult<Bound<'py, PyAny>> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => py.None().into_bound(py),
        J::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        J::String(s) => PyString::new(py, s).into_any(),
        J::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        J::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, json_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// A schema given as a JSON string or as a dict (serialized with Python's `json.dumps`).
pub(crate) fn schema_json(schema: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = schema.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    let py = schema.py();
    py.import("json")?
        .getattr("dumps")?
        .call1((schema,))?
        .extract()
}

/// One value of an in-memory row: `None` and NaN (pandas' missing value) are missing, a
/// list or tuple of strings is a `|`-separated categorical value, other values keep their type.
/// An unsupported type is an error message (reported as that row's error).
pub(crate) fn cell(v: &Bound<'_, PyAny>) -> Result<Cell, String> {
    let unsupported = |v: &Bound<'_, PyAny>| {
        let ty = v
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into());
        format!("a value of type {ty} is not supported (use str, int, float, bool or None)")
    };
    if v.is_none() {
        return Ok(Cell::Null);
    }
    if let Ok(s) = v.cast::<PyString>() {
        return s
            .to_cow()
            .map(|s| Cell::Text(s.into_owned()))
            .map_err(|e| e.to_string());
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Cell::Bool(b.is_true()));
    }
    if let Ok(i) = v.cast::<PyInt>() {
        return Ok(match i.extract::<i64>() {
            Ok(i) => Cell::Int(i),
            // Beyond 64 bits: its decimal text, which the field's parser rejects or keeps.
            Err(_) => Cell::Text(i.str().map_err(|e| e.to_string())?.to_string()),
        });
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        let f = f.value();
        return Ok(if f.is_nan() {
            Cell::Null
        } else {
            Cell::Float(f)
        });
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let parts: Vec<String> = v.extract().map_err(|_| unsupported(v))?;
        return Ok(Cell::Text(parts.join("|")));
    }
    // numpy scalars and other numbers.
    if v.hasattr("__index__").unwrap_or(false) {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Cell::Int(i));
        }
    }
    if v.hasattr("__float__").unwrap_or(false) {
        if let Ok(f) = v.extract::<f64>() {
            return Ok(if f.is_nan() {
                Cell::Null
            } else {
                Cell::Float(f)
            });
        }
    }
    Err(unsupported(v))
}

/// A stored value (a plain Avro value of a field) as a Python object.
pub(crate) fn avro_to_py<'py>(py: Python<'py>, v: &AvroValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        AvroValue::Null => py.None().into_bound(py),
        AvroValue::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
        AvroValue::Int(i) => i.into_pyobject(py)?.into_any(),
        AvroValue::Long(i) => i.into_pyobject(py)?.into_any(),
        AvroValue::Float(f) => f64::from(*f).into_pyobject(py)?.into_any(),
        AvroValue::Double(f) => f.into_pyobject(py)?.into_any(),
        AvroValue::String(s) => PyString::new(py, s).into_any(),
        AvroValue::Union(_, inner) => avro_to_py(py, inner)?,
        other => PyString::new(py, &format!("{other:?}")).into_any(),
    })
}
