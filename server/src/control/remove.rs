//! Deleting resources from the store.
//!
//! The SDK's `Store` deletes event trackers and campaigns but not yet dataset groups, schemas,
//! datasets or solutions; these functions do it following the store's documented layout
//! (`attune::store` and `attune::store::solutions` module docs). The metadata file that makes a
//! resource exist is removed first and its directory synced, so a crash in the middle leaves
//! either the whole resource or an orphaned directory that no listing shows; the rest of the
//! directory goes after.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use attune::{DatasetType, Error, Result, Store};

fn remove_file_durable(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(path, e)),
    }
    if let Some(dir) = path.parent() {
        match fs::File::open(dir).and_then(|d| d.sync_all()) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(dir, e)),
        }
    }
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// `<root>/groups/<name>/` (its datasets, solutions and tracker are gone already).
pub(crate) fn dataset_group(store: &Store, name: &str) -> Result<()> {
    let dir = store.root().join("groups").join(name);
    remove_file_durable(&dir.join("group.json"))?;
    remove_dir(&dir)
}

/// `<root>/schemas/<name>.json`.
pub(crate) fn schema(store: &Store, name: &str) -> Result<()> {
    remove_file_durable(&store.root().join("schemas").join(format!("{name}.json")))
}

/// `<root>/groups/<group>/datasets/<Type>/`: the dataset, its records and its import jobs.
pub(crate) fn dataset(store: &Store, group: &str, ty: DatasetType) -> Result<()> {
    let dir = store
        .root()
        .join("groups")
        .join(group)
        .join("datasets")
        .join(ty.as_str());
    remove_file_durable(&dir.join("dataset.json"))?;
    remove_dir(&dir)
}

/// `<root>/solutions/<name>/`: the solution and all its versions.
pub(crate) fn solution(store: &Store, name: &str) -> Result<()> {
    let dir = store.root().join("solutions").join(name);
    remove_file_durable(&dir.join("solution.json"))?;
    remove_dir(&dir)
}
