//! Deterministic draws keyed by seed: which training rows a cell uses and in which order it sees them.

use ablate_spec::seeding::stream;
use rand::seq::SliceRandom;

/// Rows of a stratified subset with `per_class` rows of every class, for `seed`.
///
/// Each class's rows are shuffled once per seed and the subset takes a prefix of that order, so for one
/// seed the subsets are nested: the 25-per-class rows are inside the 100-per-class rows. The result is
/// sorted by row index; the training order comes from [`epoch_order`].
///
/// Callers check that every class has at least `per_class` rows.
pub fn stratified_subset(
    labels: &[u32],
    num_classes: usize,
    per_class: usize,
    seed: u64,
) -> Vec<usize> {
    let mut rows = Vec::with_capacity(per_class * num_classes);
    for class in 0..num_classes {
        let mut members: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i] as usize == class)
            .collect();
        members.shuffle(&mut stream(seed, &format!("subset/class{class}")));
        rows.extend_from_slice(&members[..per_class.min(members.len())]);
    }
    rows.sort_unstable();
    rows
}

/// The order in which the `len` training rows of a cell are visited in `epoch`. It depends on the
/// seed, the training size and the epoch only, so every head variant of one (seed, size) pair sees the
/// same batches.
pub fn epoch_order(len: usize, per_class: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut stream(
        seed,
        &format!("order/n{per_class}/epoch{epoch}"),
    ));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<u32> {
        // 3 classes with 50, 60 and 70 rows, interleaved.
        let mut y = Vec::new();
        for i in 0..180u32 {
            let c = i % 3;
            if (c == 0 && y.iter().filter(|&&l| l == 0).count() >= 50)
                || (c == 1 && y.iter().filter(|&&l| l == 1).count() >= 60)
            {
                y.push(2);
            } else {
                y.push(c);
            }
        }
        y
    }

    #[test]
    fn subsets_are_stratified_nested_and_seeded() {
        let y = labels();
        for seed in 0..4 {
            let small = stratified_subset(&y, 3, 10, seed);
            let large = stratified_subset(&y, 3, 40, seed);
            for class in 0..3 {
                assert_eq!(small.iter().filter(|&&i| y[i] == class).count(), 10);
                assert_eq!(large.iter().filter(|&&i| y[i] == class).count(), 40);
            }
            assert!(
                small.iter().all(|i| large.contains(i)),
                "seed {seed}: 10 inside 40"
            );
            assert_eq!(
                small,
                stratified_subset(&y, 3, 10, seed),
                "same seed, same rows"
            );
        }
        assert_ne!(
            stratified_subset(&y, 3, 10, 0),
            stratified_subset(&y, 3, 10, 1)
        );
    }

    #[test]
    fn epoch_orders_are_permutations_that_change_per_epoch() {
        let a = epoch_order(100, 25, 0, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(100, 25, 0, 0));
        assert_ne!(a, epoch_order(100, 25, 0, 1));
        assert_ne!(a, epoch_order(100, 25, 1, 0));
    }
}
