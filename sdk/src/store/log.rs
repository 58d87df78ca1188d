//! The PUT partition: an append-only, crash-safe log of the records PutEvents, PutItems, PutUsers
//! and PutActions add to a dataset (`spec/data.md` 4.3, 5).
//!
//! # On-disk format
//!
//! `<dataset>/put/log.avro` is an Avro object container file that any Avro reader can read:
//!
//! - the header: `Obj\x01`, a metadata map (`avro.schema`, `avro.codec` = `snappy`,
//!   `attune.log` = `1`) and a 16-byte sync marker;
//! - one data block per group commit: the record count and the byte size (zig-zag varints), the
//!   records Snappy-compressed and followed by the big-endian CRC32 of the uncompressed bytes,
//!   then the sync marker.
//!
//! Its schema is the dataset's schema followed by internal fields: [`SEQ_FIELD`] (`long`, the
//! ingestion sequence number, increasing in file order), and for Interactions and
//! Action_Interactions [`SESSION_ID_FIELD`] and [`EVENT_ID_FIELD`] (`["null","string"]`) and
//! [`ANONYMOUS_FIELD`] (`boolean`: the event had no userId, so USER_ID holds the sessionId).
//!
//! A container file has one schema. When the dataset's schema has changed since the current
//! file was started, [`PutLog::open`] starts the next generation, `log-000001.avro`, and so on;
//! readers read every generation in order and map fields by name (a field a file lacks is null).
//!
//! # Durability
//!
//! [`PutLog::append`] returns only once its records are on disk: concurrent callers hand their
//! records to one leader, which encodes everything pending as one block, writes it and calls
//! `fdatasync`, then wakes every caller of that group (group commit). A crash can therefore tear
//! only the last block. [`PutLog::open`] keeps the longest prefix of whole blocks (sync marker in
//! place, Snappy data intact, CRC32 matching) and truncates the file to it, so a torn tail is
//! discarded, never misread. A damaged block followed by valid ones is not a torn tail: the open
//! then fails with [`Error::Corrupt`] instead of dropping acknowledged records. An OS file lock
//! on `put/.lock` keeps a second writer (another process, or a second [`PutLog`] in this one)
//! out.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use apache_avro::types::Value;
use apache_avro::{Codec, Schema as AvroSchema, Writer};

use super::{fsutil, next_seq, Dataset};
use crate::error::{invalid, Error, Result};
use crate::record::{from_avro_field, to_avro_field};
use crate::schema::{DatasetType, Field, FieldType};

/// The internal field holding a record's ingestion sequence number.
pub const SEQ_FIELD: &str = "_SEQ";
/// The internal field holding an event's sessionId (interaction datasets).
pub const SESSION_ID_FIELD: &str = "_SESSION_ID";
/// The internal field holding an event's eventId, when it had one (interaction datasets).
pub const EVENT_ID_FIELD: &str = "_EVENT_ID";
/// The internal field telling that an event had no userId (interaction datasets).
pub const ANONYMOUS_FIELD: &str = "_ANONYMOUS";

/// The first generation's file name, in `<dataset>/put/`.
pub const LOG_FILE: &str = "log.avro";

const MAGIC: &[u8; 4] = b"Obj\x01";
const FORMAT_KEY: &str = "attune.log";
const FORMAT_VERSION: &str = "1";
const LOCK_FILE: &str = ".lock";
/// Snappy expands at most about 21 times (a 3-byte copy of 64 bytes); anything claiming more is
/// garbage, rejected before allocating.
const MAX_EXPANSION: usize = 32;

/// One record to append: plain values in schema order (unions unwrapped, null as
/// `Value::Null`) and, for interaction datasets, the event's session and event ids.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// The values in schema order.
    pub values: Vec<Value>,
    /// The sessionId of an event (ignored for Users, Items and Actions).
    pub session_id: Option<String>,
    /// The eventId of an event, when it had one (ignored for Users, Items and Actions).
    pub event_id: Option<String>,
    /// The event had no userId: USER_ID holds the sessionId (spec 5.6).
    pub anonymous: bool,
}

