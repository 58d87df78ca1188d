//! `attune.Model`: a trained solution version's model, for in-process inference.

use std::sync::Arc;

use attune::model::{Model, MAX_INPUT_ITEMS};
use attune::train::{self, SplitFile};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::convert::to_py;
use crate::error::{run, InvalidInputError};

/// A trained model (a solution version's artifact), held in memory. Inference runs in-process
/// with the semantics of the server's GetPersonalizedRanking and GetRecommendations, without
/// the GIL.
#[pyclass(name = "Model", module = "attune", frozen)]
#[derive(Debug)]
pub(crate) struct PyModel {
    pub(crate) inner: Arc<Model>,
}

/// A user's recent events, not yet trained on: item ids, or `(item_id, event_type)` pairs whose
/// weight is the event type's training weight.
fn recent_events(model: &Model, recent: &Bound<'_, PyAny>) -> PyResult<Vec<(String, f32)>> {
    let mut out = Vec::new();
    for ev in recent.try_iter()? {
        let ev = ev?;
        if let Ok(item) = ev.cast::<PyString>() {
            out.push((
                item.to_cow()?.into_owned(),
                model.header.default_event_weight,
            ));
        } else {
            let (item, event_type): (String, String) = ev.extract().map_err(|_| {
                InvalidInputError::new_err(
                    "recent: each event is an item id or an (item_id, event_type) pair",
                )
            })?;
            let weight = model.event_weight(&event_type);
            out.push((item, weight));
        }
    }
    Ok(out)
}

