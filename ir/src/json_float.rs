//! JSON has no NaN or infinities: serde_json writes them as `null`, which does not read back. Constants
//! such as `-inf` (attention masks) must survive `to_json`/`from_json`, so op fields holding `f64` store
//! non-finite values as the strings `"inf"`, `"-inf"` and `"nan"`; finite values stay JSON numbers.

use serde::de::Error;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Num(f64),
    Text(String),
}

fn to_repr(v: f64) -> Repr {
    match v {
        _ if v.is_finite() => Repr::Num(v),
        _ if v.is_nan() => Repr::Text("nan".into()),
        _ if v > 0.0 => Repr::Text("inf".into()),
        _ => Repr::Text("-inf".into()),
    }
}

fn from_repr<E: Error>(r: Repr) -> Result<f64, E> {
    match r {
        Repr::Num(v) => Ok(v),
        Repr::Text(s) => match s.as_str() {
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            _ => Err(E::custom(format!("expected a number, \"inf\", \"-inf\" or \"nan\", got \"{s}\""))),
        },
    }
}

pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    to_repr(*v).serialize(s)
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    from_repr(Repr::deserialize(d)?)
}

/// The same for a list of values (a literal's data).
pub(crate) mod vec {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|&x| to_repr(x)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Vec::<Repr>::deserialize(d)?.into_iter().map(from_repr).collect()
    }
}
