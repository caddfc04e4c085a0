//! The evidence-accumulation generator: timing, determinism, where each group fires, rates,
//! labels and the rejection of unusable configs.

use super::*;

fn small(seed: u64) -> EvidenceConfig {
    EvidenceConfig {
        nb_samples: 200,
        seed,
        ..EvidenceConfig::default()
    }
}

fn class_of(sample: &EventSample) -> usize {
    match sample.target {
        Target::Class(c) => c,
        _ => unreachable!("evidence accumulation has class targets"),
    }
}

/// The 1 ms bin and unit of every spike of `sample`.
fn spikes_ms(sample: &EventSample) -> impl Iterator<Item = (usize, u32)> + '_ {
    sample.times_s.iter().zip(&sample.units).map(|(&t, &u)| {
        let t_ms = (f64::from(t) / BIN_S).round();
        // An f32 time lies within half an ulp (≤ 2.4e-7 s below 4 s) of its bin start.
        assert!(
            (f64::from(t) - t_ms * BIN_S).abs() < 1e-6,
            "{t} s is not a bin start"
        );
        (t_ms as usize, u)
    })
}

fn group_of(config: &EvidenceConfig, unit: u32) -> ChannelGroup {
    [
        ChannelGroup::LeftCue,
        ChannelGroup::RightCue,
        ChannelGroup::Recall,
        ChannelGroup::Background,
    ]
    .into_iter()
    .find(|&g| config.group_channels(g).contains(&unit))
    .expect("unit below 4 · channels_per_group")
}

/// Spikes of `group` over all samples and the number of (bin, channel) draws behind
/// them, counting the bins in which `active(trial, t_ms)` holds.
fn rate_sample(
    config: &EvidenceConfig,
    trials: &[Trial],
    group: ChannelGroup,
    active: impl Fn(&Trial, usize) -> bool,
) -> (usize, usize) {
    let mut spikes = 0;
    let mut bins = 0;
    for trial in trials {
        bins += (0..config.duration_ms())
            .filter(|&t| active(trial, t))
            .count();
        spikes += spikes_ms(&trial.sample)
            .filter(|&(_, u)| group_of(config, u) == group)
            .count();
    }
    (spikes, bins * config.channels_per_group)
}

/// Whether `spikes` in `draws` Bernoulli draws fit `rate_hz` within 5 standard errors;
/// the error says by how much they miss.
fn fits_rate((spikes, draws): (usize, usize), rate_hz: f64) -> Result<(), String> {
    let p = rate_hz * BIN_S;
    let observed = spikes as f64 / draws as f64;
    let se = (p * (1.0 - p) / draws as f64).sqrt();
    if (observed - p).abs() <= 5.0 * se {
        Ok(())
    } else {
        Err(format!(
            "{} Hz observed, {rate_hz} Hz configured (se {} Hz)",
            observed / BIN_S,
            se / BIN_S
        ))
    }
}

fn is_cue_of_side(config: &EvidenceConfig, trial: &Trial, t: usize, right: bool) -> bool {
    config
        .cue_at(t)
        .is_some_and(|k| trial.right_cues[k] == right)
}

#[test]
fn default_timing_and_channels_are_the_papers() {
    let config = EvidenceConfig::default();
    assert!(config.validate().is_ok());
    assert_eq!((config.duration_ms(), config.channels()), (2250, 40));
    assert!((config.duration_s() - 2.25).abs() < 1e-12);
    assert_eq!(config.cue_window_ms(0), 50..150);
    assert_eq!(config.cue_window_ms(6), 950..1050);
    assert_eq!(config.recall_window_ms(), 2100..2250);
    assert_eq!(config.group_channels(ChannelGroup::LeftCue), 0..10);
    assert_eq!(config.group_channels(ChannelGroup::RightCue), 10..20);
    assert_eq!(config.group_channels(ChannelGroup::Recall), 20..30);
    assert_eq!(config.group_channels(ChannelGroup::Background), 30..40);
    let active: Vec<usize> = (0..config.duration_ms())
        .filter(|&t| config.cue_at(t).is_some())
        .collect();
    assert_eq!(active.len(), 700);
    for t in active {
        let k = config.cue_at(t).unwrap();
        assert!(config.cue_window_ms(k).contains(&t), "{t} ms, cue {k}");
    }
    let ds = generate_evidence(&small(1)).unwrap();
    assert_eq!((ds.len(), ds.channels, ds.num_classes), (200, 40, Some(2)));
    assert!((ds.duration_s - 2.25).abs() < 1e-12);
}

