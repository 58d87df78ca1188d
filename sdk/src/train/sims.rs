//! Similar-Items (`aws-similar-items`, `aws-sims`): top-K neighbours per item from co-occurrence
//! in user histories, blended with item-metadata similarity so items with few or no
//! interactions still get neighbours.
//!
//! With `H_u` the distinct items of user `u`'s `max_history` most recent interactions,
//! `c_i = |{u : i ∈ H_u}|` and `β` the popularity discount factor:
//!
//! ```text
//! cooc(i, j) = |{u : i ∈ H_u and j ∈ H_u}|         (pairs with cooc < min_cointeraction_count dropped)
//! cf(i, j)   = cooc(i, j) / (c_i^β · c_j^β)         β = 0: raw counts (popular items), β = 1: lift
//! cf'(i, j)  = cf(i, j) / max_j' cf(i, j')           per item, so the best collaborative neighbour is 1
//! meta(i, j) = cosine(v_i, v_j)                      TF-IDF vectors over categorical and text tokens
//! w_i        = k0 / (k0 + c_i)                       k0 = metadata_weight; w_i = 0 without metadata
//! score(i,j) = (1 − w_i) · cf'(i, j) + w_i · meta(i, j)
//! ```
//!
//! An item with no interactions has `w_i = 1`: pure metadata neighbours. Metadata vectors weigh a
//! categorical token by `idf(t) = ln((1 + N) / (1 + df_t)) + 1` and a text token by
//! `TEXT_WEIGHT · (1 + ln tf) · idf(t)`, then are L2-normalized. The inverted index keeps, per
//! token, only the [`MAX_POSTING`] most popular items (by `c_j`, then index), which bounds the
//! cost of tokens most items share; an item reaches the others through its rarer tokens. Each
//! neighbour list is sorted by score descending, then popularity descending, then index
//! ascending, never holds the item itself nor a zero score, and is the same for any thread count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use super::ease::thread_count;
use super::matrix::Csr;

/// One item's index and its neighbour list.
type ItemList = (usize, Vec<(u32, f32)>);

/// Tokens shared by more items than this keep only their most popular items in the index.
pub const MAX_POSTING: usize = 1000;
/// Weight of the textual field's tokens relative to categorical ones.
pub const TEXT_WEIGHT: f32 = 0.5;

/// Similar-Items hyperparameters.
///
/// The defaults (`β` 0.5, minimum co-count 3, 200 recent items, `k0` 10) scored best, within
/// noise, on MovieLens (ml-latest-small) at predicting a user's next item from the top 10
/// neighbours of their previous one; `β` 0 and 1 were clearly worse.
#[derive(Debug, Clone, PartialEq)]
pub struct SimsParams {
    /// `β` in `[0, 1]`: 0 favours popular neighbours, 1 divides the popularity out.
    pub popularity_discount_factor: f32,
    /// Pairs seen together by fewer users are not collaborative neighbours (0 acts as 1).
    pub min_cointeraction_count: u32,
    /// Distinct most recent items per user counted for co-occurrence.
    pub max_history: usize,
    /// Neighbours kept per item (K).
    pub neighbours: usize,
    /// `k0`: how many interactions the metadata similarity is worth; 0 ignores metadata.
    pub metadata_weight: f32,
    /// Worker threads; 0 means every available core.
    pub threads: usize,
}

impl Default for SimsParams {
    fn default() -> SimsParams {
        SimsParams {
            popularity_discount_factor: 0.5,
            min_cointeraction_count: 3,
            max_history: 200,
            neighbours: 100,
            metadata_weight: 10.0,
            threads: 0,
        }
    }
}

/// Item metadata as token ids, indexed like the matrix columns. Either list may be shorter or
/// longer than the item count; missing entries mean no metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemMetadata {
    /// Per item, ids of its categorical values (one vocabulary across fields, e.g.
    /// `GENRES=Action`); duplicates are ignored.
    pub categorical: Vec<Vec<u32>>,
    /// Per item, word ids of its textual field (repeats count as term frequency). The ids may
    /// share the categorical vocabulary or not: the two are kept apart.
    pub textual: Vec<Vec<u32>>,
}