impl LogRecord {
    /// A record of a Users, Items or Actions dataset.
    pub fn new(values: Vec<Value>) -> LogRecord {
        LogRecord {
            values,
            session_id: None,
            event_id: None,
            anonymous: false,
        }
    }
}

/// One record read back from the log.
#[derive(Debug, Clone, Copy)]
pub struct LogEntry<'a> {
    /// Its ingestion sequence number.
    pub seq: u64,
    /// The values in the dataset's current schema order (a field the record was written
    /// without is null).
    pub values: &'a [Value],
    /// The event's sessionId (interaction datasets).
    pub session_id: Option<&'a str>,
    /// The event's eventId, when it had one.
    pub event_id: Option<&'a str>,
    /// The event had no userId.
    pub anonymous: bool,
}

/// An open PUT log of one dataset, ready to append to. Cheap to clone (one shared handle).
///
/// Keep it open across calls: opening scans the last file to recover it. Only one handle per
/// dataset can be open at a time, in all processes together (an OS file lock); a second
/// [`PutLog::open`] fails with [`Error::ResourceInUse`] until the first handle (every clone) is
/// dropped. Readers ([`read`], [`Dataset::scan`]) need no handle and take no lock.
///
/// The handle writes with the dataset's schema as it was when opened; reopen it after the
/// schema changes.
#[derive(Clone)]
pub struct PutLog {
    shared: Arc<Shared>,
}

impl fmt::Debug for PutLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutLog")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

struct Shared {
    path: PathBuf,
    /// The log schema: the dataset's fields, then the internal ones.
    schema: AvroSchema,
    /// The dataset's fields.
    fields: Vec<Field>,
    names: Vec<String>,
    event_fields: bool,
    marker: [u8; 16],
    discarded: u64,
    queue: Mutex<Queue>,
    wake: Condvar,
    io: Mutex<Io>,
    /// Holds the OS lock on `put/.lock` while the handle lives.
    _lock: File,
}

type BatchResult = Arc<OnceLock<Result<()>>>;

/// Records waiting for the next group commit.
struct Queue {
    pending: Vec<LogRecord>,
    /// The result slot of the group `pending` belongs to.
    batch: BatchResult,
    /// A caller is writing a group right now.
    leader: bool,
    /// Set after a failed write: every later append fails with it.
    broken: Option<Error>,
}