#[test]
fn generation_is_deterministic_per_seed() {
    let a = generate_evidence(&small(7)).unwrap();
    assert_eq!(a, generate_evidence(&small(7)).unwrap());
    assert_ne!(a, generate_evidence(&small(8)).unwrap());
    let samples: Vec<EventSample> = draw_trials(&small(7))
        .unwrap()
        .into_iter()
        .map(|t| t.sample)
        .collect();
    assert_eq!(samples, a.samples);
}

#[test]
fn spikes_are_sorted_bin_starts_that_binning_at_1_ms_keeps() {
    let config = small(2);
    let ds = generate_evidence(&config).unwrap();
    for (index, sample) in ds.samples.iter().enumerate() {
        let spikes: Vec<(usize, u32)> = spikes_ms(sample).collect();
        assert!(spikes.windows(2).all(|w| w[0] < w[1]), "sample {index}");
        let binned = ds.bin(&[index], BIN_S, config.duration_ms()).unwrap();
        assert_eq!((binned.dropped, binned.collapsed), (0, 0));
        assert_eq!(binned.spikes.count(), sample.len());
        for (t_ms, unit) in spikes {
            assert!(
                binned.spikes.row(t_ms).contains(&unit),
                "{t_ms} ms, unit {unit}"
            );
        }
    }
}

#[test]
fn cue_channels_fire_only_while_a_cue_of_their_side_is_active() {
    let config = small(3);
    for trial in draw_trials(&config).unwrap() {
        for (t, unit) in spikes_ms(&trial.sample) {
            let right = match group_of(&config, unit) {
                ChannelGroup::LeftCue => false,
                ChannelGroup::RightCue => true,
                _ => continue,
            };
            assert!(
                is_cue_of_side(&config, &trial, t, right),
                "unit {unit} at {t} ms, cues {:?}",
                trial.right_cues
            );
        }
    }
}

#[test]
fn recall_channels_fire_only_in_the_recall_window() {
    let config = small(4);
    let recall = config.recall_window_ms();
    for trial in draw_trials(&config).unwrap() {
        let times: Vec<usize> = spikes_ms(&trial.sample)
            .filter(|&(_, u)| group_of(&config, u) == ChannelGroup::Recall)
            .map(|(t, _)| t)
            .collect();
        assert!(!times.is_empty());
        assert!(times.iter().all(|t| recall.contains(t)), "{times:?}");
    }
}

#[test]
fn empirical_rates_match_the_configured_rates() {
    let paper = EvidenceConfig {
        nb_samples: 400,
        ..small(5)
    };
    let other = EvidenceConfig {
        cue_rate_hz: 25.0,
        background_rate_hz: 60.0,
        ..paper.clone()
    };
    for config in [paper, other] {
        let trials = draw_trials(&config).unwrap();
        let recall = config.recall_window_ms();
        for (group, right) in [
            (ChannelGroup::LeftCue, false),
            (ChannelGroup::RightCue, true),
        ] {
            let sample = rate_sample(&config, &trials, group, |trial, t| {
                is_cue_of_side(&config, trial, t, right)
            });
            let fit = fits_rate(sample, config.cue_rate_hz);
            assert!(fit.is_ok(), "{group:?}: {fit:?}");
        }
        let sample = rate_sample(&config, &trials, ChannelGroup::Recall, |_, t| {
            recall.contains(&t)
        });
        let fit = fits_rate(sample, config.cue_rate_hz);
        assert!(fit.is_ok(), "recall: {fit:?}");
        let sample = rate_sample(&config, &trials, ChannelGroup::Background, |_, _| true);
        let fit = fits_rate(sample, config.background_rate_hz);
        assert!(fit.is_ok(), "background: {fit:?}");
    }
    // A wrong rate fails the check: 40 Hz cue spikes (2.8M draws, standard error
    // 0.12 Hz) against 39 and 41 Hz.
    let config = EvidenceConfig {
        nb_samples: 400,
        ..small(5)
    };
    let trials = draw_trials(&config).unwrap();
    let (left, left_draws) = rate_sample(&config, &trials, ChannelGroup::LeftCue, |trial, t| {
        is_cue_of_side(&config, trial, t, false)
    });
    let (right, right_draws) = rate_sample(&config, &trials, ChannelGroup::RightCue, |trial, t| {
        is_cue_of_side(&config, trial, t, true)
    });
    let cues = (left + right, left_draws + right_draws);
    assert!(fits_rate(cues, 40.0).is_ok());
    assert!(
        fits_rate(cues, 41.0).is_err(),
        "a 1 Hz error goes unnoticed"
    );
    assert!(
        fits_rate(cues, 39.0).is_err(),
        "a 1 Hz error goes unnoticed"
    );
}