/// Top-K neighbours of every item, in CSR form.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbours {
    /// The K the lists were cut to.
    pub k: usize,
    /// Item `i`'s list is `items[indptr[i]..indptr[i + 1]]`; `indptr.len()` is the item count
    /// plus one.
    pub indptr: Vec<usize>,
    /// Neighbour item indices.
    pub items: Vec<u32>,
    /// Their scores, parallel to `items`, descending within a list.
    pub scores: Vec<f32>,
}

impl Neighbours {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The neighbours of `item` and their scores, best first; empty for an item outside the
    /// model.
    pub fn of(&self, item: u32) -> (&[u32], &[f32]) {
        let i = item as usize;
        if i + 1 >= self.indptr.len() {
            return (&[], &[]);
        }
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.items[a..b], &self.scores[a..b])
    }
}

/// Trains the neighbour lists of `n_items` items (at least the matrix's column count).
///
/// `histories` holds each user's item indices in time order, oldest first, repeats allowed;
/// when it is empty the rows of `user_items` are used instead, in column order. Items at or past
/// the item count are ignored.
pub fn train(
    user_items: &Csr,
    histories: &[Vec<u32>],
    metadata: Option<&ItemMetadata>,
    n_items: usize,
    params: &SimsParams,
) -> Neighbours {
    train_excluding(user_items, histories, metadata, n_items, params, &[])
}

/// [`train`] with some items left out (`excluded[i]` true; a shorter slice leaves the rest in):
/// such an item is in no user's history, so it counts in no co-occurrence and has `c_i = 0`, and
/// it is nobody's neighbour, collaborative or by metadata. Its own list comes from its metadata
/// alone, as for an item without interactions (empty without metadata).
pub fn train_excluding(
    user_items: &Csr,
    histories: &[Vec<u32>],
    metadata: Option<&ItemMetadata>,
    n_items: usize,
    params: &SimsParams,
    excluded: &[bool],
) -> Neighbours {
    let n = n_items.max(user_items.ncols);
    let threads = thread_count(params.threads);
    let excluded = |i: usize| excluded.get(i).copied().unwrap_or(false);
    let (users, postings) =
        capped_histories(user_items, histories, n, params.max_history, &excluded);
    let counts: Vec<u32> = (0..n).map(|i| postings.len_of(i) as u32).collect();
    let meta = metadata
        .filter(|_| params.metadata_weight > 0.0)
        .map(|m| MetaIndex::build(m, n, &counts, &excluded));

    let beta = params.popularity_discount_factor;
    let inv_discount = counts
        .iter()
        .map(|&c| {
            if beta == 0.0 {
                1.0
            } else {
                (c.max(1) as f32).powf(-beta)
            }
        })
        .collect();
    let ctx = Context {
        users: &users,
        postings: &postings,
        counts: &counts,
        inv_discount,
        meta: meta.as_ref(),
        params,
        n,
    };
    let next = AtomicUsize::new(0);
    const CHUNK: usize = 64;
    let parts: Vec<Vec<ItemList>> = thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut scratch = Scratch::new(n);
                    let mut done = Vec::new();
                    loop {
                        let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                        if start >= n {
                            break;
                        }
                        for i in start..(start + CHUNK).min(n) {
                            done.push((i, ctx.neighbours_of(i, &mut scratch)));
                        }
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a neighbour worker panicked"))
            .collect()
    });
    let mut lists: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n];
    for (i, list) in parts.into_iter().flatten() {
        lists[i] = list;
    }
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0);
    let total = lists.iter().map(Vec::len).sum();
    let mut items = Vec::with_capacity(total);
    let mut scores = Vec::with_capacity(total);
    for list in lists {
        for (j, s) in list {
            items.push(j);
            scores.push(s);
        }
        indptr.push(items.len());
    }
    Neighbours {
        k: params.neighbours,
        indptr,
        items,
        scores,
    }
}

