//! The deterministic synthetic data generator (`attune generate`): users with latent tastes,
//! items with genres, titles, prices and creation times, and interactions of several event types
//! with popularity skew, plus the three Avro schemas that describe them.
//!
//! # Model
//!
//! - 20 genres with a skewed prior (some genres are bigger and busier than others).
//! - Each item has a primary genre drawn from the prior, up to two more genres, a brand that
//!   specialises in the primary genre, a log-normal price whose scale depends on the genre, and
//!   a Zipf-like popularity (exponent 0.9 over a random permutation of the catalog). 85% of the
//!   items exist before the interaction window; 15% appear during it and get no interactions
//!   before their `CREATION_TIMESTAMP`.
//! - Each user has an age, a membership level, a Zipf-like activity (premium members are more
//!   active) and a taste: one to three favourite genres with random weights, biased by age group.
//! - Interactions are generated in time order over a 180-day window ending at
//!   [`WINDOW_END`]. Each one continues the previous user's session (45%) or picks a user by
//!   activity. The item then comes from global popularity (12%, "noise") or from a genre: the
//!   session's genre, a random genre (10%) or one of the user's favourites, and within the genre
//!   by popularity. Taste-driven interactions are more often purchases and have higher
//!   `EVENT_VALUE`s. Every draw is O(1) (alias tables), so memory is O(users + items) and
//!   independent of the number of interactions.
//!
//! The same [`GenerateConfig`] always produces byte-identical files (ChaCha8, one stream for
//! users, one for items, one for interactions: changing the number of interactions does not
//! change users.csv or items.csv).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{invalid, Error, Result};
use crate::progress::Progress;

/// The end of the interaction window, in Unix seconds (2023-11-14T22:13:20Z). Fixed, so output
/// does not depend on the clock.
pub const WINDOW_END: i64 = 1_700_000_000;
/// The length of the interaction window, in seconds (180 days).
pub const WINDOW_SECS: i64 = 180 * 86_400;
/// How far before the window the oldest items were created, in seconds (three years).
const CATALOG_SECS: i64 = 3 * 365 * 86_400;

/// The genres items belong to, in prior order (earlier genres are more common).
pub const GENRES: [&str; 20] = [
    "Drama",
    "Comedy",
    "Action",
    "Thriller",
    "Romance",
    "Adventure",
    "Crime",
    "Sci-Fi",
    "Horror",
    "Fantasy",
    "Family",
    "Mystery",
    "Animation",
    "Documentary",
    "Music",
    "History",
    "Sports",
    "Biography",
    "War",
    "Western",
];

/// The event types of `interactions.csv`, most common first.
pub const EVENT_TYPES: [&str; 4] = ["view", "click", "add_to_cart", "purchase"];

/// The membership levels of users.
pub const MEMBERSHIPS: [&str; 3] = ["free", "basic", "premium"];

/// Zipf exponent of item popularity.
const ITEM_ZIPF: f64 = 0.9;
/// Zipf exponent of user activity.
const USER_ZIPF: f64 = 0.7;
/// Probability that an interaction continues the previous user's session.
const P_SESSION: f64 = 0.45;
/// Probability that a session continues in the same genre.
const P_SESSION_GENRE: f64 = 0.5;
/// Probability that the item comes from global popularity, ignoring taste.
const P_NOISE: f64 = 0.12;
/// Probability that a taste-driven interaction explores a genre from the prior.
const P_EXPLORE: f64 = 0.10;
/// Share of items created during the interaction window.
const P_NEW_ITEM: f64 = 0.15;
/// Draws of an item before falling back to the most popular catalog item.
const MAX_TRIES: usize = 8;
/// Rows between progress reports.
const PROGRESS_EVERY: u64 = 1 << 16;

const INTERACTIONS_SCHEMA: &str = r#"{
  "type": "record",
  "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "USER_ID", "type": "string" },
    { "name": "ITEM_ID", "type": "string" },
    { "name": "EVENT_TYPE", "type": "string" },
    { "name": "EVENT_VALUE", "type": ["float", "null"] },
    { "name": "TIMESTAMP", "type": "long" }
  ],
  "version": "1.0"
}
"#;

