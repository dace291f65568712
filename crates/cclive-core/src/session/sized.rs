//! Reading a stored ledger's long collections (its responses, its tool ids) at their final
//! size.
//!
//! JSON does not say how many entries a map or an array holds, so serde grows a `HashMap` as it
//! reads: every doubling re-hashes what it holds into fresh memory. For a session of thousands
//! of responses that was as much hashing again, and about 6 % of an incremental import's time
//! went to growing tables. Collected into a `Vec` first (which grows by copying, or in place),
//! the table is made once at its size. What is read is unchanged: a key named twice keeps its
//! last value, as serde's own `HashMap` has it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

/// A map read at its final size (`#[serde(deserialize_with = "sized::map")]`).
pub(super) fn map<'de, D, K, V, S>(deserializer: D) -> Result<HashMap<K, V, S>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Eq + Hash,
    V: Deserialize<'de>,
    S: BuildHasher + Default,
{
    struct Entries<K, V, S>(PhantomData<(K, V, S)>);

    impl<'de, K, V, S> Visitor<'de> for Entries<K, V, S>
    where
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
        S: BuildHasher + Default,
    {
        type Value = HashMap<K, V, S>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            let mut sized = HashMap::with_capacity_and_hasher(entries.len(), S::default());
            sized.extend(entries);
            Ok(sized)
        }
    }

    deserializer.deserialize_map(Entries(PhantomData))
}

/// A set read at its final size (`#[serde(deserialize_with = "sized::set")]`): read as a `Vec`
/// (serde's own array reading), then hashed once into a table of that size.
pub(super) fn set<'de, D, T, S>(deserializer: D) -> Result<HashSet<T, S>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Eq + Hash,
    S: BuildHasher + Default,
{
    let items = Vec::<T>::deserialize(deserializer)?;
    let mut sized = HashSet::with_capacity_and_hasher(items.len(), S::default());
    sized.extend(items);
    Ok(sized)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Both {
        #[serde(deserialize_with = "map")]
        m: HashMap<String, u32>,
        #[serde(deserialize_with = "set")]
        s: HashSet<String>,
    }

    #[test]
    fn what_is_read_is_what_serdes_own_collections_read() {
        let text = r#"{"m":{"a":1,"b":2,"a":3},"s":["x","y","x"]}"#;
        let sized: Both = serde_json::from_str(text).unwrap();
        let plain: serde_json::Value = serde_json::from_str(text).unwrap();
        let expected_m: HashMap<String, u32> = serde_json::from_value(plain["m"].clone()).unwrap();
        let expected_s: HashSet<String> = serde_json::from_value(plain["s"].clone()).unwrap();
        assert_eq!(sized.m, expected_m);
        assert_eq!(sized.m["a"], 3, "a key named twice keeps its last value");
        assert_eq!(sized.s, expected_s);
        assert!(sized.m.capacity() >= 2 && sized.s.capacity() >= 2);
        // Not a map, not an array: an error, as with serde's own.
        assert!(serde_json::from_str::<Both>(r#"{"m":[1],"s":[]}"#).is_err());
        assert!(serde_json::from_str::<Both>(r#"{"m":{},"s":{}}"#).is_err());
    }
}
