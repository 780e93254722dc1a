//! Failure domains: the hierarchy of node labels an operator declares (for example
//! `zone > rack > host`) and the rule that spreads a shard's owners across it, shared by shard
//! placement (in `apply`) and the anti-entropy planner (repair targets, moves) so both judge
//! spread alike.
//!
//! A node's [`Place`] numbers its domain at every level: the domain of level `l` is the node's
//! labels of levels `0..=l` taken together, so racks of the same name in two zones are two
//! domains (HDFS's rack paths, `/zone/rack`). A node lacking the label of a level is in a domain
//! of its own from that level down: nothing is known to be shared with it.
//!
//! The rule: each owner a shard gets is, among the candidates, one that shares the fewest levels
//! with the owners the shard already has ([`Picked::overlap`]), so owners spread over as many
//! zones as there are, then as many racks, and so on. Picking greedily this way reaches, at every
//! level at once, as many distinct domains as owners or as domains exist, whichever is fewer (the
//! domains nest, so a pick new at one level is new at every level below); a property test checks
//! it against every choice. [`Spread::shares_avoidably`] names the level at which a shard's owners
//! fall short of that.

use std::collections::HashMap;

/// Most levels a hierarchy may have (the metadata refuses deeper ones).
pub const MAX_DEPTH: usize = 8;

/// The number of no domain: a level the node has no label for, or past the hierarchy.
const NONE: u32 = u32::MAX;

/// Where a node sits in the hierarchy: its domain number at each level, none from the first
/// level whose label it lacks. Numbers come from one [`DomainNumbers`]. Inline and `Copy`: the
/// planner reads the places of every shard's owners, and a heap allocation per node cost it a
/// cache miss per owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Place([u32; MAX_DEPTH]);

impl Default for Place {
    fn default() -> Self {
        Place([NONE; MAX_DEPTH])
    }
}

impl Place {
    /// The levels two nodes share from the top: 0 when their first-level domains differ (or
    /// either is unlabelled there), the hierarchy's depth when they share every level.
    pub fn shared_levels(&self, other: &Place) -> usize {
        self.0.iter().zip(&other.0).take_while(|(a, b)| **a != NONE && a == b).count()
    }

    /// The node's domain number at `level` (`None`: unlabelled there, or past the hierarchy).
    pub fn at(&self, level: usize) -> Option<u32> {
        self.0.get(level).copied().filter(|&n| n != NONE)
    }
}

/// Numbers the domains of nodes under one hierarchy, densely per level.
#[derive(Clone, Debug, Default)]
pub struct DomainNumbers {
    /// Per level: (the parent domain's number, or none at the top; this level's label) to the
    /// domain's number.
    numbers: Vec<HashMap<(u32, String), u32>>,
}

impl DomainNumbers {
    /// Numbering for a hierarchy of `depth` levels (at most [`MAX_DEPTH`]; deeper levels are
    /// ignored).
    pub fn new(depth: usize) -> Self {
        DomainNumbers { numbers: vec![HashMap::new(); depth.min(MAX_DEPTH)] }
    }

    /// The place of a node whose labels along the hierarchy, highest level first, are `path`
    /// (`None` where it lacks one; nothing is read past the first `None` or past the depth).
    pub fn place<'l>(&mut self, path: impl IntoIterator<Item = Option<&'l str>>) -> Place {
        let mut parent = NONE;
        let mut place = Place::default();
        for ((value, numbers), slot) in path.into_iter().zip(&mut self.numbers).zip(&mut place.0) {
            let Some(value) = value else { break };
            let next = u32::try_from(numbers.len()).unwrap_or(NONE - 1).min(NONE - 1);
            let number = *numbers.entry((parent, value.to_owned())).or_insert(next);
            *slot = number;
            parent = number;
        }
        place
    }
}

/// The domains a set of candidate nodes covers at each level: what a shard's owners can spread
/// over.
#[derive(Clone, Debug, Default)]
pub struct Spread {
    /// Per level, per domain number: candidates in that domain.
    members: Vec<Vec<u32>>,
    /// Per level: domains with at least one candidate.
    named: Vec<u32>,
    /// Per level: candidates unlabelled there (each a domain of its own).
    unnamed: Vec<u32>,
}