const ITEMS_SCHEMA: &str = r#"{
  "type": "record",
  "name": "Items",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "ITEM_ID", "type": "string" },
    { "name": "GENRES", "type": "string", "categorical": true },
    { "name": "PRICE", "type": "float" },
    { "name": "BRAND", "type": "string", "categorical": true },
    { "name": "CREATION_TIMESTAMP", "type": "long" },
    { "name": "TITLE", "type": "string", "textual": true }
  ],
  "version": "1.0"
}
"#;

const USERS_SCHEMA: &str = r#"{
  "type": "record",
  "name": "Users",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
    { "name": "USER_ID", "type": "string" },
    { "name": "AGE", "type": "int" },
    { "name": "MEMBERSHIP", "type": "string", "categorical": true }
  ],
  "version": "1.0"
}
"#;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateConfig {
    /// Number of users (at least 1).
    pub users: u32,
    /// Number of items (at least 1).
    pub items: u32,
    /// Number of interaction rows.
    pub interactions: u64,
    /// The random seed: the same config always gives the same files.
    pub seed: u64,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        GenerateConfig {
            users: 1_000,
            items: 2_000,
            interactions: 100_000,
            seed: 42,
        }
    }
}

/// The files [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The output directory.
    pub dir: PathBuf,
    /// `interactions.csv`: `USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP`, in time order.
    pub interactions_csv: PathBuf,
    /// `items.csv`: `ITEM_ID,GENRES,PRICE,BRAND,CREATION_TIMESTAMP,TITLE`.
    pub items_csv: PathBuf,
    /// `users.csv`: `USER_ID,AGE,MEMBERSHIP`.
    pub users_csv: PathBuf,
    /// `interactions.avsc`, the Interactions schema (custom dataset group).
    pub interactions_schema: PathBuf,
    /// `items.avsc`, the Items schema.
    pub items_schema: PathBuf,
    /// `users.avsc`, the Users schema.
    pub users_schema: PathBuf,
    /// Interaction rows written.
    pub interactions: u64,
    /// Item rows written.
    pub items: u32,
    /// User rows written.
    pub users: u32,
}

/// The Avro schema of the generated `interactions.csv` (custom dataset group).
pub fn interactions_schema() -> &'static str {
    INTERACTIONS_SCHEMA
}

/// The Avro schema of the generated `items.csv`.
pub fn items_schema() -> &'static str {
    ITEMS_SCHEMA
}

/// The Avro schema of the generated `users.csv`.
pub fn users_schema() -> &'static str {
    USERS_SCHEMA
}

