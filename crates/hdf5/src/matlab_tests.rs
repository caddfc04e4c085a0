//! Object references, attributes and the user block, on the MATLAB v7.3 fixture written by
//! `scripts/make_reaching_fixture.py` (h5py, 512-byte user block, `#refs#` group).

use super::*;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/reaching/indy_fixture.mat")
}

/// The fixture's bytes written to a temporary file after `edit`.
fn edited(edit: impl FnOnce(&mut Vec<u8>)) -> tempfile::NamedTempFile {
    let mut bytes = std::fs::read(fixture()).unwrap();
    edit(&mut bytes);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    file
}

#[test]
fn matlab_cells_dereference_to_spike_time_arrays_and_empty_markers() {
    let r = Hdf5Reader::open(&fixture()).unwrap();
    assert_eq!(
        r.members("/").unwrap(),
        [
            "#refs#",
            "chan_names",
            "cursor_pos",
            "spikes",
            "t",
            "target_pos"
        ]
    );
    let spikes = r.dataset("/spikes").unwrap();
    assert_eq!(spikes.dtype, Datatype::ObjectRef { size: 8 });
    assert_eq!(spikes.dtype.describe(), "object reference");
    assert_eq!(spikes.shape, [3, 6]);
    let class = r.attribute(&spikes, "MATLAB_class").unwrap().unwrap();
    assert_eq!(class.text().unwrap(), "cell");
    let refs = r.read_object_refs(&spikes).unwrap();
    assert_eq!(refs.len(), 18);
    let (mut empties, mut arrays) = (0, 0);
    for (i, &address) in refs.iter().enumerate() {
        let cell = r.dereference(address, &format!("/spikes[{i}]")).unwrap();
        let empty = r.attribute(&cell, "MATLAB_empty").unwrap();
        if let Some(flag) = empty {
            // MATLAB's empty marker: a uint64 array of the empty array's size.
            assert_eq!(flag.ints().unwrap(), [1]);
            assert_eq!(cell.dtype, Datatype::uint(8));
            assert_eq!(r.read_all_f64s(&cell).unwrap(), [0.0, 0.0]);
            empties += 1;
            continue;
        }
        let class = r.attribute(&cell, "MATLAB_class").unwrap().unwrap();
        assert_eq!(class.text().unwrap(), "double");
        assert_eq!(cell.shape.len(), 2);
        assert_eq!(cell.shape[0], 1);
        let times = r.read_all_f64s(&cell).unwrap();
        assert_eq!(times.len() as u64, cell.shape[1]);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        arrays += 1;
    }
    // Cells (u, c) with (u + c) % 5 == 4 are empty: (0,4), (1,3), (2,2).
    assert_eq!((empties, arrays), (3, 15));
    let t = r.dataset("/t").unwrap();
    assert_eq!(t.shape, [1, 400]);
    assert!(t.is_chunked());
    let values = r.read_all_f64s(&t).unwrap();
    assert!(
        (values[0] - 12.3).abs() < 1e-12 && (values[399] - (12.3 + 0.004 * 399.0)).abs() < 1e-9
    );
}

#[test]
fn bad_references_are_errors() {
    let r = Hdf5Reader::open(&fixture()).unwrap();
    let t = r.dataset("/t").unwrap();
    assert!(
        matches!(r.read_object_refs(&t), Err(Hdf5Error::WrongType(m)) if m.contains("object references"))
    );
    let len = std::fs::metadata(fixture()).unwrap().len();
    for address in [0, 3, len, len + 100, u64::MAX, u64::MAX - 511] {
        let err = r.dereference(address, "/spikes[0]").unwrap_err();
        assert!(err.to_string().contains("/spikes[0]"), "{err}");
    }
    // A reference to a group is not a dataset.
    let spikes = r.dataset("/spikes").unwrap();
    let refs_group = r.dataset("/#refs#").unwrap_err();
    assert!(matches!(refs_group, Hdf5Error::WrongType(_)));
    assert!(r
        .attributes(&spikes)
        .unwrap()
        .iter()
        .any(|a| a.name == "MATLAB_class"));
}

#[test]
fn corrupted_bytes_never_panic() {
    let len = std::fs::metadata(fixture()).unwrap().len() as usize;
    for at in (512..len).step_by(61) {
        for value in [0x00, 0xff] {
            let file = edited(|b| b[at] = value);
            let Ok(r) = Hdf5Reader::open(file.path()) else {
                continue;
            };
            for path in ["/spikes", "/t", "/cursor_pos", "/target_pos", "/chan_names"] {
                let Ok(ds) = r.dataset(path) else { continue };
                let _ = r.attributes(&ds);
                let _ = r.read_all_f64s(&ds);
                if let Ok(refs) = r.read_object_refs(&ds) {
                    for (i, a) in refs.into_iter().enumerate() {
                        if let Ok(cell) = r.dereference(a, &format!("{path}[{i}]")) {
                            let _ = r.attributes(&cell);
                            let _ = r.read_all_f64s(&cell);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn truncated_files_are_errors() {
    let len = std::fs::metadata(fixture()).unwrap().len() as usize;
    for keep in [100, 600, len / 2, len - 1] {
        let file = edited(|b| b.truncate(keep));
        let result = Hdf5Reader::open(file.path()).and_then(|r| {
            let spikes = r.dataset("/spikes")?;
            for (i, a) in r.read_object_refs(&spikes)?.into_iter().enumerate() {
                r.read_all_f64s(&r.dereference(a, &format!("/spikes[{i}]"))?)?;
            }
            r.read_all_f64s(&r.dataset("/cursor_pos")?)
        });
        assert!(
            result.is_err(),
            "a file cut to {keep} bytes read without error"
        );
    }
}