/// Lower-cased words of a text, split at every character that is not alphanumeric, with English
/// stop words dropped.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| STOP_WORDS.binary_search(&w.as_str()).is_err())
        .collect()
}

/// English stop words, sorted.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "s",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// A compact list of lists.
#[derive(Debug)]
struct Lists {
    indptr: Vec<usize>,
    values: Vec<u32>,
}

impl Lists {
    fn get(&self, i: usize) -> &[u32] {
        &self.values[self.indptr[i]..self.indptr[i + 1]]
    }

    fn len_of(&self, i: usize) -> usize {
        self.indptr[i + 1] - self.indptr[i]
    }
}

/// Each user's distinct most recent items (at most `cap`), and per item the users holding it.
/// Items `excluded` leaves out are skipped (they take no place under the cap).
fn capped_histories(
    x: &Csr,
    histories: &[Vec<u32>],
    n: usize,
    cap: usize,
    excluded: &dyn Fn(usize) -> bool,
) -> (Lists, Lists) {
    let mut seen = vec![u32::MAX; n];
    let mut indptr = vec![0usize];
    let mut values = Vec::new();
    let mut push_user = |u: usize, items: &mut dyn Iterator<Item = u32>| {
        let start = values.len();
        for i in items {
            if values.len() - start >= cap {
                break;
            }
            if (i as usize) < n && seen[i as usize] != u as u32 && !excluded(i as usize) {
                seen[i as usize] = u as u32;
                values.push(i);
            }
        }
        indptr.push(values.len());
    };
    if histories.is_empty() {
        for u in 0..x.nrows() {
            push_user(u, &mut x.row(u).0.iter().rev().copied());
        }
    } else {
        for (u, h) in histories.iter().enumerate() {
            push_user(u, &mut h.iter().rev().copied());
        }
    }
    let users = Lists { indptr, values };
    // Transpose.
    let mut pind = vec![0usize; n + 1];
    for &i in &users.values {
        pind[i as usize + 1] += 1;
    }
    for i in 0..n {
        pind[i + 1] += pind[i];
    }
    let mut fill = pind.clone();
    let mut pvals = vec![0u32; users.values.len()];
    for u in 0..users.indptr.len() - 1 {
        for &i in users.get(u) {
            pvals[fill[i as usize]] = u as u32;
            fill[i as usize] += 1;
        }
    }
    let postings = Lists {
        indptr: pind,
        values: pvals,
    };
    (users, postings)
}

/// L2-normalized TF-IDF item vectors and the (capped) inverted index over them.
#[derive(Debug)]
struct MetaIndex {
    /// Per item, `(token, weight)`.
    vectors: Vec<Vec<(u32, f32)>>,
    /// Per token, `(item, weight)`, most popular items first, at most [`MAX_POSTING`].
    postings: Vec<Vec<(u32, f32)>>,
}