#[test]
fn zero_rates_give_silent_channels() {
    let config = EvidenceConfig {
        background_rate_hz: 0.0,
        ..small(6)
    };
    for trial in draw_trials(&config).unwrap() {
        assert!(
            spikes_ms(&trial.sample).all(|(_, u)| group_of(&config, u) != ChannelGroup::Background)
        );
    }
    let silent = EvidenceConfig {
        cue_rate_hz: 0.0,
        ..config
    };
    assert!(generate_evidence(&silent)
        .unwrap()
        .samples
        .iter()
        .all(EventSample::is_empty));
}

#[test]
fn labels_are_the_majority_of_right_cues() {
    let config = small(7);
    let ds = generate_evidence(&config).unwrap();
    let trials = draw_trials(&config).unwrap();
    for (sample, trial) in ds.samples.iter().zip(&trials) {
        let right = trial.right_cues.iter().filter(|&&r| r).count();
        assert_eq!(
            class_of(sample),
            usize::from(right >= 4),
            "{:?}",
            trial.right_cues
        );
        // The cue sides can be read off the spikes: only the active side fires in a cue
        // window, and an active window stays silent with probability 0.96^1000 ≈ 2e-18.
        let mut fired = vec![[false; 2]; config.n_cues];
        for (t, unit) in spikes_ms(sample) {
            let side = match group_of(&config, unit) {
                ChannelGroup::LeftCue => 0,
                ChannelGroup::RightCue => 1,
                _ => continue,
            };
            fired[config.cue_at(t).expect("cue spike in a cue window")][side] = true;
        }
        let seen: Vec<bool> = fired
            .iter()
            .map(|&[left, right]| {
                assert!(left != right, "one side per cue: {fired:?}");
                right
            })
            .collect();
        assert_eq!(seen, trial.right_cues);
        let seen_right = seen.iter().filter(|&&r| r).count();
        assert_eq!(
            class_of(sample),
            usize::from(seen_right > config.n_cues / 2)
        );
    }
}

#[test]
fn sides_and_classes_follow_the_probabilities() {
    let config = EvidenceConfig {
        cue_rate_hz: 0.0,
        background_rate_hz: 0.0,
        ..EvidenceConfig::default()
    };
    let trials = draw_trials(&config).unwrap();
    let n = trials.len() as f64;
    let ones = trials.iter().filter(|t| class_of(&t.sample) == 1).count() as f64;
    let majority_right = trials.iter().filter(|t| t.majority_right).count() as f64;
    // Binomial(2000, 1/2): standard deviation ≈ 22.4.
    assert!(
        (ones - n / 2.0).abs() < 5.0 * (n / 4.0).sqrt(),
        "{ones} of {n}"
    );
    assert!((majority_right - n / 2.0).abs() < 5.0 * (n / 4.0).sqrt());
    let cues = n * config.n_cues as f64;
    let on_majority = trials
        .iter()
        .flat_map(|t| t.right_cues.iter().map(move |&r| r == t.majority_right))
        .filter(|&m| m)
        .count() as f64;
    let se = (0.7 * 0.3 / cues).sqrt();
    assert!(
        (on_majority / cues - 0.7).abs() < 5.0 * se,
        "{on_majority} of {cues}"
    );
    let unanimous = EvidenceConfig {
        p_majority: 1.0,
        ..small(8)
    };
    for trial in draw_trials(&unanimous).unwrap() {
        assert!(trial.right_cues.iter().all(|&r| r == trial.majority_right));
        assert_eq!(class_of(&trial.sample), usize::from(trial.majority_right));
    }
}

