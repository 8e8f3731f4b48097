//! Small string helpers that stay small in wasm: `str::find`/`split` with a `char` pattern link
//! in a generic searcher and `memchr` (~1 KB), and `[T]::join` a generic copy routine; these do
//! the same for the ASCII separators the tracker splits on and joins with.

/// Byte index of the first `sep` (an ASCII byte, so always a character boundary).
pub fn find(s: &str, sep: u8) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == sep {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// `s` split at its first `sep`: what is before it, and what is after it if `sep` was there.
pub fn cut(s: &str, sep: u8) -> (&str, Option<&str>) {
    match find(s, sep) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// The pieces of `s` between `sep` bytes, like `str::split` (empty pieces included).
pub fn parts(s: &str, sep: u8) -> Parts<'_> {
    Parts { rest: Some(s), sep }
}

pub struct Parts<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for Parts<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let (piece, rest) = cut(self.rest?, self.sep);
        self.rest = rest;
        Some(piece)
    }
}

/// The pieces joined with `sep` between them.
pub fn join<S: AsRef<str>>(pieces: &[S], sep: &str) -> String {
    let mut out = String::new();
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(p.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_match_str_split() {
        for s in ["", "a", "a&b", "&a&&b&", "é&ü"] {
            assert_eq!(
                parts(s, b'&').collect::<Vec<_>>(),
                s.split('&').collect::<Vec<_>>()
            );
        }
        assert_eq!(cut("k=v=w", b'='), ("k", Some("v=w")));
        assert_eq!(cut("k", b'='), ("k", None));
    }

    #[test]
    fn join_with_separators() {
        assert_eq!(join(&["a", "b", "c"], " > "), "a > b > c");
        assert_eq!(join::<&str>(&[], " "), "");
    }
}