/// The file, touched only by the current leader.
struct Io {
    file: File,
    /// Bytes of whole, durable blocks.
    len: u64,
    last_seq: u64,
    broken: Option<Error>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether a dataset type's log carries the event fields.
fn has_event_fields(dataset_type: DatasetType) -> bool {
    matches!(
        dataset_type,
        DatasetType::Interactions | DatasetType::ActionInteractions
    )
}

impl PutLog {
    /// Opens (creating it when missing) the PUT log of a dataset: takes the lock, discards a torn
    /// tail left by a crash and positions at the end.
    pub fn open(dataset: &Dataset) -> Result<PutLog> {
        let dir = dataset.put_dir();
        fsutil::create_dir_durable(&dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock_file = fsutil::open_append(&lock_path)?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::ResourceInUse(format!(
                    "the PUT log of {} is already open for writing (by another process, or by \
                     another handle in this one)",
                    dataset.info().dataset_arn
                )))
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        fsutil::remove_temp_files(&dir)?;

        let event_fields = has_event_fields(dataset.dataset_type());
        let schema = log_schema(dataset, event_fields)?;
        let generations = generations(&dir)?;
        let (path, recovered) = match generations.last() {
            None => {
                let path = dir.join(generation_name(0));
                let header = create_file(&path, &schema)?;
                (path, Recovered::empty(header))
            }
            Some((number, path)) => {
                let recovered = recover(path)?;
                if same_fields(&recovered.header.schema, &schema) {
                    (path.clone(), recovered)
                } else {
                    let next = dir.join(generation_name(number + 1));
                    let header = create_file(&next, &schema)?;
                    tracing::info!(
                        from = %path.display(),
                        to = %next.display(),
                        "the dataset's schema changed: starting a new PUT log file"
                    );
                    let mut fresh = Recovered::empty(header);
                    fresh.last_seq = recovered.last_seq;
                    (next, fresh)
                }
            }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.seek(SeekFrom::Start(recovered.len))
            .map_err(|e| Error::io(&path, e))?;

        let fields = dataset.schema().fields().to_vec();
        let names = fields.iter().map(|f| f.name.clone()).collect();
        Ok(PutLog {
            shared: Arc::new(Shared {
                path,
                schema,
                fields,
                names,
                event_fields,
                marker: recovered.header.marker,
                discarded: recovered.discarded,
                queue: Mutex::new(Queue {
                    pending: Vec::new(),
                    batch: Arc::new(OnceLock::new()),
                    leader: false,
                    broken: None,
                }),
                wake: Condvar::new(),
                io: Mutex::new(Io {
                    file,
                    len: recovered.len,
                    last_seq: recovered.last_seq,
                    broken: None,
                }),
                _lock: lock_file,
            }),
        })
    }

    /// The file being appended to.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// How many bytes of torn tail the open discarded (0 after a clean shutdown).
    pub fn discarded_bytes(&self) -> u64 {
        self.shared.discarded
    }

    /// Appends records durably: returns once they are on disk (fsync), in one block with
    /// whatever other threads appended meanwhile, so they survive a crash together. Every record
    /// is checked against the schema first; on a bad one nothing is appended.
    ///
    /// After an I/O error the handle is broken: this and every later call fail, and the caller
    /// should reopen the log (which recovers the file).
    pub fn append(&self, records: Vec<LogRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let s = &*self.shared;
        for (i, record) in records.iter().enumerate() {
            s.check(i, record)?;
        }
        let mut q = lock(&s.queue);
        if let Some(e) = &q.broken {
            return Err(e.clone());
        }
        q.pending.extend(records);
        let mine = Arc::clone(&q.batch);
        loop {
            if let Some(result) = mine.get() {
                return result.clone();
            }
            if !q.leader {
                // Lead the group that holds our records: nobody took it yet, since a group's
                // slot is filled before its leader lets go.
                q.leader = true;
                let records = std::mem::take(&mut q.pending);
                let batch = std::mem::replace(&mut q.batch, Arc::new(OnceLock::new()));
                drop(q);
                let mut done = Leading {
                    shared: s,
                    batch: Some(batch),
                };
                let (result, broken) = s.write(records);
                q = done.finish(result, broken);
                continue;
            }
            q = s.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The leader's duty to publish its group's result, even if encoding panics.
struct Leading<'a> {
    shared: &'a Shared,
    batch: Option<BatchResult>,
}

impl<'a> Leading<'a> {
    fn finish(&mut self, result: Result<()>, broken: bool) -> MutexGuard<'a, Queue> {
        let mut q = lock(&self.shared.queue);
        q.leader = false;
        if broken {
            if let Err(e) = &result {
                q.broken = Some(e.clone());
            }
        }
        if let Some(batch) = self.batch.take() {
            let _ = batch.set(result);
        }
        self.shared.wake.notify_all();
        q
    }
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if self.batch.is_some() {
            drop(self.finish(Err(Error::Interrupted), true));
        }
    }
}

impl Shared {
    /// Checks that a record matches the dataset's fields, so that encoding a group cannot fail
    /// on one caller's bad record.
    fn check(&self, i: usize, record: &LogRecord) -> Result<()> {
        if record.values.len() != self.fields.len() {
            return Err(invalid!(
                "record {i}: {} values for the schema's {} fields",
                record.values.len(),
                self.fields.len()
            ));
        }
        for (field, value) in self.fields.iter().zip(&record.values) {
            if !fits(field, value) {
                return Err(invalid!(
                    "record {i}: field {}: {value:?} is not a {}{}",
                    field.name,
                    field.ty,
                    if field.nullable { " or null" } else { "" }
                ));
            }
        }
        Ok(())
    }

