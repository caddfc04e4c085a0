//! Holding out whole groups of samples (e.g. all recordings of some speakers), so that a
//! validation split measures generalization to unseen groups rather than to unseen samples of
//! known ones.

use super::rng;
use super::DataError;

/// Splits `pool` (sample indices) into `(kept, held_out)`: `held_out` holds every sample of
/// some groups, drawn at random with `seed`, whose sample count comes closest to
/// `fraction · pool.len()`; `group_of[i]` is the group of sample `i`.
///
/// Groups are shuffled (from ascending ids, so the draw does not depend on sample order) and
/// taken in that order; the number taken is the prefix whose total is nearest the target,
/// at least one group when `fraction > 0` and never all of them. Both parts keep the order of
/// `pool`. Errors: a `fraction` outside `[0, 1)`, a pool sample without a group, or fewer than
/// two groups when some are to be held out.
pub fn split_by_group(
    pool: &[usize],
    group_of: &[u32],
    fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(DataError::BadFractions([1.0 - fraction, fraction, 0.0]));
    }
    let mut groups = Vec::with_capacity(pool.len());
    for &index in pool {
        groups.push(*group_of.get(index).ok_or(DataError::IndexOutOfRange {
            index,
            len: group_of.len(),
        })?);
    }
    let mut ids: Vec<u32> = groups.clone();
    ids.sort_unstable();
    ids.dedup();
    if fraction == 0.0 {
        return Ok((pool.to_vec(), Vec::new()));
    }
    if ids.len() < 2 {
        return Err(DataError::TooFewGroups(ids.len()));
    }
    rng::shuffle(&mut rng::seeded(seed), &mut ids);
    let count = |id: u32| groups.iter().filter(|&&g| g == id).count() as f64;
    let target = fraction * pool.len() as f64;
    let (mut best, mut total) = (1, 0.0);
    let mut best_distance = f64::INFINITY;
    for (taken, &id) in ids[..ids.len() - 1].iter().enumerate() {
        total += count(id);
        let distance = (total - target).abs();
        if distance < best_distance {
            (best, best_distance) = (taken + 1, distance);
        }
    }
    let held: Vec<u32> = ids[..best].to_vec();
    let (mut kept, mut held_out) = (Vec::new(), Vec::new());
    for (&index, group) in pool.iter().zip(&groups) {
        if held.contains(group) {
            held_out.push(index);
        } else {
            kept.push(index);
        }
    }
    Ok((kept, held_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_groups_are_held_out_near_the_fraction() {
        // 10 groups of 10 samples (group = index / 10); hold out 20 %.
        let group_of: Vec<u32> = (0..100).map(|i| i / 10).collect();
        let pool: Vec<usize> = (0..100).rev().collect();
        let (kept, held) = split_by_group(&pool, &group_of, 0.2, 7).unwrap();
        assert_eq!((kept.len(), held.len()), (80, 20));
        let mut held_groups: Vec<u32> = held.iter().map(|&i| group_of[i]).collect();
        held_groups.dedup();
        assert_eq!(held_groups.len(), 2, "exactly two whole groups");
        for &i in &kept {
            assert!(!held_groups.contains(&group_of[i]));
        }
        // Pool order is kept in both parts.
        assert!(held.windows(2).all(|w| w[0] > w[1]));
        assert!(kept.windows(2).all(|w| w[0] > w[1]));
        assert_eq!(split_by_group(&pool, &group_of, 0.2, 7).unwrap().1, held);
        let other: Vec<_> = (0..20u64)
            .map(|s| split_by_group(&pool, &group_of, 0.2, s).unwrap().1)
            .collect();
        assert!(
            other.iter().any(|h| *h != held),
            "the seed picks the groups"
        );
    }

    #[test]
    fn unequal_groups_take_the_prefix_nearest_the_target() {
        // Groups 0..3 with 50, 30, 15 and 5 samples; whatever the order, at least one group is
        // held out and at least one kept.
        let sizes = [50, 30, 15, 5];
        let group_of: Vec<u32> = sizes
            .iter()
            .enumerate()
            .flat_map(|(g, &n)| std::iter::repeat_n(g as u32, n))
            .collect();
        let pool: Vec<usize> = (0..100).collect();
        for seed in 0..30 {
            let (kept, held) = split_by_group(&pool, &group_of, 0.3, seed).unwrap();
            assert!(!kept.is_empty() && !held.is_empty());
            assert_eq!(kept.len() + held.len(), 100);
        }
        assert!(split_by_group(&pool, &group_of, 0.0, 1)
            .unwrap()
            .1
            .is_empty());
    }

    #[test]
    fn bad_requests_are_errors() {
        let one_group = vec![3u32; 10];
        let pool: Vec<usize> = (0..10).collect();
        assert!(matches!(
            split_by_group(&pool, &one_group, 0.2, 0),
            Err(DataError::TooFewGroups(1))
        ));
        assert!(split_by_group(&pool, &one_group, 1.0, 0).is_err());
        assert!(matches!(
            split_by_group(&[10], &one_group, 0.2, 0),
            Err(DataError::IndexOutOfRange { index: 10, .. })
        ));
    }
}
