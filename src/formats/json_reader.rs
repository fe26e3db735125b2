//! The one reader of the little JSON ferry is sent (a share link's
//! request, `http/shares.rs`): one object of strings, whole numbers,
//! booleans and nulls ([`flat_object`]). Sans-IO.

/// A value of a flat JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string, unescaped.
    Text(String),
    /// A whole number from 0 up.
    Number(u64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// The members of `text`, one JSON object whose values are strings,
/// whole numbers, booleans or nulls (no nesting: what ferry is sent
/// needs none), in order.
///
/// # Errors
/// Anything else, with where it went wrong.
pub fn flat_object(text: &str) -> Result<Vec<(String, Value)>, String> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        at: 0,
    };
    reader.expect(b'{')?;
    let mut members = Vec::new();
    if !reader.eat(b'}') {
        loop {
            let key = reader.string()?;
            reader.expect(b':')?;
            members.push((key, reader.value()?));
            if reader.eat(b'}') {
                break;
            }
            reader.expect(b',')?;
        }
    }
    reader.skip_space();
    match reader.at == reader.bytes.len() {
        true => Ok(members),
        false => Err(reader.error("the end")),
    }
}

/// A position in JSON text.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn skip_space(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| b" \t\r\n".contains(b))
        {
            self.at += 1;
        }
    }

    fn error(&self, wanted: &str) -> String {
        format!("expected {wanted} at byte {} of the JSON", self.at)
    }

    /// Takes `byte` (after any space) if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let next = self.bytes.get(self.at) == Some(&byte);
        self.at += usize::from(next);
        next
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        match self.eat(byte) {
            true => Ok(()),
            false => Err(self.error(&format!("{:?}", char::from(byte)))),
        }
    }

    fn word(&mut self, word: &str) -> bool {
        let next = self.bytes[self.at..].starts_with(word.as_bytes());
        self.at += if next { word.len() } else { 0 };
        next
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_space();
        match self.bytes.get(self.at) {
            Some(b'"') => self.string().map(Value::Text),
            Some(b'0') if self.bytes.get(self.at + 1).is_some_and(u8::is_ascii_digit) => {
                Err(self.error("a number without leading zeros"))
            }
            Some(b'0'..=b'9') => {
                let start = self.at;
                while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
                    self.at += 1;
                }
                std::str::from_utf8(&self.bytes[start..self.at])
                    .ok()
                    .and_then(|digits| digits.parse().ok())
                    .map(Value::Number)
                    .ok_or_else(|| self.error("a whole number"))
            }
            _ if self.word("true") => Ok(Value::Bool(true)),
            _ if self.word("false") => Ok(Value::Bool(false)),
            _ if self.word("null") => Ok(Value::Null),
            _ => Err(self.error("a string, a whole number, true, false or null")),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.at;
            while self
                .bytes
                .get(self.at)
                .is_some_and(|b| !matches!(b, b'"' | b'\\') && *b >= 0x20)
            {
                self.at += 1;
            }
            let plain = std::str::from_utf8(&self.bytes[start..self.at])
                .map_err(|_| self.error("UTF-8"))?;
            out.push_str(plain);
            match self.bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    out.push(self.escape()?);
                }
                _ => return Err(self.error("the string's end")),
            }
        }
    }

    /// The character an escape after its backslash stands for.
    fn escape(&mut self) -> Result<char, String> {
        let escaped = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| self.error("an escape"))?;
        self.at += 1;
        Ok(match escaped {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'u' => {
                let code = self.hex4()?;
                // A surrogate pair: the high half, then `\u` and the low.
                if (0xd800..0xdc00).contains(&code) && self.word("\\u") {
                    let low = self.hex4()?;
                    if !(0xdc00..0xe000).contains(&low) {
                        return Err(self.error("a low surrogate"));
                    }
                    let joined =
                        0x10000 + ((code - 0xd800) << 10) + (low.wrapping_sub(0xdc00) & 0x3ff);
                    char::from_u32(joined).ok_or_else(|| self.error("a character"))?
                } else {
                    char::from_u32(code).ok_or_else(|| self.error("a character"))?
                }
            }
            _ => return Err(self.error("an escape")),
        })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("four hex digits"))?;
        let code = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.error("four hex digits"))?;
        self.at += 4;
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_object_reads_back() {
        let members = flat_object(
            r#" { "path" : "docs/r\u00e9port \"1\".pdf", "max_downloads": 3, "password": null, "upload": true } "#,
        )
        .unwrap();
        assert_eq!(
            members,
            vec![
                ("path".into(), Value::Text("docs/réport \"1\".pdf".into())),
                ("max_downloads".into(), Value::Number(3)),
                ("password".into(), Value::Null),
                ("upload".into(), Value::Bool(true)),
            ]
        );
        assert_eq!(flat_object("{}").unwrap(), vec![]);
        assert_eq!(
            flat_object(r#"{"e":"\ud83d\ude00"}"#).unwrap(),
            vec![("e".into(), Value::Text("😀".into()))]
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "[]",
            "{",
            r#"{"a"}"#,
            r#"{"a":1,}"#,
            r#"{"a":-1}"#,
            r#"{"a":01}"#,
            r#"{"a":"\ud83d\u0041"}"#,
            r#"{"a":1.5}"#,
            r#"{"a":{"b":1}}"#,
            r#"{"a":"x"} x"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":"\q"}"#,
            r#"{"a":99999999999999999999999}"#,
        ] {
            assert!(flat_object(bad).is_err(), "{bad:?}");
        }
    }
}