    /// Writes one group as one block and fsyncs it. Returns the result and whether the handle
    /// is now broken.
    fn write(&self, records: Vec<LogRecord>) -> (Result<()>, bool) {
        let mut io = lock(&self.io);
        if let Some(e) = &io.broken {
            return (Err(e.clone()), true);
        }
        let block = match self.encode(&mut io, records) {
            Ok(block) => block,
            Err(e) => return (Err(e), false),
        };
        let written = io.file.write_all(&block).and_then(|()| io.file.sync_data());
        match written {
            Ok(()) => {
                io.len += block.len() as u64;
                (Ok(()), false)
            }
            Err(e) => {
                let err = Error::io(&self.path, e);
                // Take the partial block back; after a failed fsync the page cache is not to be
                // trusted, so the handle stays broken and the next open recovers the file.
                let len = io.len;
                let _ = io.file.set_len(len);
                tracing::error!(path = %self.path.display(), cause = %err, "PUT log write failed");
                io.broken = Some(err.clone());
                (Err(err), true)
            }
        }
    }

    /// Encodes records as one container-file block, assigning sequence numbers in file order.
    fn encode(&self, io: &mut Io, records: Vec<LogRecord>) -> Result<Vec<u8>> {
        let count = records.len();
        let mut data = Vec::with_capacity(count * 64);
        for record in records {
            let seq = next_seq().max(io.last_seq + 1);
            io.last_seq = seq;
            let mut fields: Vec<(String, Value)> = Vec::with_capacity(self.names.len() + 4);
            for ((field, name), value) in self.fields.iter().zip(&self.names).zip(record.values) {
                fields.push((name.clone(), to_avro_field(field, value)));
            }
            fields.push((SEQ_FIELD.to_owned(), Value::Long(seq as i64)));
            if self.event_fields {
                fields.push((SESSION_ID_FIELD.to_owned(), optional(record.session_id)));
                fields.push((EVENT_ID_FIELD.to_owned(), optional(record.event_id)));
                fields.push((ANONYMOUS_FIELD.to_owned(), Value::Boolean(record.anonymous)));
            }
            data.extend(apache_avro::to_avro_datum(
                &self.schema,
                Value::Record(fields),
            )?);
        }
        Codec::Snappy.compress(&mut data)?;
        let mut block = Vec::with_capacity(data.len() + 36);
        write_long(&mut block, count as i64);
        write_long(&mut block, data.len() as i64);
        block.extend_from_slice(&data);
        block.extend_from_slice(&self.marker);
        Ok(block)
    }
}

fn as_str(v: &Option<Value>) -> Option<&str> {
    match v {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn optional(s: Option<String>) -> Value {
    match s {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(s) => Value::Union(1, Box::new(Value::String(s))),
    }
}

/// Whether a plain value can be written to a field.
fn fits(field: &Field, value: &Value) -> bool {
    matches!(
        (field.ty, value),
        (FieldType::String, Value::String(_))
            | (FieldType::Int, Value::Int(_))
            | (FieldType::Long, Value::Long(_))
            | (FieldType::Float, Value::Float(_))
            | (FieldType::Double, Value::Double(_))
            | (FieldType::Boolean, Value::Boolean(_))
    ) || (field.nullable && matches!(value, Value::Null))
}

/// The log schema: the dataset's writer schema with the internal fields appended.
fn log_schema(dataset: &Dataset, event_fields: bool) -> Result<AvroSchema> {
    let mut doc = serde_json::to_value(dataset.schema().avro()).map_err(|e| {
        invalid!(
            "the schema of {} cannot be serialized: {e}",
            dataset.info().dataset_arn
        )
    })?;
    let fields = doc
        .get_mut("fields")
        .and_then(|f| f.as_array_mut())
        .ok_or_else(|| {
            invalid!(
                "the schema of {} is not a record",
                dataset.info().dataset_arn
            )
        })?;
    let mut internal = vec![(SEQ_FIELD, serde_json::json!("long"))];
    if event_fields {
        internal.push((SESSION_ID_FIELD, serde_json::json!(["null", "string"])));
        internal.push((EVENT_ID_FIELD, serde_json::json!(["null", "string"])));
        internal.push((ANONYMOUS_FIELD, serde_json::json!("boolean")));
    }
    for (name, ty) in internal {
        if dataset.schema().field(name).is_some() {
            return Err(invalid!(
                "field {name} of the schema of {} is reserved for the PUT log",
                dataset.info().dataset_arn
            ));
        }
        fields.push(serde_json::json!({ "name": name, "type": ty }));
    }
    Ok(AvroSchema::parse(&doc)?)
}

fn record_fields(schema: &AvroSchema) -> Option<Vec<(&str, &AvroSchema)>> {
    match schema {
        AvroSchema::Record(r) => Some(
            r.fields
                .iter()
                .map(|f| (f.name.as_str(), &f.schema))
                .collect(),
        ),
        _ => None,
    }
}

fn same_fields(a: &AvroSchema, b: &AvroSchema) -> bool {
    record_fields(a).is_some() && record_fields(a) == record_fields(b)
}

fn generation_name(number: u32) -> String {
    if number == 0 {
        LOG_FILE.to_owned()
    } else {
        format!("log-{number:06}.avro")
    }
}

/// The log files of a `put/` directory, oldest first.
fn generations(dir: &Path) -> Result<Vec<(u32, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let number = if name == LOG_FILE {
            Some(0)
        } else {
            name.strip_prefix("log-")
                .and_then(|n| n.strip_suffix(".avro"))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n > 0)
        };
        if let Some(number) = number {
            out.push((number, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Creates a log file holding only the header, atomically (so a file that exists has a whole
/// header).
fn create_file(path: &Path, schema: &AvroSchema) -> Result<Header> {
    let mut writer = Writer::with_codec(schema, Vec::new(), Codec::Snappy);
    writer.add_user_metadata(FORMAT_KEY.to_owned(), FORMAT_VERSION)?;
    let bytes = writer.into_inner()?;
    fsutil::write_atomic(path, &bytes)?;
    let mut reader = Pos::new(&bytes[..]);
    read_header(&mut reader, path, bytes.len() as u64)
}

/// The key-value metadata of a container file's header.
type Metadata = Vec<(String, Vec<u8>)>;

/// What the header says.
struct Header {
    schema: AvroSchema,
    marker: [u8; 16],
    len: u64,
}

/// A reader that counts the bytes it has read.
struct Pos<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Pos<R> {
    fn new(inner: R) -> Pos<R> {
        Pos { inner, pos: 0 }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn byte(&mut self) -> io::Result<u8> {
        let mut b = [0u8];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    /// An Avro `long`: a zig-zag varint of at most 10 bytes.
    fn long(&mut self) -> io::Result<i64> {
        let mut n: u64 = 0;
        for i in 0..10 {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((n >> 1) as i64) ^ -((n & 1) as i64));
            }
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a varint longer than 10 bytes",
        ))
    }

    /// Avro `bytes` of at most `limit` bytes.
    fn bytes(&mut self, limit: u64) -> io::Result<Vec<u8>> {
        let len = self.long()?;
        if len < 0 || len as u64 > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a length of {len} bytes"),
            ));
        }
        let mut buf = vec![0; len as usize];
        self.read_exact(&mut buf)?;
        Ok(buf)
    }
}

fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_header<R: Read>(r: &mut Pos<R>, path: &Path, file_len: u64) -> Result<Header> {
    let corrupt = |reason: String| Error::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let parsed = (|| -> io::Result<(Metadata, [u8; 16])> {
        let mut magic = [0u8; 4];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not an Avro object container file",
            ));
        }
        let mut meta = Vec::new();
        loop {
            let mut count = r.long()?;
            if count == 0 {
                break;
            }
            if count < 0 {
                count = -count;
                r.long()?;
            }
            for _ in 0..count {
                let key = String::from_utf8_lossy(&r.bytes(file_len)?).into_owned();
                let value = r.bytes(file_len)?;
                meta.push((key, value));
            }
        }
        let mut marker = [0u8; 16];
        r.read_exact(&mut marker)?;
        Ok((meta, marker))
    })();
    let (meta, marker) = parsed.map_err(|e| corrupt(format!("bad log header: {e}")))?;
    let get = |key: &str| {
        meta.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    };
    match get("avro.codec") {
        Some(b"snappy") => {}
        other => {
            return Err(corrupt(format!(
                "the log's codec is {:?}; PUT logs are written with snappy",
                other.map(String::from_utf8_lossy)
            )))
        }
    }
    if get(FORMAT_KEY) != Some(FORMAT_VERSION.as_bytes()) {
        return Err(corrupt(format!(
            "not an Attune PUT log of format {FORMAT_VERSION} (metadata {FORMAT_KEY} is {:?})",
            get(FORMAT_KEY).map(String::from_utf8_lossy)
        )));
    }
    let schema_json = get("avro.schema").ok_or_else(|| corrupt("no avro.schema".into()))?;
    let schema = AvroSchema::parse_str(&String::from_utf8_lossy(schema_json))
        .map_err(|e| corrupt(format!("bad schema in the header: {e}")))?;
    Ok(Header {
        schema,
        marker,
        len: r.pos,
    })
}

/// What follows the current position of a log file.
enum Next {
    /// A whole, intact block: its record count and uncompressed data.
    Block { count: u64, data: Vec<u8> },
    /// The end of the file.
    End,
    /// An incomplete or damaged block (a torn tail, or damage).
    Bad(String),
}

/// Reads the block at the reader's position; `end` is where the readable bytes stop.
fn next_block<R: Read>(r: &mut Pos<R>, end: u64, marker: &[u8; 16]) -> Result<Next> {
    let start = r.pos;
    if start >= end {
        return Ok(Next::End);
    }
    let bad = |what: String| Ok(Next::Bad(format!("block at byte {start}: {what}")));
    let framed = (|| -> io::Result<Result<(i64, Vec<u8>), String>> {
        let count = r.long()?;
        if count <= 0 {
            return Ok(Err(format!("record count {count}")));
        }
        let size = r.long()?;
        let room = end.saturating_sub(r.pos);
        if size < 4 || size as u64 > room {
            return Ok(Err(format!(
                "size {size} does not fit the {room} bytes left"
            )));
        }
        let mut data = vec![0; size as usize];
        r.read_exact(&mut data)?;
        let mut sync = [0u8; 16];
        r.read_exact(&mut sync)?;
        if &sync != marker {
            return Ok(Err("the sync marker does not match".into()));
        }
        Ok(Ok((count, data)))
    })();
    let (count, data) = match framed {
        Ok(Ok(framed)) => framed,
        Ok(Err(what)) => return bad(what),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData
            ) =>
        {
            return bad(format!("incomplete ({e})"))
        }
        Err(e) => return Err(Error::io("PUT log", e)),
    };
    let (compressed, crc) = data.split_at(data.len() - 4);
    let len = match snap::raw::decompress_len(compressed) {
        Ok(len) if len <= compressed.len() * MAX_EXPANSION + 64 => len,
        Ok(len) => return bad(format!("claims {len} uncompressed bytes")),
        Err(e) => return bad(format!("bad Snappy data: {e}")),
    };
    let mut out = vec![0; len];
    if let Err(e) = snap::raw::Decoder::new().decompress(compressed, &mut out) {
        return bad(format!("bad Snappy data: {e}"));
    }
    let expected = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(&out) != expected {
        return bad("CRC32 mismatch".into());
    }
    Ok(Next::Block {
        count: count as u64,
        data: out,
    })
}

