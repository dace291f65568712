//! Reading Claude Code's own model catalog (its prices) out of the installed package.
//!
//! Claude Code 2.1.x bakes its model catalog into its executable as a JavaScript object literal
//! (`{"//":"Hand-maintained baked-in model catalog …",schema_version:1,pricing_tiers:{…},
//! models:[…]}`). This module finds that literal in bytes it is handed (the executable or a JS
//! bundle), parses the small JavaScript subset it is written in, and turns it into a
//! [`PriceTable`]. It reads no files: `cclive prices sync` does.
//!
//! Fast-mode rates are not in the 2.1.332 catalog (they live in code), so a table read from a
//! catalog carries fast rates only where the catalog has them; the caller keeps the ones it
//! already knows ([`PriceTable::keep_fast_rates_of`]).

use serde_json::{Map, Number, Value};

use super::{DEFAULT_WEB_SEARCH, LongPrompt, ModelPrice, PriceTable, Rates};

/// Why no catalog could be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    /// The bytes hold no model catalog.
    #[error(
        "no model catalog found (looked for `schema_version:…,pricing_tiers:`); this Claude Code may store it differently"
    )]
    NotFound,
    /// The literal could not be parsed.
    #[error("the model catalog could not be parsed at byte {0}")]
    Syntax(usize),
    /// It parsed but has no priced model.
    #[error("the model catalog has no priced model")]
    NoPrices,
}

const ANCHOR: &[u8] = b",pricing_tiers:{";
const MAX_DEPTH: usize = 64;

/// Finds and parses the model catalog in `bytes` (as JSON).
pub fn find(bytes: &[u8]) -> Result<Value, CatalogError> {
    let mut from = 0;
    while let Some(hit) = memchr::memmem::find(&bytes[from..], ANCHOR) {
        let at = from + hit;
        from = at + ANCHOR.len();
        // `schema_version:<n>` must come right before; the object starts at the `{` before it.
        let head = &bytes[at.saturating_sub(40)..at];
        let Some(sv) = memchr::memmem::rfind(head, b"schema_version:") else {
            continue;
        };
        let sv = at.saturating_sub(40) + sv;
        let window = &bytes[sv.saturating_sub(4096)..sv];
        let Some(open) = memchr::memrchr(b'{', window) else {
            continue;
        };
        let start = sv.saturating_sub(4096) + open;
        let mut parser = Parser {
            bytes,
            pos: start,
            depth: 0,
        };
        let value = parser.value().map_err(CatalogError::Syntax)?;
        if value.get("models").is_some_and(Value::is_array) {
            return Ok(value);
        }
    }
    Err(CatalogError::NotFound)
}

/// A price table from a parsed catalog: every model with complete pricing, its provider ids as
/// other names. `version` is the Claude Code version it came from.
pub fn to_table(catalog: &Value, version: Option<&str>) -> Result<PriceTable, CatalogError> {
    let tiers = catalog.get("pricing_tiers").and_then(Value::as_object);
    let mut models = Vec::new();
    for model in catalog
        .get("models")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(id) = model.get("id").and_then(Value::as_str) else {
            continue;
        };
        let pricing = match model.get("pricing") {
            Some(Value::String(tier)) => tiers.and_then(|t| t.get(tier)),
            Some(p @ Value::Object(_)) => Some(p),
            _ => None,
        };
        let Some(pricing) = pricing else { continue };
        let Some(standard) = rates(pricing) else {
            continue;
        };
        let mut ids: Vec<String> = model
            .get("provider_ids")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(Map::values)
            .filter_map(Value::as_str)
            .filter(|p| !p.eq_ignore_ascii_case(id))
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids.dedup();
        let long_prompt = pricing.get("long_prompt").and_then(|lp| {
            Some(LongPrompt {
                above_prompt_tokens: lp.get("above_prompt_tokens")?.as_u64()?,
                rates: rates(lp)?,
            })
        });
        models.push(ModelPrice {
            id: id.to_owned(),
            ids,
            contains: Vec::new(),
            rates: standard,
            web_search: pricing
                .get("web_search")
                .and_then(Value::as_f64)
                .unwrap_or(DEFAULT_WEB_SEARCH),
            long_prompt,
            fast: pricing.get("fast").and_then(rates),
        });
    }
    if models.is_empty() {
        return Err(CatalogError::NoPrices);
    }
    models.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(PriceTable {
        version: 2,
        source: Some(match version {
            Some(v) => format!("Claude Code {v} model catalog"),
            None => "Claude Code model catalog".to_owned(),
        }),
        claude_code_version: version.map(str::to_owned),
        models,
        rules: Vec::new(),
    })
}

fn rates(v: &Value) -> Option<Rates> {
    let f = |k: &str| v.get(k).and_then(Value::as_f64);
    Some(Rates {
        input: f("input")?,
        output: f("output")?,
        // Claude Code refuses a baked entry without these.
        cache_write_5m: f("cache_write_5m")?,
        cache_write_1h: f("cache_write_1h"),
        cache_read: f("cache_read")?,
    })
}

impl PriceTable {
    /// Copies fast-mode rates from `known` into models of this table that have none (the
    /// catalog does not carry Claude Code's coded fast rates).
    pub fn keep_fast_rates_of(&mut self, known: &PriceTable) {
        for model in &mut self.models {
            if model.fast.is_none() {
                model.fast = known
                    .models
                    .iter()
                    .find(|k| k.id == model.id)
                    .and_then(|k| k.fast.clone());
            }
        }
    }
}