#[test]
fn default_config_generates_the_papers_dataset() {
    let start = std::time::Instant::now();
    let ds = generate_evidence(&EvidenceConfig::default()).unwrap();
    eprintln!(
        "default evidence accumulation generated in {:?}",
        start.elapsed()
    );
    assert_eq!(ds.len(), 2000);
    // Expected spikes per sample: background 10 · 10 Hz · 2.25 s = 225, cues
    // 7 · 10 · 40 Hz · 0.1 s = 280, recall 10 · 40 Hz · 0.15 s = 60; over 40 channels and
    // 2.25 s that is 565 / 90 ≈ 6.28 Hz (standard error ≈ 0.006 Hz over 2000 samples).
    let rate_hz = ds.mean_rate_hz(&(0..ds.len()).collect::<Vec<_>>()).unwrap();
    assert!((rate_hz - 565.0 / 90.0).abs() < 0.05, "{rate_hz}");
}

#[test]
fn invalid_configs_are_rejected() {
    type Edit = fn(&mut EvidenceConfig);
    let cases: [(&str, Edit); 22] = [
        ("nb_samples", |c| c.nb_samples = 0),
        ("n_cues", |c| c.n_cues = 0),
        ("n_cues", |c| c.n_cues = 6),
        ("cue_ms", |c| c.cue_ms = 0),
        ("cue_ms", |c| c.cue_ms = 151),
        ("cue_ms", |c| c.cue_spacing_ms = 0),
        ("recall_ms", |c| c.recall_ms = 0),
        ("recall_ms", |c| c.recall_ms = 1201),
        ("recall_ms", |c| c.tail_ms = 0),
        ("channels_per_group", |c| c.channels_per_group = 0),
        ("channels_per_group", |c| c.channels_per_group = 1 << 30),
        ("channels_per_group", |c| c.channels_per_group = usize::MAX),
        ("tail_ms", |c| c.cue_spacing_ms = usize::MAX),
        ("tail_ms", |c| c.tail_ms = usize::MAX),
        ("cue_rate_hz", |c| c.cue_rate_hz = -1.0),
        ("cue_rate_hz", |c| c.cue_rate_hz = 1000.5),
        ("cue_rate_hz", |c| c.cue_rate_hz = f64::NAN),
        ("background_rate_hz", |c| c.background_rate_hz = -0.1),
        ("background_rate_hz", |c| {
            c.background_rate_hz = f64::INFINITY
        }),
        ("p_majority", |c| c.p_majority = 0.49),
        ("p_majority", |c| c.p_majority = 1.01),
        ("p_majority", |c| c.p_majority = f64::NAN),
    ];
    for (field, edit) in cases {
        let mut config = small(9);
        edit(&mut config);
        let err = config.validate().unwrap_err();
        assert!(
            err.to_string().contains(&format!("`{field}`")),
            "{err} vs {field}"
        );
        assert!(generate_evidence(&config).is_err(), "{field}");
    }
    // The edges of the ranges are usable.
    let edges: [Edit; 3] = [
        |c| (c.cue_ms, c.recall_ms) = (150, 1200),
        |c| (c.cue_rate_hz, c.p_majority, c.n_cues) = (1000.0, 0.5, 1),
        |c| (c.background_rate_hz, c.p_majority) = (0.0, 1.0),
    ];
    for edit in edges {
        let mut config = small(9);
        edit(&mut config);
        assert!(config.validate().is_ok(), "{config:?}");
    }
}

#[test]
fn config_serde_fills_defaults_and_rejects_unknown_fields() {
    let config = small(10);
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(
        serde_json::from_str::<EvidenceConfig>(&json).unwrap(),
        config
    );
    let partial: EvidenceConfig = serde_json::from_str(r#"{"n_cues": 5}"#).unwrap();
    assert_eq!(partial.n_cues, 5);
    assert_eq!(partial.cue_spacing_ms, 150);
    assert!(serde_json::from_str::<EvidenceConfig>(r#"{"n_cue": 5}"#).is_err());
}
