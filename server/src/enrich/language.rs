//! The browser language (`navigator.language`, or the first tag of an `Accept-Language`
//! header), normalised to a BCP 47 primary language with an optional region: "en-US", "fr",
//! "zh-CN". Scripts and variants are dropped ("zh-Hant-TW" is "zh-TW"), case is canonical
//! (language lower, region upper), `_` is read as `-`. Anything else is `None`.

/// Normalises a language tag (see the module doc); garbage is `None`.
pub fn language(tag: Option<&str>) -> Option<String> {
    let tag = tag?.trim();
    // An Accept-Language header: its first range, without its weight.
    let tag = tag.split(',').next()?.split(';').next()?.trim();
    let mut parts = tag.split(['-', '_']);
    let primary = parts.next()?;
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let mut out = primary.to_ascii_lowercase();
    for part in parts {
        let region = match part.len() {
            // A script ("Hant") or a variant: skipped, the region may follow.
            4 if part.bytes().all(|b| b.is_ascii_alphabetic()) => continue,
            2 if part.bytes().all(|b| b.is_ascii_alphabetic()) => part.to_ascii_uppercase(),
            // UN M.49 area codes ("es-419").
            3 if part.bytes().all(|b| b.is_ascii_digit()) => part.to_string(),
            _ => break,
        };
        out.push('-');
        out.push_str(&region);
        break;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::language;

    #[test]
    fn tags_are_normalised() {
        let cases = [
            ("en-US", Some("en-US")),
            ("en-us", Some("en-US")),
            ("EN_gb", Some("en-GB")),
            ("fr", Some("fr")),
            (" de-DE ", Some("de-DE")),
            ("zh-Hant-TW", Some("zh-TW")),
            ("sr-Latn", Some("sr")),
            ("es-419", Some("es-419")),
            ("fr-CH, fr;q=0.9, en;q=0.8", Some("fr-CH")),
            ("de;q=0.7", Some("de")),
            ("fil-PH", Some("fil-PH")),
            ("", None),
            ("*", None),
            ("x", None),
            ("english", None),
            ("12-34", None),
            ("e1-US", None),
        ];
        for (input, want) in cases {
            assert_eq!(language(Some(input)).as_deref(), want, "{input:?}");
        }
        assert_eq!(language(None), None);
    }
}