/// Writes `users.csv`, `items.csv`, `interactions.csv` and their `.avsc` schemas into `out`
/// (created if missing; existing files of those names are replaced). Progress counts
/// interaction rows.
pub fn generate(cfg: &GenerateConfig, out: &Path, progress: &dyn Progress) -> Result<Generated> {
    if cfg.users == 0 {
        return Err(invalid!("users must be at least 1"));
    }
    if cfg.items == 0 {
        return Err(invalid!("items must be at least 1"));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let generated = Generated {
        dir: out.to_owned(),
        interactions_csv: out.join("interactions.csv"),
        items_csv: out.join("items.csv"),
        users_csv: out.join("users.csv"),
        interactions_schema: out.join("interactions.avsc"),
        items_schema: out.join("items.avsc"),
        users_schema: out.join("users.avsc"),
        interactions: cfg.interactions,
        items: cfg.items,
        users: cfg.users,
    };
    for (path, text) in [
        (&generated.interactions_schema, INTERACTIONS_SCHEMA),
        (&generated.items_schema, ITEMS_SCHEMA),
        (&generated.users_schema, USERS_SCHEMA),
    ] {
        std::fs::write(path, text).map_err(|e| Error::io(path, e))?;
    }

    let prior = genre_prior();
    let users = Users::generate(cfg, &prior, &generated.users_csv)?;
    let items = Items::generate(cfg, &prior, &generated.items_csv)?;
    write_interactions(
        cfg,
        &users,
        &items,
        &prior,
        &generated.interactions_csv,
        progress,
    )?;
    Ok(generated)
}

/// The RNG for one part of the output: the seed picks the key, the part picks the stream.
fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Weights of the genres: earlier genres are more common.
fn genre_prior() -> Vec<f64> {
    (0..GENRES.len())
        .map(|g| 1.0 / ((g + 1) as f64).sqrt())
        .collect()
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Draws an index with probability proportional to `weights` (linear; for small tables).
fn pick_weighted(rng: &mut impl Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// Zipf-like weights `1 / (rank + 1)^s` over a random permutation of `n` entries.
fn zipf_weights(rng: &mut impl Rng, n: usize, s: f64) -> Vec<f64> {
    let mut ranks: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        ranks.swap(i, j);
    }
    ranks
        .iter()
        .map(|&r| 1.0 / (f64::from(r) + 1.0).powf(s))
        .collect()
}

/// Walker/Vose alias table: O(1) draws from a fixed discrete distribution. Each slot holds
/// its own outcome and its alias's, so a draw touches one slot.
#[derive(Debug)]
struct Alias {
    /// `(probability of keeping the slot, the slot's outcome, the alias's outcome)`.
    slots: Vec<(f32, u32, u32)>,
}

impl Alias {
    /// A table drawing `i` with probability proportional to `weights[i]`; `weights` must be
    /// non-empty with a positive sum.
    fn new(weights: &[f64]) -> Alias {
        Alias::with_outcomes(weights, |i| i as u32)
    }

    /// A table drawing `outcome(i)` with probability proportional to `weights[i]`.
    fn with_outcomes(weights: &[f64], outcome: impl Fn(usize) -> u32) -> Alias {
        let n = weights.len();
        let sum: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / sum).collect();
        let mut slots: Vec<(f32, u32, u32)> =
            (0..n).map(|i| (1.0, outcome(i), outcome(i))).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            slots[s].0 = scaled[s] as f32;
            slots[s].2 = outcome(l);
            scaled[l] = (scaled[l] + scaled[s]) - 1.0;
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        for i in small.into_iter().chain(large) {
            slots[i].0 = 1.0;
        }
        Alias { slots }
    }

    /// One draw: a slot from the low 32 bits, the coin from the high 24.
    fn sample(&self, rng: &mut impl RngCore) -> usize {
        let r = rng.next_u64();
        let i = (((r & 0xFFFF_FFFF) * self.slots.len() as u64) >> 32) as usize;
        let coin = (r >> 40) as f32 * (1.0 / (1u32 << 24) as f32);
        let (keep, own, alias) = self.slots[i];
        if coin < keep {
            own as usize
        } else {
            alias as usize
        }
    }
}

/// A user's taste: up to three favourite genres and their cumulative weights (unused slots
/// hold 1.0). 16 bytes, one cache line access per draw.
#[derive(Clone, Copy)]
struct Taste {
    cum: [f32; 3],
    fav: [u8; 3],
}

/// The users' latent state, kept in memory while interactions are generated.
struct Users {
    taste: Vec<Taste>,
    /// Draws a user by activity.
    activity: Alias,
}

impl Users {
    fn generate(cfg: &GenerateConfig, prior: &[f64], path: &Path) -> Result<Users> {
        let mut rng = rng_for(cfg.seed, 1);
        let n = cfg.users as usize;
        let mut activity = zipf_weights(&mut rng, n, USER_ZIPF);
        let mut taste = Vec::with_capacity(n);
        let mut w = CsvOut::create(path)?;
        w.line(b"USER_ID,AGE,MEMBERSHIP")?;
        for (u, act) in activity.iter_mut().enumerate() {
            // Age 18-78, most users 30-66 (a triangular distribution: no IQR outliers).
            let a: f64 = (rng.random::<f64>() + rng.random::<f64>()) / 2.0;
            let age = (18.0 + a * 60.0) as u32;
            let membership = pick_weighted(&mut rng, &[0.60, 0.28, 0.12]);
            *act *= [1.0, 1.5, 2.5][membership];
            // Age groups lean to every third genre.
            let group = match age {
                0..=29 => 0,
                30..=49 => 1,
                _ => 2,
            };
            let leaning: Vec<f64> = prior
                .iter()
                .enumerate()
                .map(|(g, p)| if g % 3 == group { p * 2.5 } else { *p })
                .collect();
            let k = 1 + usize::from(rng.random_bool(0.5)) + usize::from(rng.random_bool(0.2));
            let mut genres = [0u8; 3];
            let mut weights = [0f32; 3];
            let mut chosen = 0;
            while chosen < k {
                let g = pick_weighted(&mut rng, &leaning) as u8;
                if genres[..chosen].contains(&g) {
                    continue;
                }
                genres[chosen] = g;
                // Exponential weights: a random point of the simplex.
                weights[chosen] = -(1.0 - rng.random::<f32>()).ln() + 1e-3;
                chosen += 1;
            }
            let total: f32 = weights[..k].iter().sum();
            let mut c = [1.0f32; 3];
            let mut acc = 0.0;
            for i in 0..k - 1 {
                acc += weights[i] / total;
                c[i] = acc;
            }
            taste.push(Taste {
                cum: c,
                fav: genres,
            });

            let b = w.buf();
            b.push(b'u');
            push_u64(b, u as u64 + 1);
            b.push(b',');
            push_u64(b, u64::from(age));
            b.push(b',');
            b.extend_from_slice(MEMBERSHIPS[membership].as_bytes());
            b.push(b'\n');
            w.flush_if_full()?;
        }
        w.finish()?;
        Ok(Users {
            taste,
            activity: Alias::new(&activity),
        })
    }

    /// A genre from user `u`'s favourites.
    fn favourite(&self, u: usize, rng: &mut impl Rng) -> usize {
        let x: f32 = rng.random();
        let t = &self.taste[u];
        let c = &t.cum;
        let i = if x < c[0] {
            0
        } else if x < c[1] {
            1
        } else {
            2
        };
        usize::from(t.fav[i])
    }
}

const ADJECTIVES: [&str; 32] = [
    "Silent",
    "Golden",
    "Hidden",
    "Broken",
    "Crimson",
    "Distant",
    "Electric",
    "Frozen",
    "Gentle",
    "Hollow",
    "Iron",
    "Last",
    "Lonely",
    "Lost",
    "Midnight",
    "Northern",
    "Paper",
    "Quiet",
    "Restless",
    "Secret",
    "Shattered",
    "Silver",
    "Southern",
    "Stolen",
    "Strange",
    "Summer",
    "Velvet",
    "Wandering",
    "Wild",
    "Winter",
    "Wooden",
    "Young",
];

const NOUNS: [&str; 32] = [
    "River", "Garden", "Empire", "Harbor", "Journey", "Kingdom", "Letter", "Machine", "Mountain",
    "Night", "Ocean", "Promise", "Road", "Shadow", "Signal", "Sky", "Song", "Storm", "Stranger",
    "Tide", "Tower", "Train", "Valley", "Voyage", "Whisper", "Window", "Wolf", "Heart", "Island",
    "Mirror", "Circus", "Lantern",
];

const PLACES: [&str; 16] = [
    "North", "City", "Desert", "Forest", "Lake", "Moon", "Coast", "Hills", "Border", "Islands",
    "Sea", "Plains", "Canyon", "Harbor", "Valley", "Stars",
];

const SYLLABLES: [&str; 16] = [
    "ka", "lo", "mi", "ra", "to", "ven", "sol", "dor", "bri", "na", "el", "qui", "zen", "por",
    "lu", "tas",
];

/// A brand name, distinct for each index below 4096.
fn brand_name(index: usize) -> String {
    let x = (index * 1_237) % 4_096;
    let mut name = String::new();
    for digit in [x % 16, (x / 16) % 16, x / 256] {
        name.push_str(SYLLABLES[digit]);
    }
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => name,
    }
}