/// Whether a whole, valid block starts anywhere after `from` (right after a sync marker): then
/// the bad block at `from` is damage in the middle of the file, not a torn tail.
fn valid_block_after(path: &Path, from: u64, end: u64, marker: &[u8; 16]) -> Result<Option<u64>> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    file.seek(SeekFrom::Start(from))
        .map_err(|e| Error::io(path, e))?;
    let mut rest = Vec::new();
    file.take(end - from)
        .read_to_end(&mut rest)
        .map_err(|e| Error::io(path, e))?;
    let mut at = 0;
    while let Some(i) = find(&rest[at..], marker) {
        let start = at + i + marker.len();
        let mut r = Pos::new(&rest[start..]);
        if let Next::Block { .. } = next_block(&mut r, (rest.len() - start) as u64, marker)? {
            return Ok(Some(from + start as u64));
        }
        at += i + 1;
    }
    Ok(None)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn damaged(path: &Path, reason: &str, valid_at: u64) -> Error {
    Error::Corrupt {
        path: path.to_owned(),
        reason: format!(
            "{reason}, yet a valid block follows at byte {valid_at}: the file is damaged in \
             the middle (not a torn tail); restore it from a backup"
        ),
    }
}

/// A recovered log file.
struct Recovered {
    header: Header,
    /// The length of the whole blocks.
    len: u64,
    last_seq: u64,
    discarded: u64,
}