/// A parser of the JavaScript literal subset minifiers write: objects with bare, quoted or
/// numeric keys, arrays, strings, numbers, `!0`/`!1`, `true`/`false`/`null`, `void 0`.
struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Result<(), usize> {
        self.skip_ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    fn value(&mut self) -> Result<Value, usize> {
        self.skip_ws();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.pos);
        }
        let v = match self.peek().ok_or(self.pos)? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' | b'\'' => self.string().map(Value::String),
            b'!' => {
                self.pos += 1;
                match self.peek() {
                    Some(b'0') => {
                        self.pos += 1;
                        Ok(Value::Bool(true))
                    }
                    Some(b'1') => {
                        self.pos += 1;
                        Ok(Value::Bool(false))
                    }
                    _ => Err(self.pos),
                }
            }
            b'-' | b'.' | b'0'..=b'9' => self.number(),
            _ => match self.ident().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                "null" | "undefined" => Ok(Value::Null),
                "void" => {
                    self.skip_ws();
                    self.number().map(|_| Value::Null)
                }
                _ => Err(self.pos),
            },
        };
        self.depth -= 1;
        v
    }

    fn object(&mut self) -> Result<Value, usize> {
        self.eat(b'{')?;
        let mut map = Map::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Value::Object(map));
            }
            let key = match self.peek().ok_or(self.pos)? {
                b'"' | b'\'' => self.string()?,
                b'0'..=b'9' => self.number()?.to_string(),
                _ => {
                    let k = self.ident();
                    if k.is_empty() {
                        return Err(self.pos);
                    }
                    k
                }
            };
            self.eat(b':')?;
            let value = self.value()?;
            map.insert(key, value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.pos),
            }
        }
    }

    fn array(&mut self) -> Result<Value, usize> {
        self.eat(b'[')?;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => return Err(self.pos),
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned()
    }

    fn number(&mut self) -> Result<Value, usize> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).map_err(|_| start)?;
        let n: f64 = text.parse().map_err(|_| start)?;
        if n.fract() == 0.0 && n.abs() < 9e15 {
            #[allow(clippy::cast_possible_truncation)] // integral and in range, checked above
            return Ok(Value::Number(Number::from(n as i64)));
        }
        Number::from_f64(n).map(Value::Number).ok_or(start)
    }

    fn string(&mut self) -> Result<String, usize> {
        let quote = self.peek().ok_or(self.pos)?;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while self
                .peek()
                .is_some_and(|b| b != quote && b != b'\\' && b != b'\n')
            {
                self.pos += 1;
            }
            out.push_str(&String::from_utf8_lossy(&self.bytes[start..self.pos]));
            match self.peek().ok_or(self.pos)? {
                b'\\' => {
                    self.pos += 1;
                    let esc = self.peek().ok_or(self.pos)?;
                    self.pos += 1;
                    match esc {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'u' => {
                            let hex = self.bytes.get(self.pos..self.pos + 4).ok_or(self.pos)?;
                            let code = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or(self.pos)?;
                            self.pos += 4;
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        other => out.push(char::from(other)),
                    }
                }
                b'\n' => return Err(self.pos),
                _ => {
                    self.pos += 1;
                    return Ok(out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Tokens;

    const SAMPLE: &[u8] = br#"junk var b6s={"//":"Hand-maintained \u2014 baked",schema_version:1,pricing_tiers:{t:{input:2,output:10,cache_write_5m:2.5,cache_write_1h:4,cache_read:0.2,web_search:0.01},h:{input:0.1,output:0.5,cache_write_5m:0.125,cache_write_1h:0.2,cache_read:0.01,web_search:0.01,long_prompt:{above_prompt_tokens:1e5,input:0.5,output:2.5,cache_write_5m:0.625,cache_write_1h:1,cache_read:0.05}}},models:[{id:"claude-x-1",provider_ids:{first_party:"claude-x-1-20990101",bedrock:"us.anthropic.claude-x-1-v1:0",mantle:null},context:{native_1m:!0},pricing:"t"},{id:"claude-y-2",provider_ids:{first_party:"claude-y-2"},pricing:"h"},{id:"claude-z-3",provider_ids:{first_party:"claude-z-3"}}],aliases:{}};function I(){return void 0}"#;

    #[test]
    fn finds_and_converts_a_minified_catalog() {
        let catalog = find(SAMPLE).unwrap();
        assert_eq!(catalog["//"], "Hand-maintained \u{2014} baked");
        let table = to_table(&catalog, Some("9.9.9")).unwrap();
        assert_eq!(table.models.len(), 2, "the unpriced entry is left out");
        assert_eq!(table.claude_code_version.as_deref(), Some("9.9.9"));
        let x = table.lookup("us.anthropic.claude-x-1-v1:0").unwrap();
        assert_eq!(x.id, "claude-x-1");
        assert_eq!(x.rates.cache_write_1h, Some(4.0));
        let y = table.lookup("claude-y-2").unwrap();
        assert_eq!(y.long_prompt.as_ref().unwrap().above_prompt_tokens, 100_000);
        let long = Tokens {
            input: 100_001,
            ..Tokens::default()
        };
        assert!((y.cost(&long) - 100_001.0 / 1e6 * 0.5).abs() < 1e-12);
        assert_eq!(table.lookup("claude-z-3"), None);
    }

    #[test]
    fn no_catalog_and_broken_catalogs_are_errors() {
        assert_eq!(find(b"nothing here"), Err(CatalogError::NotFound));
        let broken = b"{schema_version:1,pricing_tiers:{t:{input:}}";
        assert!(matches!(find(broken), Err(CatalogError::Syntax(_))));
        let deep = format!("{{schema_version:1,pricing_tiers:{{a:{}", "[".repeat(500));
        assert!(matches!(
            find(deep.as_bytes()),
            Err(CatalogError::Syntax(_))
        ));
    }
}