impl MetaIndex {
    /// Items `excluded` leaves out keep their vector (to find their own neighbours) but are in
    /// no posting list (nobody finds them).
    fn build(
        m: &ItemMetadata,
        n: usize,
        counts: &[u32],
        excluded: &dyn Fn(usize) -> bool,
    ) -> MetaIndex {
        let cat_vocab = m
            .categorical
            .iter()
            .flatten()
            .map(|&t| t as usize + 1)
            .max();
        let offset = cat_vocab.unwrap_or(0);
        let text_vocab = m.textual.iter().flatten().map(|&t| t as usize + 1).max();
        let vocab = offset + text_vocab.unwrap_or(0);

        // Raw term frequencies, tokens in one space: categorical ids, then text ids + offset.
        let mut raw: Vec<Vec<(u32, f32, bool)>> = Vec::with_capacity(n);
        for i in 0..n {
            let mut toks: Vec<(u32, bool)> = Vec::new();
            if let Some(c) = m.categorical.get(i) {
                toks.extend(c.iter().map(|&t| (t, false)));
            }
            if let Some(w) = m.textual.get(i) {
                toks.extend(w.iter().map(|&t| (t + offset as u32, true)));
            }
            toks.sort_unstable();
            let mut v: Vec<(u32, f32, bool)> = Vec::with_capacity(toks.len());
            for (t, text) in toks {
                match v.last_mut() {
                    Some(last) if last.0 == t => {
                        if text {
                            last.1 += 1.0;
                        }
                    }
                    _ => v.push((t, 1.0, text)),
                }
            }
            raw.push(v);
        }
        let mut df = vec![0u32; vocab];
        for v in &raw {
            for &(t, _, _) in v {
                df[t as usize] += 1;
            }
        }
        let with_meta = raw.iter().filter(|v| !v.is_empty()).count() as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((1.0 + with_meta) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        let vectors: Vec<Vec<(u32, f32)>> = raw
            .into_iter()
            .map(|v| {
                let mut out: Vec<(u32, f32)> = v
                    .into_iter()
                    .map(|(t, tf, text)| {
                        let w = if text {
                            TEXT_WEIGHT * (1.0 + tf.ln()) * idf[t as usize]
                        } else {
                            idf[t as usize]
                        };
                        (t, w)
                    })
                    .collect();
                let norm = out.iter().map(|p| p.1 * p.1).sum::<f32>().sqrt();
                if norm > 0.0 {
                    for p in &mut out {
                        p.1 /= norm;
                    }
                }
                out
            })
            .collect();
        let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); vocab];
        for (i, v) in vectors.iter().enumerate().filter(|(i, _)| !excluded(*i)) {
            for &(t, w) in v {
                postings[t as usize].push((i as u32, w));
            }
        }
        for p in &mut postings {
            if p.len() > MAX_POSTING {
                // Stable: equal counts keep index order.
                p.sort_by(|a, b| counts[b.0 as usize].cmp(&counts[a.0 as usize]));
                p.truncate(MAX_POSTING);
            }
        }
        MetaIndex { vectors, postings }
    }
}

/// Per-thread accumulators, sized to the item count and cleared through `touched`.
struct Scratch {
    cooc: Vec<u32>,
    cf: Vec<f32>,
    meta: Vec<f32>,
    touched: Vec<u32>,
    marked: Vec<bool>,
}

impl Scratch {
    fn new(n: usize) -> Scratch {
        Scratch {
            cooc: vec![0; n],
            cf: vec![0.0; n],
            meta: vec![0.0; n],
            touched: Vec::new(),
            marked: vec![false; n],
        }
    }

    fn touch(&mut self, j: u32) {
        if !self.marked[j as usize] {
            self.marked[j as usize] = true;
            self.touched.push(j);
        }
    }
}

struct Context<'a> {
    users: &'a Lists,
    postings: &'a Lists,
    counts: &'a [u32],
    /// `1 / c_j^β` per item.
    inv_discount: Vec<f32>,
    meta: Option<&'a MetaIndex>,
    params: &'a SimsParams,
    n: usize,
}