impl Recovered {
    fn empty(header: Header) -> Recovered {
        Recovered {
            len: header.len,
            header,
            last_seq: 0,
            discarded: 0,
        }
    }
}

/// Finds the whole blocks of a log file and truncates whatever follows them.
fn recover(path: &Path) -> Result<Recovered> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut r = Pos::new(BufReader::with_capacity(1 << 16, file.take(file_len)));
    let header = read_header(&mut r, path, file_len)?;
    let mut last = None;
    let mut len = r.pos;
    loop {
        match next_block(&mut r, file_len, &header.marker)? {
            Next::Block { count, data } => {
                len = r.pos;
                last = Some((count, data));
            }
            Next::End => break,
            Next::Bad(reason) => {
                if let Some(at) = valid_block_after(path, len, file_len, &header.marker)? {
                    return Err(damaged(path, &reason, at));
                }
                tracing::warn!(
                    path = %path.display(),
                    bytes = file_len - len,
                    %reason,
                    "discarding the torn tail of the PUT log"
                );
                break;
            }
        }
    }
    let mut last_seq = 0;
    if let Some((count, data)) = last {
        let mapping = Mapping::new(&header.schema, &[], path)?;
        let mut row = Vec::new();
        decode_block(
            &header.schema,
            &mapping,
            count,
            &data,
            path,
            &mut row,
            |e| {
                last_seq = last_seq.max(e.seq);
                Ok(())
            },
        )?;
    }
    if len < file_len {
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        f.set_len(len).map_err(|e| Error::io(path, e))?;
        f.sync_all().map_err(|e| Error::io(path, e))?;
    }
    Ok(Recovered {
        header,
        len,
        last_seq,
        discarded: file_len - len,
    })
}

