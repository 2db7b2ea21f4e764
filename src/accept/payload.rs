//! The one check every path that accepts a message runs on its payload
//! (the HTTP API and the ingest socket alike): a JSON object, valid, nested
//! at most `limits::PAYLOAD_DEPTH_MAX` deep. One pass over the bytes, no
//! allocation: nested objects and arrays are walked by a seed that counts
//! their depth; everything else is skipped.

use crate::limits::PAYLOAD_DEPTH_MAX;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Why a payload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("must be a JSON object")]
    NotObject,
    #[error("nested deeper than {PAYLOAD_DEPTH_MAX} levels")]
    TooDeep,
    #[error("invalid JSON: {0}")]
    Invalid(String),
}

/// Checks a payload (see the module).
pub fn check(bytes: &[u8]) -> Result<(), PayloadError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(PayloadError::NotObject);
    }
    // JSON text is UTF-8; skipping a value (below) does not check strings,
    // so a payload with invalid UTF-8 in a string would be accepted and read
    // back as nothing (found by the fuzz targets).
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => return Err(PayloadError::Invalid(format!("not UTF-8: {e}"))),
    };
    // From the checked text: its strings need no second UTF-8 check.
    let mut de = serde_json::Deserializer::from_str(text);
    // serde_json's own limit (127 levels) is replaced by ours: the seed
    // refuses level `PAYLOAD_DEPTH_MAX + 1` before it recurses into it.
    de.disable_recursion_limit();
    // Walked, not skipped: skipping a value does not check that its
    // numbers fit (`29E999` is out of range, found by the fuzzer), and every
    // accepted payload must read back.
    let result = Nested { depth: 0 }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.to_string().starts_with(TOO_DEEP) => Err(PayloadError::TooDeep),
        Err(e) => Err(PayloadError::Invalid(e.to_string())),
    }
}

/// Reads a payload back as a JSON value (API views). It is checked first,
/// so a record written before the depth bound existed is refused, not read
/// with unbounded recursion.
pub fn parse(bytes: &[u8]) -> Result<serde_json::Value, PayloadError> {
    check(bytes)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    serde::Deserialize::deserialize(&mut de).map_err(|e| PayloadError::Invalid(e.to_string()))
}

const TOO_DEEP: &str = "payload nested too deep";

/// A value at `depth` (the payload itself is at 1).
struct Nested {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Nested {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Nested {
    fn inner<E: serde::de::Error>(&self) -> Result<Nested, E> {
        match self.depth + 1 {
            depth if depth > PAYLOAD_DEPTH_MAX => Err(E::custom(TOO_DEEP)),
            depth => Ok(Nested { depth }),
        }
    }
}

impl<'de> Visitor<'de> for Nested {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let _ = self.inner::<A::Error>()?;
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(self.inner::<A::Error>()?)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let _ = self.inner::<A::Error>()?;
        while seq.next_element_seed(self.inner::<A::Error>()?)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        let mut s = String::new();
        for _ in 0..levels - 1 {
            s.push_str("{\"a\":");
        }
        s.push_str("{\"a\":[1]}");
        // The innermost array is one more level.
        for _ in 0..levels - 1 {
            s.push('}');
        }
        s
    }

    #[test]
    fn payload_table() {
        let deep_ok = nested(PAYLOAD_DEPTH_MAX - 1);
        let too_deep = nested(PAYLOAD_DEPTH_MAX);
        let very_deep = "[".repeat(100_000);
        let rows: Vec<(&str, Result<(), PayloadError>)> = vec![
            (r#"{"a":1}"#, Ok(())),
            (r#"  {"a":[1,{"b":null}],"c":"x"}"#, Ok(())),
            (&deep_ok, Ok(())),
            (&too_deep, Err(PayloadError::TooDeep)),
            (r#"[1]"#, Err(PayloadError::NotObject)),
            (r#""s""#, Err(PayloadError::NotObject)),
            ("", Err(PayloadError::NotObject)),
        ];
        for (i, (input, want)) in rows.into_iter().enumerate() {
            assert_eq!(check(input.as_bytes()), want, "row {i}");
        }
        let deep_object = format!("{{\"a\":{very_deep}");
        assert_eq!(check(deep_object.as_bytes()), Err(PayloadError::TooDeep));
        assert!(matches!(check(br#"{"a":}"#), Err(PayloadError::Invalid(_))));
        assert!(matches!(
            check(br#"{"a":1} x"#),
            Err(PayloadError::Invalid(_))
        ));
        // What is accepted reads back whole, at the deepest level allowed.
        let back = parse(deep_ok.as_bytes()).expect("parses");
        assert_eq!(serde_json::to_string(&back).expect("text"), deep_ok);
        assert_eq!(parse(too_deep.as_bytes()), Err(PayloadError::TooDeep));
    }
}
