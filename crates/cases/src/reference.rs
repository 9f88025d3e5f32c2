//! The reference data every filing reads, kept in memory: a category's
//! filing terms and a household's chain in the org tree. Each would
//! otherwise be a database read (a trip to the blocking pool and back) on
//! every filing, for rows that change a few times a year.
//!
//! Entries live under the authentication epoch's generation
//! ([`kernel::epoch_map`]): migration 0085's triggers move the epoch when a
//! category, a category's limits or an org node changes, so this process's
//! own change is seen by the next request and another process's within the
//! epoch poll's bound (the session cache's: nothing is served while the poll
//! is stale).

use crate::catalogue::{self, Limits};
use crate::workflow::Urgency;
use accounts::cache::SessionCache;
use kernel::epoch_map::EpochMap;
use kernel::{AppResult, Ctx, OrgPath};
use org::store::NodeRow;
use std::sync::Arc;

/// Categories are few; households many (a chain is a few hundred bytes).
const TERMS_CAPACITY: usize = 1_000;
const CHAINS_CAPACITY: usize = 50_000;

type Terms = Option<(Urgency, Limits)>;

struct ReferenceCache {
    terms: EpochMap<Terms>,
    chains: EpochMap<Arc<Vec<NodeRow>>>,
}

impl Default for ReferenceCache {
    fn default() -> Self {
        ReferenceCache {
            terms: EpochMap::new(TERMS_CAPACITY),
            chains: EpochMap::new(CHAINS_CAPACITY),
        }
    }
}

/// The cache, if it may serve now (the epoch poll is fresh).
fn cache(ctx: &Ctx) -> Option<Arc<ReferenceCache>> {
    SessionCache::of(ctx)
        .fresh()
        .then(|| ctx.extensions.get_or_init(ReferenceCache::default))
}

/// [`catalogue::filing_terms`], from memory when it can.
pub async fn filing_terms(ctx: &Ctx, code: &str) -> AppResult<Terms> {
    let Some(cache) = cache(ctx) else {
        return catalogue::filing_terms(&ctx.db, code).await;
    };
    let epoch = ctx.db.auth_epoch();
    if let Some(t) = cache.terms.get(code, epoch) {
        return Ok(t);
    }
    let generation = epoch.generation();
    let terms = catalogue::filing_terms(&ctx.db, code).await?;
    cache.terms.insert(code, terms, generation, epoch);
    Ok(terms)
}

/// [`org::store::ancestors`] of a household's path, from memory when it can.
pub async fn household_chain(ctx: &Ctx, path: &OrgPath) -> AppResult<Arc<Vec<NodeRow>>> {
    let Some(cache) = cache(ctx) else {
        return Ok(Arc::new(org::store::ancestors(&ctx.db, path).await?));
    };
    let epoch = ctx.db.auth_epoch();
    if let Some(chain) = cache.chains.get(path.as_str(), epoch) {
        return Ok(chain);
    }
    let generation = epoch.generation();
    let chain = Arc::new(org::store::ancestors(&ctx.db, path).await?);
    cache
        .chains
        .insert(path.as_str(), chain.clone(), generation, epoch);
    Ok(chain)
}