/// A title from the word lists; some contain a comma or double quotes, to exercise CSV quoting.
fn title(rng: &mut impl Rng) -> String {
    let adj = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
    let noun = NOUNS[rng.random_range(0..NOUNS.len())];
    match pick_weighted(rng, &[30.0, 25.0, 25.0, 12.0, 8.0]) {
        0 => format!("{adj} {noun}"),
        1 => format!("The {adj} {noun}"),
        2 => format!(
            "{noun} of the {}",
            PLACES[rng.random_range(0..PLACES.len())]
        ),
        3 => format!("{adj} {noun}, Part {}", rng.random_range(2..=5)),
        _ => format!("The \"{adj}\" {noun}"),
    }
}

/// The items' state kept in memory while interactions are generated.
struct Items {
    /// CREATION_TIMESTAMP and primary genre.
    created: Vec<(i64, u8)>,
    /// Draws an item by popularity.
    global: Alias,
    /// Per genre: an alias table over its items' popularity.
    by_genre: Vec<Option<Alias>>,
    /// The most popular item created before the window (the fallback draw).
    fallback: usize,
}

impl Items {
    fn generate(cfg: &GenerateConfig, prior: &[f64], path: &Path) -> Result<Items> {
        let mut rng = rng_for(cfg.seed, 2);
        let n = cfg.items as usize;
        let popularity = zipf_weights(&mut rng, n, ITEM_ZIPF);
        let brands_per_genre = (n / 100).clamp(2, 40);
        let brand_weights: Vec<f64> = (0..brands_per_genre)
            .map(|b| 1.0 / (b as f64 + 1.0))
            .collect();
        let window_start = WINDOW_END - WINDOW_SECS;
        let mut created = Vec::with_capacity(n);
        let mut members: Vec<(Vec<u32>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); GENRES.len()];
        let mut w = CsvOut::create(path)?;
        w.line(b"ITEM_ID,GENRES,PRICE,BRAND,CREATION_TIMESTAMP,TITLE")?;
        for (i, pop) in popularity.iter().enumerate() {
            let g0 = pick_weighted(&mut rng, prior);
            let mut genres = vec![g0];
            let extra = pick_weighted(&mut rng, &[0.5, 0.35, 0.15]);
            while genres.len() < 1 + extra {
                let g = rng.random_range(0..GENRES.len());
                if !genres.contains(&g) {
                    genres.push(g);
                }
            }
            for (k, &g) in genres.iter().enumerate() {
                members[g].0.push(i as u32);
                members[g].1.push(if k == 0 { *pop } else { pop * 0.4 });
            }
            // Log-normal price around a genre-dependent median of 8-54.
            let median = (2.0 + (g0 % 5) as f64 * 0.5).exp();
            let price = (median * (0.6 * normal(&mut rng)).exp()).max(0.99);
            let cents = (price * 100.0).round() as u64;
            // Brands specialise in a genre; a few brands per genre sell most items.
            let brand = g0 * brands_per_genre + pick_weighted(&mut rng, &brand_weights);
            let created_at = if rng.random_bool(P_NEW_ITEM) {
                window_start + rng.random_range(0..WINDOW_SECS)
            } else {
                window_start - CATALOG_SECS + rng.random_range(0..CATALOG_SECS)
            };
            created.push((created_at, g0 as u8));

            let t = title(&mut rng);
            let b = w.buf();
            b.push(b'i');
            push_u64(b, i as u64 + 1);
            b.push(b',');
            for (k, &g) in genres.iter().enumerate() {
                if k > 0 {
                    b.push(b'|');
                }
                b.extend_from_slice(GENRES[g].as_bytes());
            }
            b.push(b',');
            push_cents(b, cents);
            b.push(b',');
            b.extend_from_slice(brand_name(brand).as_bytes());
            b.push(b',');
            push_u64(b, created_at as u64);
            b.extend_from_slice(b",\"");
            // RFC 4180: a quote inside a quoted cell is doubled.
            for c in t.bytes() {
                if c == b'"' {
                    b.push(b'"');
                }
                b.push(c);
            }
            b.extend_from_slice(b"\"\n");
            w.flush_if_full()?;
        }
        w.finish()?;
        let fallback = (0..n)
            .filter(|&i| created[i].0 < window_start)
            .max_by(|&a, &b| popularity[a].total_cmp(&popularity[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        let by_genre = members
            .into_iter()
            .map(|(ids, weights)| {
                (!ids.is_empty()).then(|| Alias::with_outcomes(&weights, |i| ids[i]))
            })
            .collect();
        Ok(Items {
            created,
            global: Alias::new(&popularity),
            by_genre,
            fallback,
        })
    }

    /// An item of genre `g` by popularity (any item when the genre has none).
    fn in_genre(&self, g: usize, rng: &mut impl RngCore) -> usize {
        match &self.by_genre[g] {
            Some(alias) => alias.sample(rng),
            None => self.global.sample(rng),
        }
    }
}

/// Where an interaction's item came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The user's taste (or the session's genre).
    Taste,
    /// Global popularity.
    Noise,
}

fn write_interactions(
    cfg: &GenerateConfig,
    users: &Users,
    items: &Items,
    prior: &[f64],
    path: &Path,
    progress: &dyn Progress,
) -> Result<()> {
    let mut rng = rng_for(cfg.seed, 3);
    let explore = Alias::new(prior);
    let window_start = WINDOW_END - WINDOW_SECS;
    let total = cfg.interactions;
    let mut w = CsvOut::create(path)?;
    w.line(b"USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP")?;
    progress.start("generate", total);
    let mut last_user = usize::MAX;
    let mut last_genre = 0usize;
    let mut since_progress = 0u64;
    for k in 0..total {
        // Non-decreasing times: row k falls in [k, k+1) * window / total.
        let frac = (k as f64 + rng.random::<f64>()) / total as f64;
        let t = window_start + ((WINDOW_SECS as f64 * frac) as i64).min(WINDOW_SECS - 1);
        let in_session = last_user != usize::MAX && rng.random_bool(P_SESSION);
        let user = if in_session {
            last_user
        } else {
            users.activity.sample(&mut rng)
        };
        let source = if rng.random_bool(P_NOISE) {
            Source::Noise
        } else {
            Source::Taste
        };
        let genre = if in_session && rng.random_bool(P_SESSION_GENRE) {
            last_genre
        } else if rng.random_bool(P_EXPLORE) {
            explore.sample(&mut rng)
        } else {
            users.favourite(user, &mut rng)
        };
        let mut item = items.fallback;
        for _ in 0..MAX_TRIES {
            let candidate = match source {
                Source::Noise => items.global.sample(&mut rng),
                Source::Taste => items.in_genre(genre, &mut rng),
            };
            if items.created[candidate].0 <= t {
                item = candidate;
                break;
            }
        }
        let (weights, value_range): (&[f64; 4], (u64, u64)) = match source {
            Source::Taste => (&[0.65, 0.22, 0.08, 0.05], (40, 100)),
            Source::Noise => (&[0.85, 0.12, 0.02, 0.01], (5, 60)),
        };
        let event = pick_weighted(&mut rng, weights);
        last_user = user;
        last_genre = usize::from(items.created[item].1);

        let b = w.buf();
        b.push(b'u');
        push_u64(b, user as u64 + 1);
        b.extend_from_slice(b",i");
        push_u64(b, item as u64 + 1);
        b.push(b',');
        b.extend_from_slice(EVENT_TYPES[event].as_bytes());
        b.push(b',');
        match event {
            // view: the fraction watched, higher when it matches the user's taste
            0 => push_cents(b, rng.random_range(value_range.0..=value_range.1)),
            // click
            1 => b.push(b'1'),
            // add_to_cart, purchase: the quantity
            _ => push_u64(b, 1 + pick_weighted(&mut rng, &[0.8, 0.15, 0.05]) as u64),
        }
        b.push(b',');
        push_u64(b, t as u64);
        b.push(b'\n');
        w.flush_if_full()?;
        since_progress += 1;
        if since_progress == PROGRESS_EVERY {
            progress.advance(since_progress);
            since_progress = 0;
        }
    }
    w.finish()?;
    progress.advance(since_progress);
    progress.finish();
    Ok(())
}

/// A CSV file written through one reused line buffer and a large `BufWriter`.
struct CsvOut {
    path: PathBuf,
    out: BufWriter<File>,
    buf: Vec<u8>,
}

impl CsvOut {
    fn create(path: &Path) -> Result<CsvOut> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(CsvOut {
            path: path.to_owned(),
            out: BufWriter::with_capacity(1 << 22, file),
            buf: Vec::with_capacity(1 << 16),
        })
    }

    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    fn line(&mut self, text: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(text);
        self.buf.push(b'\n');
        self.flush_if_full()
    }

    fn flush_if_full(&mut self) -> Result<()> {
        if self.buf.len() >= (1 << 16) - 1024 {
            self.out
                .write_all(&self.buf)
                .map_err(|e| Error::io(&self.path, e))?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.out
            .write_all(&self.buf)
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// Appends the decimal digits of `n`.
fn push_u64(b: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    b.extend_from_slice(&digits[i..]);
}

/// Appends `cents / 100` with two decimals (`1299` -> `12.99`).
fn push_cents(b: &mut Vec<u8>, cents: u64) {
    push_u64(b, cents / 100);
    b.push(b'.');
    let c = (cents % 100) as u8;
    b.push(b'0' + c / 10);
    b.push(b'0' + c % 10);
}

#[cfg(test)]
pub(crate) mod tests;