impl Context<'_> {
    fn neighbours_of(&self, i: usize, s: &mut Scratch) -> Vec<(u32, f32)> {
        let p = self.params;
        // Co-occurrence counts, then cf(i, j) up to the constant 1 / c_i^β.
        for &u in self.postings.get(i) {
            for &j in self.users.get(u as usize) {
                s.cooc[j as usize] += 1;
                s.touch(j);
            }
        }
        let min_count = p.min_cointeraction_count.max(1);
        let mut cf_max = 0f32;
        for &j in &s.touched {
            let ju = j as usize;
            let c = s.cooc[ju];
            if ju != i && c >= min_count {
                let cf = c as f32 * self.inv_discount[ju];
                s.cf[ju] = cf;
                cf_max = cf_max.max(cf);
            }
        }
        let cf_scale = if cf_max > 0.0 { 1.0 / cf_max } else { 0.0 };
        // Metadata similarities.
        let w_meta = match self.meta {
            Some(m) if !m.vectors[i].is_empty() => {
                for &(t, wi) in &m.vectors[i] {
                    for &(j, wj) in &m.postings[t as usize] {
                        s.meta[j as usize] += wi * wj;
                        s.touch(j);
                    }
                }
                p.metadata_weight / (p.metadata_weight + self.counts[i] as f32)
            }
            _ => 0.0,
        };
        // (score, popularity, item), best first.
        let mut out: Vec<(f32, u32, u32)> = Vec::new();
        for &j in &s.touched {
            let ju = j as usize;
            let score = (1.0 - w_meta) * s.cf[ju] * cf_scale + w_meta * s.meta[ju].min(1.0);
            if ju != i && score > 0.0 {
                out.push((score, self.counts[ju], j));
            }
            s.cooc[ju] = 0;
            s.cf[ju] = 0.0;
            s.meta[ju] = 0.0;
            s.marked[ju] = false;
        }
        s.touched.clear();
        let cmp = |a: &(f32, u32, u32), b: &(f32, u32, u32)| {
            b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2))
        };
        let k = p.neighbours.min(self.n);
        if out.len() > k && k > 0 {
            out.select_nth_unstable_by(k - 1, cmp);
        }
        out.truncate(k);
        out.sort_unstable_by(cmp);
        out.into_iter().map(|(score, _, j)| (j, score)).collect()
    }
}

/// MovieLens (ml-latest-small) loading for the tests of this module and of `ease`.
#[cfg(test)]
pub(crate) mod movielens {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use super::{tokenize, Csr, ItemMetadata};

    /// The data set: items are `movies.csv` rows in file order.
    pub(crate) struct MovieLens {
        /// Per item, its genres (`|`-separated in the file).
        pub genres: Vec<Vec<String>>,
        /// Per item, its title.
        pub titles: Vec<String>,
        /// Per user (in `userId` order), `(timestamp, item)` sorted by time, ties in file order.
        pub histories: Vec<Vec<(i64, u32)>>,
    }

    /// Loads the data, or prints why not and returns `None`.
    pub(crate) fn load() -> Option<MovieLens> {
        let dir =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/ml-latest-small");
        if !dir.join("ratings.csv").exists() {
            println!("skipped: MovieLens not found at {}", dir.display());
            return None;
        }
        let mut ids = std::collections::HashMap::new();
        let mut genres = Vec::new();
        let mut titles = Vec::new();
        let mut movies = csv::Reader::from_path(dir.join("movies.csv")).expect("movies.csv");
        for rec in movies.records() {
            let rec = rec.expect("movies.csv row");
            ids.insert(rec[0].parse::<u64>().expect("movieId"), titles.len() as u32);
            titles.push(rec[1].to_string());
            genres.push(
                rec[2]
                    .split('|')
                    .filter(|g| *g != "(no genres listed)")
                    .map(|g| format!("GENRES={g}"))
                    .collect(),
            );
        }
        let mut users = std::collections::BTreeMap::<u64, Vec<(i64, u32)>>::new();
        let mut ratings = csv::Reader::from_path(dir.join("ratings.csv")).expect("ratings.csv");
        for rec in ratings.records() {
            let rec = rec.expect("ratings.csv row");
            let user = rec[0].parse::<u64>().expect("userId");
            let item = ids[&rec[1].parse::<u64>().expect("movieId")];
            let ts = rec[3].parse::<i64>().expect("timestamp");
            users.entry(user).or_default().push((ts, item));
        }
        let histories = users
            .into_values()
            .map(|mut h| {
                h.sort_by_key(|p| p.0);
                h
            })
            .collect();
        Some(MovieLens {
            genres,
            titles,
            histories,
        })
    }

    impl MovieLens {
        /// Items count (movies.csv rows).
        pub(crate) fn n_items(&self) -> usize {
            self.titles.len()
        }

        /// How many of each user's first events are training data: all but the last 10%.
        pub(crate) fn train_len(h: &[(i64, u32)]) -> usize {
            h.len() - h.len().div_ceil(10)
        }