#[pymethods]
impl PyModel {
    /// The recipe's name: `attune-personalized-ranking`, `attune-similar-items` or
    /// `attune-popularity-count`.
    #[getter]
    fn recipe(&self) -> &'static str {
        self.inner.recipe().name()
    }

    /// The algorithm inside the recipe: `ials`, `ease`, `sims` or `popularity`.
    #[getter]
    fn algorithm(&self) -> &str {
        &self.inner.header.algorithm
    }

    /// The hyperparameters the model was trained with, as strings.
    #[getter]
    fn hyperparameters(&self) -> std::collections::BTreeMap<String, String> {
        self.inner.header.hyperparameters.clone()
    }

    /// How many items the model knows.
    #[getter]
    fn item_count(&self) -> usize {
        self.inner.items.len()
    }

    /// How many users the model was trained on.
    #[getter]
    fn user_count(&self) -> usize {
        self.inner.users.len()
    }

    /// Whether the model knows an item id.
    fn has_item(&self, item_id: &str) -> bool {
        self.inner.items.index(item_id).is_some()
    }

    /// Whether the model was trained on a user id.
    fn has_user(&self, user_id: &str) -> bool {
        self.inner.users.index(user_id).is_some()
    }

    /// GetPersonalizedRanking in-process: re-ranks `items` (at most 500 ids) for a user, with
    /// their `recent` events folded in. Returns `(item_id, score)` pairs, best first: known
    /// items by score (a softmax over them, summing to 1), then unknown items in input order
    /// with score `None`; a repeated id keeps its first occurrence. An unknown user without
    /// events is ranked by popularity.
    #[pyo3(signature = (user_id, items, recent=None))]
    fn rank<'py>(
        &self,
        py: Python<'py>,
        user_id: &str,
        items: &Bound<'py, PyAny>,
        recent: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let items = items.cast::<PyList>().map_or_else(
            |_| PyList::new(py, items.try_iter()?.collect::<PyResult<Vec<_>>>()?),
            |l| Ok(l.clone()),
        )?;
        if items.len() > MAX_INPUT_ITEMS {
            return Err(InvalidInputError::new_err(format!(
                "items: at most {MAX_INPUT_ITEMS} ids can be ranked, found {}",
                items.len()
            )));
        }
        let ids: Vec<PyBackedStr> = items.extract()?;
        let recent = match recent {
            Some(r) => recent_events(&self.inner, r)?,
            None => Vec::new(),
        };
        let model = &self.inner;
        let ranked = run(py, || {
            let input: Vec<&str> = ids.iter().map(|s| &**s).collect();
            let recent: Vec<(&str, f32)> = recent.iter().map(|(i, w)| (i.as_str(), *w)).collect();
            Ok(model.rank(user_id, &recent, &input))
        })?;
        let out = PyList::empty(py);
        for r in ranked {
            let pair = PyTuple::new(
                py,
                [items.get_item(r.input_index)?, r.score.into_pyobject(py)?],
            )?;
            out.append(pair)?;
        }
        Ok(out)
    }

    /// Top-`n` items for a user over the whole catalog, excluding items in their history (and
    /// `recent` events): `(item_id, score)` pairs, best first. An unknown user without events
    /// gets the most popular items (the score is the item's user count).
    #[pyo3(signature = (user_id, n=25, recent=None))]
    fn top_n(
        &self,
        py: Python<'_>,
        user_id: &str,
        n: usize,
        recent: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<(String, f32)>> {
        let recent = match recent {
            Some(r) => recent_events(&self.inner, r)?,
            None => Vec::new(),
        };
        let model = &self.inner;
        run(py, || {
            let recent: Vec<(&str, f32)> = recent.iter().map(|(i, w)| (i.as_str(), *w)).collect();
            Ok(model
                .top_n(user_id, &recent, n)
                .into_iter()
                .map(|(i, s)| (model.item_id(i).to_owned(), s))
                .collect())
        })
    }

    /// Similar items of an item (Similar-Items models; GetRecommendations with an itemId):
    /// at most `n` item ids, best first, filled up with popular items when the item is unknown
    /// or has fewer neighbours.
    #[pyo3(signature = (item_id, n=25))]
    fn similar(&self, py: Python<'_>, item_id: &str, n: usize) -> PyResult<Vec<String>> {
        let model = &self.inner;
        run(py, || {
            Ok(model
                .similar(item_id, n)
                .into_iter()
                .map(|i| model.item_id(i).to_owned())
                .collect())
        })
    }

    /// The `n` most popular items (by distinct users), most popular first.
    #[pyo3(signature = (n=25))]
    fn popular(&self, n: usize) -> Vec<String> {
        self.inner
            .popular(n)
            .iter()
            .map(|&i| self.inner.item_id(i).to_owned())
            .collect()
    }

    /// Scores the model on a split's test users (Personalize's offline metrics at 5, 10 and
    /// 25). The split is a dict as `Store.export_splits` returns; the model's training should
    /// not have seen its test users.
    #[pyo3(signature = (split, *, threads=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        split: &Bound<'py, PyAny>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let split = split_file(split)?;
        let threads = threads.unwrap_or_else(default_threads);
        let model = &self.inner;
        let metrics = run(py, || {
            Ok(train::evaluate_model_on_split(model, &split, threads))
        })?;
        to_py(py, &metrics)
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(recipe={:?}, algorithm={:?}, items={}, users={})",
            self.inner.recipe().name(),
            self.inner.header.algorithm,
            self.inner.items.len(),
            self.inner.users.len()
        )
    }
}

/// The machine's cores, the SDK's default for training and evaluation threads.
pub(crate) fn default_threads() -> usize {
    train::TrainOptions::default().threads
}

/// A split dict (`trainUsers`, `testUsers`) as the SDK's split file, through JSON.
pub(crate) fn split_file(split: &Bound<'_, PyAny>) -> PyResult<SplitFile> {
    let json: String = split
        .py()
        .import("json")?
        .getattr("dumps")?
        .call1((split,))?
        .extract()?;
    serde_json::from_str(&json).map_err(|e| {
        InvalidInputError::new_err(format!(
            "split: not a split ({{\"trainUsers\": [...], \"testUsers\": [{{\"userId\", \
             \"input\", \"truth\"}}]}}): {e}"
        ))
    })
}