/// Where the dataset's fields and the internal ones are in a file's records.
struct Mapping {
    /// For each dataset field, its position in the file's records.
    fields: Vec<Option<usize>>,
    seq: usize,
    session: Option<usize>,
    event: Option<usize>,
    anonymous: Option<usize>,
}

impl Mapping {
    fn new(file_schema: &AvroSchema, fields: &[Field], path: &Path) -> Result<Mapping> {
        let names: Vec<&str> = record_fields(file_schema)
            .ok_or_else(|| Error::Corrupt {
                path: path.to_owned(),
                reason: "the log's schema is not a record".into(),
            })?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let at = |name: &str| names.iter().position(|n| *n == name);
        Ok(Mapping {
            fields: fields.iter().map(|f| at(&f.name)).collect(),
            seq: at(SEQ_FIELD).ok_or_else(|| Error::Corrupt {
                path: path.to_owned(),
                reason: format!("the log's schema has no {SEQ_FIELD} field"),
            })?,
            session: at(SESSION_ID_FIELD),
            event: at(EVENT_ID_FIELD),
            anonymous: at(ANONYMOUS_FIELD),
        })
    }
}

/// Decodes the records of one block and hands each to `f`.
fn decode_block(
    schema: &AvroSchema,
    mapping: &Mapping,
    count: u64,
    data: &[u8],
    path: &Path,
    row: &mut Vec<Value>,
    mut f: impl FnMut(&LogEntry<'_>) -> Result<()>,
) -> Result<()> {
    let corrupt = |reason: String| Error::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let mut input = data;
    for _ in 0..count {
        let value = apache_avro::from_avro_datum(schema, &mut input, None)
            .map_err(|e| corrupt(format!("a record of an intact block does not decode: {e}")))?;
        let Value::Record(mut values) = value else {
            return Err(corrupt("a log record is not a record".into()));
        };
        let mut take = |i: usize| -> Value {
            values
                .get_mut(i)
                .map(|(_, v)| from_avro_field(std::mem::replace(v, Value::Null)))
                .unwrap_or(Value::Null)
        };
        row.clear();
        for position in &mapping.fields {
            row.push(position.map_or(Value::Null, &mut take));
        }
        let seq = match take(mapping.seq) {
            Value::Long(s) => s as u64,
            other => return Err(corrupt(format!("{SEQ_FIELD} is {other:?}"))),
        };
        let session = mapping.session.map(&mut take);
        let event = mapping.event.map(&mut take);
        let anonymous = matches!(mapping.anonymous.map(&mut take), Some(Value::Boolean(true)));
        f(&LogEntry {
            seq,
            values: row,
            session_id: as_str(&session),
            event_id: as_str(&event),
            anonymous,
        })?;
    }
    if !input.is_empty() {
        return Err(corrupt(format!(
            "{} bytes left over after the {count} records of a block",
            input.len()
        )));
    }
    Ok(())
}

/// Reads every record of a dataset's PUT log in append order, with its internal fields. Only
/// whole blocks are read: a torn tail (a crash, or a write in progress) is skipped. Fails with
/// [`Error::Corrupt`] on damage in the middle of a file.
pub fn read(dataset: &Dataset, mut f: impl FnMut(&LogEntry<'_>) -> Result<()>) -> Result<()> {
    let fields = dataset.schema().fields();
    let mut row = Vec::with_capacity(fields.len());
    for (_, path) in generations(&dataset.put_dir())? {
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        // Read what is there now; a writer may be appending.
        let file_len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        let mut r = Pos::new(BufReader::with_capacity(1 << 16, file.take(file_len)));
        let header = read_header(&mut r, &path, file_len)?;
        let mapping = Mapping::new(&header.schema, fields, &path)?;
        loop {
            let start = r.pos;
            match next_block(&mut r, file_len, &header.marker)? {
                Next::Block { count, data } => decode_block(
                    &header.schema,
                    &mapping,
                    count,
                    &data,
                    &path,
                    &mut row,
                    &mut f,
                )?,
                Next::End => break,
                Next::Bad(reason) => {
                    if let Some(at) = valid_block_after(&path, start, file_len, &header.marker)? {
                        return Err(damaged(&path, &reason, at));
                    }
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Reads every record of the dataset's PUT log in append order: sequence number and values in
/// schema order (see [`read`]).
pub(crate) fn scan(
    dataset: &Dataset,
    mut f: impl FnMut(u64, &[Value]) -> Result<()>,
) -> Result<()> {
    read(dataset, |e| f(e.seq, e.values))
}

#[cfg(test)]
mod tests;