        /// The training part of every history, and the matrix of it.
        pub(crate) fn training(&self) -> (Vec<Vec<u32>>, Csr) {
            let histories: Vec<Vec<u32>> = self
                .histories
                .iter()
                .map(|h| h[..Self::train_len(h)].iter().map(|p| p.1).collect())
                .collect();
            let t: Vec<(u32, u32, f32)> = histories
                .iter()
                .enumerate()
                .flat_map(|(u, h)| h.iter().map(move |&i| (u as u32, i, 1.0)))
                .collect();
            // Ratings are unique per (user, movie), so no duplicates.
            let x = Csr::from_triplets(histories.len(), self.n_items(), &t);
            (histories, x)
        }

        /// Genres as categorical tokens, title words as textual ones.
        pub(crate) fn metadata(&self) -> ItemMetadata {
            let mut vocab = HashMap::new();
            let mut id = |s: String| {
                let n = vocab.len() as u32;
                *vocab.entry(s).or_insert(n)
            };
            ItemMetadata {
                categorical: self
                    .genres
                    .iter()
                    .map(|g| g.iter().map(|s| id(s.clone())).collect())
                    .collect(),
                textual: self
                    .titles
                    .iter()
                    .map(|t| tokenize(t).into_iter().map(&mut id).collect())
                    .collect(),
            }
        }

