//! Folding text for search: lower case, diacritics removed, so `SÃO PAULO`, `sao paulo` and
//! `São Paulo` are one key. The full-text index folds message text the same way inside SQLite
//! (`unicode61 remove_diacritics 2`); this does it for names and phone digits kept in plain columns.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lower-cases and strips combining marks (NFD decomposition, marks dropped).
pub fn fold(text: &str) -> String {
    text.nfd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect()
}

/// The digits of a text, for matching phone numbers however they were written.
pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_and_case_fold_away() {
        assert_eq!(fold("SÃO PAULO"), "sao paulo");
        assert_eq!(fold("São Paulo"), "sao paulo");
        assert_eq!(fold("Zoé Müller"), "zoe muller");
        assert_eq!(fold("Łukasz"), "łukasz"); // a letter of its own, not an accented l
        assert_eq!(fold("привет"), "привет");
    }

    #[test]
    fn digits_of_a_formatted_number() {
        assert_eq!(digits("+44 (7700) 900-123"), "447700900123");
    }
}
