//! Training: the interaction matrix, the recipes (Personalized-Ranking by iALS or EASE,
//! Similar-Items, Popularity-Count) and offline evaluation.

pub mod data;
pub mod ease;
pub mod eval;
pub mod hp;
pub mod ials;
pub mod matrix;
pub mod popularity;
pub mod sims;
