use super::*;
use std::io::Cursor as IoCursor;

fn write_file(writer: &Hdf5Writer) -> tempfile::NamedTempFile {
    let mut bytes = IoCursor::new(Vec::new());
    writer.write_to(&mut bytes).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes.into_inner()).unwrap();
    file
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn written_datasets_read_back() {
    let mut w = Hdf5Writer::new();
    let rows = vec![f32_bytes(&[0.5, 1.25]), vec![], f32_bytes(&[3.0])];
    w.add(
        "/a/seq",
        DatasetData::VlenSeq {
            base: Datatype::float(4),
            rows,
        },
    )
    .unwrap();
    w.add(
        "/n",
        DatasetData::Numbers {
            dtype: Datatype::uint(2),
            bytes: vec![1, 0, 2, 1],
        },
    )
    .unwrap();
    w.add(
        "a/names",
        DatasetData::VlenStrings(vec!["fünf".into(), String::new()]),
    )
    .unwrap();
    let file = write_file(&w);
    let r = Hdf5Reader::open(file.path()).unwrap();
    assert_eq!(r.members("/").unwrap(), ["a", "n"]);
    let n = r.dataset("/n").unwrap();
    assert_eq!(r.read_ints(&n, 0, 2).unwrap(), [1, 258]);
    let names = r.dataset("/a/names").unwrap();
    assert_eq!(r.read_strings(&names).unwrap(), ["fünf", ""]);
    let seq = r.dataset("/a/seq").unwrap();
    assert_eq!(seq.dtype.describe(), "vlen<float32>");
    let mut got = Vec::new();
    r.read_vlen_rows(&seq, 1, 2, |row, bytes, len| {
        let mut v = Vec::new();
        Datatype::float(4).decode_f32s(bytes, &mut v)?;
        assert_eq!(v.len(), len);
        got.push((row, v));
        Ok(())
    })
    .unwrap();
    assert_eq!(got, [(1, vec![]), (2, vec![3.0])]);
}

#[test]
fn groups_with_many_members_span_several_symbol_nodes() {
    let mut w = Hdf5Writer::new();
    for i in 0..40 {
        let bytes = (i as u16).to_le_bytes().to_vec();
        let data = DatasetData::Numbers {
            dtype: Datatype::uint(2),
            bytes,
        };
        w.add(&format!("g/d{i:02}"), data).unwrap();
    }
    let file = write_file(&w);
    let r = Hdf5Reader::open(file.path()).unwrap();
    assert_eq!(r.members("/g").unwrap().len(), 40);
    let d = r.dataset("g/d37").unwrap();
    assert_eq!(r.read_ints(&d, 0, 1).unwrap(), [37]);
    assert!(matches!(r.dataset("g/nope"), Err(Hdf5Error::NotFound(p)) if p == "/g/nope"));
}

#[test]
fn large_vlen_data_spans_several_heap_collections() {
    let rows: Vec<Vec<u8>> = (0..300u32)
        .map(|i| f32_bytes(&vec![i as f32; 1000]))
        .collect();
    let mut w = Hdf5Writer::new();
    let base = Datatype::float(4);
    w.add("s", DatasetData::VlenSeq { base, rows }).unwrap();
    let file = write_file(&w);
    let r = Hdf5Reader::open(file.path()).unwrap();
    let s = r.dataset("s").unwrap();
    let mut count = 0;
    r.read_vlen_rows(&s, 0, 300, |row, bytes, len| {
        assert_eq!(len, 1000);
        assert_eq!(bytes[..4], (row as f32).to_le_bytes());
        count += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(count, 300);
}

#[test]
fn arrays_of_any_rank_read_back_whole() {
    let values: Vec<f32> = (0..24).map(|i| i as f32 * 0.5).collect();
    let mut w = Hdf5Writer::new();
    let array = DatasetData::Array {
        dtype: Datatype::float(4),
        shape: vec![2, 3, 4],
        bytes: f32_bytes(&values),
    };
    w.add("a", array).unwrap();
    let bad = DatasetData::Array {
        dtype: Datatype::float(4),
        shape: vec![2, 3],
        bytes: f32_bytes(&values),
    };
    assert!(matches!(w.add("bad", bad), Err(Hdf5Error::WrongType(_))));
    let file = write_file(&w);
    let r = Hdf5Reader::open(file.path()).unwrap();
    let a = r.dataset("a").unwrap();
    assert_eq!(a.shape, [2, 3, 4]);
    assert_eq!(r.read_all_f32s(&a).unwrap(), values);
    assert!(matches!(
        r.read_raw_rows(&a, 0, 1),
        Err(Hdf5Error::WrongType(_))
    ));
}
