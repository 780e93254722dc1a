use proptest::prelude::*;

use super::*;

/// Places for nodes given as `zone/rack/host` paths (`-` for a missing label).
fn places(paths: &[&str]) -> Vec<Place> {
    let mut numbers = DomainNumbers::new(3);
    paths.iter().map(|path| numbers.place(path.split('/').map(|v| (v != "-").then_some(v)))).collect()
}

#[test]
fn racks_of_the_same_name_in_two_zones_are_two_domains() {
    let p = places(&["a/r1/h1", "b/r1/h1", "a/r1/h2", "a/r2/h1"]);
    assert_eq!(p[0].shared_levels(&p[1]), 0);
    assert_eq!(p[0].shared_levels(&p[2]), 2);
    assert_eq!(p[0].shared_levels(&p[3]), 1);
    assert_eq!(p[0].shared_levels(&p[0]), 3);
}

#[test]
fn a_missing_label_shares_nothing_from_its_level_down() {
    let p = places(&["a/r1/h1", "a/-/-", "a/r1/-", "-/r1/h1"]);
    assert_eq!(p[0].shared_levels(&p[1]), 1, "same zone, rack unknown");
    assert_eq!(p[1].shared_levels(&p[1]), 1, "even with itself nothing below the zone is known");
    assert_eq!(p[0].shared_levels(&p[2]), 2);
    assert_eq!(p[0].shared_levels(&p[3]), 0, "a node without a zone is in no zone of the others");
    assert_eq!(p[3].at(1), None, "nothing below a missing level is numbered");
}

#[test]
fn an_empty_hierarchy_never_constrains() {
    let mut numbers = DomainNumbers::new(0);
    let p = numbers.place([Some("x")]);
    let spread = Spread::new(0, [&p]);
    let mut picked = Picked::new(&spread);
    picked.add(&p, true);
    assert_eq!((picked.overlap(&p), picked.best_overlap()), (0, 0));
    assert_eq!(spread.shares_avoidably(&[&p, &p]), None);
}

#[test]
fn best_overlap_goes_down_the_hierarchy_as_domains_run_out() {
    let p = places(&["a/r1/h1", "a/r2/h2", "b/r3/h3"]);
    let spread = Spread::new(3, &p);
    let mut picked = Picked::new(&spread);
    assert_eq!(picked.best_overlap(), 0);
    picked.add(&p[0], true);
    assert_eq!(picked.best_overlap(), 0, "zone b is free");
    picked.add(&p[2], true);
    assert_eq!(picked.best_overlap(), 1, "every zone used; rack r2 of zone a is free");
    picked.add(&p[1], true);
    assert_eq!(picked.best_overlap(), 3, "nothing left");
}

#[test]
fn owners_counted_apart_use_domains_without_taking_candidates() {
    // A repair: the kept owner (not a candidate) is in zone a; candidates in a and b.
    let owner = places(&["a/r1/h1", "a/r2/h2", "b/r3/h3"]);
    let spread = Spread::new(3, &owner[1..]);
    let mut picked = Picked::new(&spread);
    picked.add(&owner[0], false);
    assert_eq!(picked.best_overlap(), 0);
    assert_eq!((picked.overlap(&owner[1]), picked.overlap(&owner[2])), (1, 0));
}

#[test]
fn shares_avoidably_names_the_highest_level_short_of_domains() {
    let p = places(&["a/r1/h1", "a/r2/h2", "b/r3/h3", "b/r3/h4"]);
    let spread = Spread::new(3, &p);
    assert_eq!(spread.shares_avoidably(&[&p[0], &p[2]]), None);
    assert_eq!(spread.shares_avoidably(&[&p[0], &p[1]]), Some(0), "both in zone a though b has nodes");
    assert_eq!(spread.shares_avoidably(&[&p[2], &p[3], &p[0]]), Some(1), "one rack twice though a has two");
    let one_zone = places(&["a/r1/h1", "a/r1/h2"]);
    let spread = Spread::new(3, &one_zone);
    assert_eq!(spread.shares_avoidably(&[&one_zone[0], &one_zone[1]]), None, "nothing better exists");
}

#[test]
fn choose_takes_the_first_candidate_of_least_overlap() {
    let p = places(&["a/r1/h1", "a/r1/h2", "a/r2/h3", "b/r3/h4"]);
    let spread = Spread::new(3, &p);
    let mut picked = Picked::new(&spread);
    picked.add(&p[0], true);
    // In order of preference 1, 2, 3: node 3 (zone b) spreads best.
    assert_eq!(picked.choose([1, 2, 3], |&i| &p[i]), Some(3));
    // Zone b left out by the caller: the first of least overlap among the rest (another rack).
    assert_eq!(picked.choose([1, 2], |&i| &p[i]), Some(2));
    assert_eq!(picked.choose([1], |&i| &p[i]), Some(1));
    assert_eq!(picked.choose(Vec::<usize>::new(), |&i| &p[i]), None);
}

/// Random nodes over two zones, three racks a zone and two hosts a rack, some labels missing.
fn arb_paths() -> impl Strategy<Value = Vec<String>> {
    let label = |names: &'static [&'static str]| prop_oneof![9 => proptest::sample::select(names).prop_map(str::to_owned), 1 => Just("-".to_owned())];
    let path = (label(&["a", "b"]), label(&["r1", "r2", "r3"]), label(&["h1", "h2"]))
        .prop_map(|(z, r, h)| format!("{z}/{r}/{h}"));
    proptest::collection::vec(path, 1..12)
}

proptest! {
    /// `best_overlap` is the least overlap among candidates not picked yet, whatever was picked.
    #[test]
    fn best_overlap_is_the_least_overlap_of_a_free_candidate(paths in arb_paths(), picks in proptest::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let p = places(&refs);
        let spread = Spread::new(3, &p);
        let mut picked = Picked::new(&spread);
        let mut taken = vec![false; p.len()];
        for pick in picks {
            let i = pick.index(p.len());
            if !taken[i] {
                taken[i] = true;
                picked.add(&p[i], true);
            }
        }
        let least = (0..p.len()).filter(|&i| !taken[i]).map(|i| picked.overlap(&p[i])).min();
        if let Some(least) = least {
            prop_assert_eq!(picked.best_overlap(), least);
        }
    }

    /// Picking the least overlap each time gives, after k picks, as many distinct domains at every
    /// level as k or as the candidates offer, whichever is fewer; and such owners never share
    /// avoidably.
    #[test]
    fn greedy_picks_spread_as_far_as_the_domains_allow(paths in arb_paths()) {
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let p = places(&refs);
        let spread = Spread::new(3, &p);
        let mut picked = Picked::new(&spread);
        let mut taken = vec![false; p.len()];
        for k in 1..=p.len() {
            let i = picked.choose((0..p.len()).filter(|&i| !taken[i]), |&i| &p[i]).expect("a candidate");
            taken[i] = true;
            picked.add(&p[i], true);
            let owners: Vec<&Place> = (0..p.len()).filter(|&i| taken[i]).map(|i| &p[i]).collect();
            for level in 0..3 {
                let used = distinct(&owners, level);
                prop_assert_eq!(used, (k as u64).min(u64::from(spread.domains(level))), "level {} after {} picks", level, k);
            }
            prop_assert_eq!(spread.shares_avoidably(&owners), None);
        }
    }
}