impl Spread {
    /// The domains of `candidates` under a hierarchy of `levels` levels.
    pub fn new<'p>(levels: usize, candidates: impl IntoIterator<Item = &'p Place>) -> Self {
        let mut spread = Spread { members: vec![Vec::new(); levels], named: vec![0; levels], unnamed: vec![0; levels] };
        for place in candidates {
            spread.add(place);
        }
        spread
    }

    /// Counts one more candidate.
    pub fn add(&mut self, place: &Place) {
        for level in 0..self.members.len() {
            match place.at(level) {
                Some(number) => {
                    let members = &mut self.members[level];
                    let index = number as usize;
                    if members.len() <= index {
                        members.resize(index + 1, 0);
                    }
                    if members[index] == 0 {
                        self.named[level] += 1;
                    }
                    members[index] += 1;
                }
                None => self.unnamed[level] += 1,
            }
        }
    }

    /// The hierarchy's depth.
    pub fn levels(&self) -> usize {
        self.members.len()
    }

    /// Distinct domains among the candidates at `level` (each unlabelled candidate one).
    pub fn domains(&self, level: usize) -> u32 {
        self.named[level] + self.unnamed[level]
    }

    fn has_member(&self, level: usize, number: u32) -> bool {
        self.members[level].get(number as usize).is_some_and(|&n| n > 0)
    }

    /// The first level (highest first) at which `owners` use fewer distinct domains than they
    /// could: fewer than their number or than the domains these candidates offer there, whichever
    /// is fewer. `None` when they are spread as well as these candidates allow. The candidates
    /// should include the owners themselves (every live node that may hold the shard).
    pub fn shares_avoidably(&self, owners: &[&Place]) -> Option<usize> {
        (0..self.levels()).find(|&level| {
            let used = distinct(owners, level);
            used < (owners.len() as u64).min(u64::from(self.domains(level)))
        })
    }
}

/// Distinct domains among `owners` at one level, each unlabelled one a domain of its own.
/// Without allocating: a shard has few owners, and the planner asks this of every shard.
fn distinct(owners: &[&Place], level: usize) -> u64 {
    let mut count = 0;
    for (i, owner) in owners.iter().enumerate() {
        let number = owner.at(level);
        count += u64::from(number.is_none() || !owners[..i].iter().any(|o| o.at(level) == number));
    }
    count
}

/// The owners one shard has so far (kept, or picked for it), against the candidates it may get
/// more from.
#[derive(Clone, Debug)]
pub struct Picked<'s> {
    spread: &'s Spread,
    places: Vec<Place>,
    /// Per level: owners so far that are candidates unlabelled there.
    unnamed_candidates: Vec<u32>,
}

impl<'s> Picked<'s> {
    /// No owner yet, picking among the candidates of `spread`.
    pub fn new(spread: &'s Spread) -> Self {
        Picked { spread, places: Vec::new(), unnamed_candidates: vec![0; spread.levels()] }
    }

    /// Adds an owner at `place`; `candidate` says whether it is one of the spread's candidates
    /// (a node picked from them), rather than an owner counted apart.
    pub fn add(&mut self, place: &Place, candidate: bool) {
        if candidate {
            for (level, unnamed) in self.unnamed_candidates.iter_mut().enumerate() {
                *unnamed += u32::from(place.at(level).is_none());
            }
        }
        self.places.push(*place);
    }

    /// The levels a node at `place` would share with the owner closest to it in the hierarchy
    /// (0 when there is no owner yet): lower is a better spread.
    pub fn overlap(&self, place: &Place) -> usize {
        self.places.iter().map(|p| p.shared_levels(place)).max().unwrap_or(0)
    }

    /// The least [`Picked::overlap`] a candidate that is not an owner yet can have, without
    /// looking at every candidate: the first level at which the candidates offer a domain the
    /// owners do not use. Picking in order of preference, the first candidate with this overlap
    /// is the best.
    pub fn best_overlap(&self) -> usize {
        let spread = self.spread;
        (0..spread.levels())
            .find(|&level| {
                let mut used: Vec<u32> = self.places.iter().filter_map(|p| p.at(level)).collect();
                used.sort_unstable();
                used.dedup();
                let used_named = used.iter().filter(|&&n| spread.has_member(level, n)).count() as u32;
                spread.named[level] > used_named || spread.unnamed[level] > self.unnamed_candidates[level]
            })
            .unwrap_or(spread.levels())
    }

    /// The first of `ordered` (candidates in order of preference: least loaded, lowest ID) with
    /// the least overlap. Scanning stops at the first candidate reaching
    /// [`Picked::best_overlap`], so a pick usually looks at a few candidates, not all; when the
    /// caller leaves some candidates of the spread out (busy, already holding a copy), the scan
    /// goes on and the least overlap seen wins.
    pub fn choose<'p, T>(&self, ordered: impl IntoIterator<Item = T>, place: impl Fn(&T) -> &'p Place) -> Option<T> {
        let floor = self.best_overlap();
        let mut best: Option<(usize, T)> = None;
        for candidate in ordered {
            let overlap = self.overlap(place(&candidate));
            if overlap == floor {
                return Some(candidate);
            }
            if best.as_ref().is_none_or(|(least, _)| overlap < *least) {
                best = Some((overlap, candidate));
            }
        }
        best.map(|(_, candidate)| candidate)
    }
}

#[cfg(test)]
mod tests;
