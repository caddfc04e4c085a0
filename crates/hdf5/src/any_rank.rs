//! Reads of whole datasets of any rank (scalars included) as strings or `f64`.

use super::types::{decode_fixed_string, Datatype};
use super::{Dataset, Hdf5Error, Hdf5Reader};

impl Hdf5Reader {
    /// Every element of a string dataset of any rank (a scalar gives one string), row-major.
    pub fn read_all_strings(&self, ds: &Dataset) -> Result<Vec<String>, Hdf5Error> {
        match ds.dtype {
            Datatype::FixedString { size } => {
                let raw = self.read_all_raw(ds)?;
                Ok(raw
                    .chunks_exact(size.max(1))
                    .map(decode_fixed_string)
                    .collect())
            }
            Datatype::VlenString => {
                let refs = self.read_all_raw(ds)?;
                let mut out = Vec::new();
                self.visit_vlen_refs(ds, &refs, 0, 1, &mut |_, bytes, _| {
                    out.push(decode_fixed_string(bytes));
                    Ok(())
                })?;
                Ok(out)
            }
            ref other => Err(Hdf5Error::WrongType(format!(
                "{} holds {}, expected strings",
                ds.path,
                other.describe()
            ))),
        }
    }

    /// Every element of a numeric dataset of any rank, row-major, as `f64` (floats exactly,
    /// integers rounded beyond 2^53).
    pub fn read_all_f64s(&self, ds: &Dataset) -> Result<Vec<f64>, Hdf5Error> {
        let raw = self.read_all_raw(ds)?;
        let mut out = Vec::new();
        if let Datatype::Int { .. } = ds.dtype {
            let mut ints = Vec::new();
            ds.dtype
                .decode_ints(&raw, &mut ints)
                .map_err(|e| e.in_dataset(&ds.path))?;
            out.extend(ints.into_iter().map(|v| v as f64));
            return Ok(out);
        }
        ds.dtype
            .decode_f64s(&raw, &mut out)
            .map_err(|e| e.in_dataset(&ds.path))?;
        Ok(out)
    }
}