        /// `(hits, pairs)` over every test pair `(previous, next)` (next in the last 10% of a
        /// user's timeline): a hit when `next` is in `top10(previous)`.
        pub(crate) fn next_item_hits(&self, top10: impl Fn(u32) -> Vec<u32>) -> (usize, usize) {
            let (mut hits, mut pairs) = (0, 0);
            for h in &self.histories {
                for t in Self::train_len(h).max(1)..h.len() {
                    pairs += 1;
                    if top10(h[t - 1].1).contains(&h[t].1) {
                        hits += 1;
                    }
                }
            }
            (hits, pairs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn params(k0: f32) -> SimsParams {
        SimsParams {
            popularity_discount_factor: 0.5,
            min_cointeraction_count: 2,
            max_history: 50,
            neighbours: 3,
            metadata_weight: k0,
            threads: 2,
        }
    }

    /// 0 and 1 go together (10 users), 1 and 2 (3 users), 3 and 4 (1 user); 5 is everywhere.
    fn histories() -> Vec<Vec<u32>> {
        let mut h = Vec::new();
        for _ in 0..10 {
            h.push(vec![0, 5, 1]);
        }
        for _ in 0..3 {
            h.push(vec![1, 2, 5]);
        }
        h.push(vec![3, 4]);
        h
    }

    fn matrix(histories: &[Vec<u32>], n: usize) -> Csr {
        let t: Vec<(u32, u32, f32)> = histories
            .iter()
            .enumerate()
            .flat_map(|(u, h)| h.iter().map(move |&i| (u as u32, i, 1.0)))
            .collect();
        Csr::from_triplets(histories.len(), n, &t)
    }

    fn check_lists(n: &Neighbours) {
        for i in 0..n.len() as u32 {
            let (items, scores) = n.of(i);
            assert!(items.len() <= n.k);
            assert!(!items.contains(&i), "item {i} is its own neighbour");
            assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
            assert!(scores.iter().all(|&s| s > 0.0 && s.is_finite()));
        }
    }

    #[test]
    fn co_consumed_items_are_neighbours_and_rare_pairs_are_dropped() {
        let h = histories();
        let x = matrix(&h, 7);
        let n = train(&x, &h, None, 7, &params(0.0));
        check_lists(&n);
        assert_eq!(n.len(), 7);
        assert_eq!(n.of(0).0[0], 1);
        assert_eq!(n.of(2).0, &[1, 5]);
        // 3 and 4 were seen together once, below the minimum of 2; 6 was never seen.
        assert!(n.of(3).0.is_empty() && n.of(4).0.is_empty() && n.of(6).0.is_empty());
        assert!(n.of(99).0.is_empty());
        let loose = SimsParams {
            min_cointeraction_count: 0,
            ..params(0.0)
        };
        let n = train(&x, &h, None, 7, &loose);
        assert_eq!(n.of(3).0, &[4]);
        // Without a history list the matrix rows are used.
        assert_eq!(train(&x, &[], None, 7, &loose), n);
    }

    #[test]
    fn the_discount_trades_popular_for_specific_neighbours() {
        // Item 0: 4 users with the everywhere item 9, 3 with the niche item 1 (seen by 3 only).
        let mut h = Vec::new();
        for u in 0..30u32 {
            let mut v = vec![9];
            if u < 4 {
                v.push(0);
            }
            h.push(v);
        }
        for v in h.iter_mut().skip(4).take(3) {
            v.extend([0, 1]);
        }
        let x = matrix(&h, 10);
        let raw = SimsParams {
            popularity_discount_factor: 0.0,
            ..params(0.0)
        };
        assert_eq!(train(&x, &h, None, 10, &raw).of(0).0[0], 9);
        let lift = SimsParams {
            popularity_discount_factor: 1.0,
            ..params(0.0)
        };
        assert_eq!(train(&x, &h, None, 10, &lift).of(0).0[0], 1);
    }

    #[test]
    fn max_history_keeps_the_most_recent_items() {
        // Everyone saw 0 long ago and 1 then 2 recently.
        let h: Vec<Vec<u32>> = (0..5).map(|_| vec![0, 1, 0, 2]).collect();
        let x = matrix(&h, 3);
        let p = SimsParams {
            max_history: 2,
            ..params(0.0)
        };
        let n = train(&x, &h, None, 3, &p);
        // The most recent distinct items are 2 and 0; 1 falls out.
        assert_eq!(n.of(0).0, &[2]);
        assert!(n.of(1).0.is_empty());
    }

    #[test]
    fn a_cold_item_gets_neighbours_sharing_its_metadata() {
        let h = histories();
        let x = matrix(&h, 7);
        let mut vocab = HashMap::new();
        let mut id = |s: &str| {
            let n = vocab.len() as u32;
            *vocab.entry(s.to_string()).or_insert(n)
        };
        let cats = [
            vec!["GENRES=Drama", "GENRES=War"],
            vec!["GENRES=Drama"],
            vec!["GENRES=Comedy"],
            vec!["GENRES=Horror"],
            vec!["GENRES=Horror", "GENRES=Comedy"],
            vec!["GENRES=Documentary"],
            vec!["GENRES=War", "GENRES=Drama", "GENRES=War"], // the cold item
        ];
        let categorical = cats
            .iter()
            .map(|c| c.iter().map(|s| id(s)).collect())
            .collect();
        let textual = vec![
            vec![0, 1],
            vec![2],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![0, 3, 3],
        ];
        let meta = ItemMetadata {
            categorical,
            textual,
        };
        let n = train(&x, &h, Some(&meta), 7, &params(2.0));
        check_lists(&n);
        assert_eq!(n.of(6).0, &[0, 1]);
        // A well-interacted item keeps its collaborative neighbour first.
        assert_eq!(n.of(0).0[0], 1);
        // Metadata fills lists the co-occurrence filter emptied.
        assert_eq!(n.of(3).0, &[4]);
        // Items past the interaction matrix's columns count too.
        let n = train(&x, &h, Some(&meta), 9, &params(2.0));
        assert_eq!(n.len(), 9);
        assert!(n.of(8).0.is_empty());
        // metadata_weight 0 ignores metadata.
        assert!(train(&x, &h, Some(&meta), 7, &params(0.0))
            .of(6)
            .0
            .is_empty());
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let mut state = 42u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let h: Vec<Vec<u32>> = (0..300)
            .map(|_| {
                (0..(2 + next() % 20))
                    .map(|_| (next() % 400).min(next() % 400))
                    .collect()
            })
            .collect();
        let meta = ItemMetadata {
            categorical: (0..500).map(|i| vec![i % 7, 7 + i % 3]).collect(),
            textual: (0..500).map(|i| vec![i % 11, i % 13]).collect(),
        };
        let x = matrix(&h, 400);
        let run = |threads| {
            let p = SimsParams {
                threads,
                neighbours: 20,
                ..SimsParams::default()
            };
            train(&x, &h, Some(&meta), 500, &p)
        };
        let one = run(1);
        check_lists(&one);
        assert_eq!(one.len(), 500);
        assert_eq!(run(2), one);
        assert_eq!(run(5), one);
        assert!(
            !one.of(450).0.is_empty(),
            "cold items get metadata neighbours"
        );
    }

    /// The next-item hit rate on MovieLens: sims with metadata, plain co-occurrence and
    /// popularity. Run with `--release --nocapture` for the figures.
    #[test]
    fn movielens_next_item_hit_rate() {
        let Some(ml) = movielens::load() else { return };
        let (histories, x) = ml.training();
        let meta = ml.metadata();
        let n = ml.n_items();
        let rate = |(hits, pairs): (usize, usize)| hits as f64 / pairs as f64;
        let sims_rate = |params: &SimsParams, meta: Option<&ItemMetadata>| {
            let started = std::time::Instant::now();
            let nb = train(&x, &histories, meta, n, params);
            let took = started.elapsed();
            check_lists(&nb);
            let r = rate(ml.next_item_hits(|i| nb.of(i).0.iter().take(10).copied().collect()));
            (r, took, nb)
        };
        let defaults = SimsParams::default();
        let (with_meta, took, nb) = sims_rate(&defaults, Some(&meta));
        // Movies nobody rated in the training part still get neighbours from their genres.
        let counts = super::super::popularity::train(&x).counts;
        let cold: Vec<u32> = (0..n as u32)
            .filter(|&i| counts[i as usize] == 0 && !meta.categorical[i as usize].is_empty())
            .collect();
        assert!(cold.len() > 10, "{} cold items", cold.len());
        let mut sharing = 0;
        for &i in &cold {
            let (items, _) = nb.of(i);
            assert_eq!(items.len(), defaults.neighbours, "item {i}");
            let shares_genre = |j: &u32| {
                meta.categorical[*j as usize]
                    .iter()
                    .any(|g| meta.categorical[i as usize].contains(g))
            };
            // Title words count too, so not every neighbour needs a common genre.
            sharing += items[..10].iter().filter(|j| shares_genre(j)).count();
        }
        let share = sharing as f64 / (10 * cold.len()) as f64;
        assert!(share > 0.8, "{share}");
        let no_meta = SimsParams {
            metadata_weight: 0.0,
            ..defaults.clone()
        };
        let (discounted, _, _) = sims_rate(&no_meta, None);
        let plain = SimsParams {
            popularity_discount_factor: 0.0,
            ..no_meta
        };
        let (cooc, _, _) = sims_rate(&plain, None);
        let pop = super::super::popularity::train(&x);
        let popular = rate(ml.next_item_hits(|i| pop.top_n(10, &[i])));
        println!(
            "MovieLens next-item hit rate @10: sims+metadata {with_meta:.4} (trained in {took:?}), \
             sims without metadata {discounted:.4}, plain co-occurrence {cooc:.4}, \
             popularity {popular:.4}"
        );
        assert!(cooc > popular, "{cooc} <= {popular}");
        assert!(discounted > cooc, "{discounted} <= {cooc}");
        assert!(with_meta > discounted, "{with_meta} <= {discounted}");
    }

    #[test]
    fn tokenize_lowercases_and_drops_stop_words() {
        assert_eq!(
            tokenize("The Lord of the Rings: The Return of the King (2003)"),
            vec!["lord", "rings", "return", "king", "2003"]
        );
        assert_eq!(tokenize("  Amélie, L'été!  "), vec!["amélie", "l", "été"]);
        assert!(tokenize("").is_empty());
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }
}
