//! [`PhoneNumber`]: an E.164 number held inline, so a dispatch carries it
//! without allocating.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `+` and at most 15 digits.
const MAX_LEN: usize = 16;

/// The E.164 rule of the contract, `^\+[1-9]\d{1,14}$` (ASCII digits only).
///
/// The digits of an E.164 number (`+`, then 2 to 15 digits, the first not
/// 0), or `None` when it is not one. The digits fit a `u64` and print back
/// exactly, which is how the engine stores numbers.
pub(crate) fn e164_digits(number: &str) -> Option<u64> {
    let digits = number.strip_prefix('+')?;
    if !(2..=15).contains(&digits.len()) || digits.starts_with('0') {
        return None;
    }
    // One pass; 15 digits cannot overflow a u64.
    digits.bytes().try_fold(0_u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// A valid E.164 number: `+`, then 2 to 15 digits, the first not zero.
///
/// It is `Copy` and 17 bytes, with the text inline; it reads as a `&str`
/// through [`as_str`](PhoneNumber::as_str) or `Deref`, compares with
/// strings, and (de)serializes as a JSON string.
///
/// # Example
/// ```
/// use redial::PhoneNumber;
/// let n: PhoneNumber = "+919876543210".parse().unwrap();
/// assert_eq!(n, "+919876543210");
/// assert_eq!(n.len(), 13); // str methods through Deref
/// assert!("919876543210".parse::<PhoneNumber>().is_err()); // no '+'
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber {
    /// ASCII text, zero-padded (zero sorts before every digit, so the
    /// derived order is the text's order).
    text: [u8; MAX_LEN],
    len: u8,
}

/// Text that is not an E.164 number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumberError;

impl fmt::Display for PhoneNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected E.164 such as +919876543210: '+' then 2-15 digits, the first not 0")
    }
}

impl std::error::Error for PhoneNumberError {}

/// `00` to `99` as text.
// Evaluated at compile time: an index out of range fails the build, it
// cannot panic at run time.
#[allow(clippy::indexing_slicing)]
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0_u8; 2]; 100];
    let mut n = 0;
    while n < 100 {
        pairs[n] = [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
        n += 1;
    }
    pairs
};

impl PhoneNumber {
    /// The number with these digits (`919876543210` is `+919876543210`).
    /// Callers pass digits that came from a valid number, so at most 15.
    pub(crate) fn from_digits(digits: u64) -> PhoneNumber {
        let count = digits.checked_ilog10().map_or(1, |log| log as usize + 1);
        let mut text = [0_u8; MAX_LEN];
        text[0] = b'+';
        // Last two digits first, into the places after the '+': half the
        // divisions of a digit at a time (a dispatch prints its number).
        let mut rest = digits;
        for places in text.get_mut(1..=count).unwrap_or_default().rchunks_mut(2) {
            let pair = DIGIT_PAIRS.get((rest % 100) as usize).unwrap_or(&[b'0'; 2]);
            match places {
                [tens, ones] => [*tens, *ones] = *pair,
                [ones] => *ones = pair[1],
                _ => {}
            }
            rest /= 100;
        }
        PhoneNumber {
            text,
            len: u8::try_from(count + 1).unwrap_or(0),
        }
    }

    /// The number as text, `+` included.
    ///
    /// # Example
    /// ```
    /// use redial::PhoneNumber;
    /// let n: PhoneNumber = "+14155550100".parse().unwrap();
    /// assert_eq!(n.as_str(), "+14155550100");
    /// ```
    pub fn as_str(&self) -> &str {
        // Always ASCII: only `from_digits` and `from_str` build the text.
        self.text
            .get(..usize::from(self.len))
            .and_then(|t| std::str::from_utf8(t).ok())
            .unwrap_or_default()
    }
}

impl FromStr for PhoneNumber {
    type Err = PhoneNumberError;

    /// # Errors
    /// [`PhoneNumberError`] unless the text is `+`, then 2-15 digits, the
    /// first not 0.
    fn from_str(text: &str) -> Result<PhoneNumber, PhoneNumberError> {
        e164_digits(text)
            .map(PhoneNumber::from_digits)
            .ok_or(PhoneNumberError)
    }
}

impl Deref for PhoneNumber {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for PhoneNumber {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for PhoneNumber {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for PhoneNumber {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl From<PhoneNumber> for String {
    fn from(n: PhoneNumber) -> String {
        n.as_str().to_owned()
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PhoneNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an E.164 number such as \"+919876543210\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<PhoneNumber, E> {
                text.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_print_as_the_text_they_came_from() {
        let mut rand = crate::test_rng::xorshift(0x5eed);
        for _ in 0..20_000 {
            let len = 2 + rand(14) as usize;
            let mut text = String::from("+");
            text.push(char::from(b'1' + rand(9) as u8));
            for _ in 1..len {
                text.push(char::from(b'0' + rand(10) as u8));
            }
            let n: PhoneNumber = text.parse().unwrap();
            assert_eq!(n.as_str(), text);
            assert_eq!(n.to_string(), text);
            assert_eq!(format!("{n:?}"), format!("{text:?}"));
            assert_eq!(String::from(n), text);
        }
        for edge in ["+10", "+999999999999999", "+100000000000000"] {
            assert_eq!(edge.parse::<PhoneNumber>().unwrap(), edge);
        }
    }

    /// Parsing is the request rule (`e164_digits`, tested in `request`
    /// and below); here only that a refusal is the typed error.
    #[test]
    fn only_e164_parses() {
        for bad in ["", "+1", "919876543210", "+9198765432101234", "+91 98765"] {
            assert_eq!(bad.parse::<PhoneNumber>(), Err(PhoneNumberError), "{bad}");
        }
    }

    #[test]
    fn digits_agree_with_a_plain_reading_of_the_rule() {
        // `^\+[1-9]\d{1,14}$`, read the slow way.
        let reference = |text: &str| -> Option<u64> {
            let digits = text.strip_prefix('+')?;
            let ok = (2..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0');
            ok.then(|| digits.parse().ok()).flatten()
        };
        let alphabet = ['+', '0', '1', '5', '9', ' ', '-', 'x', '٣', '/', ':'];
        let mut rand = crate::test_rng::xorshift(0xe164);
        for _ in 0..50_000 {
            let len = rand(19) as usize;
            let mut text = String::new();
            if rand(4) != 0 {
                text.push('+');
            }
            for _ in 0..len {
                let pick = if rand(3) == 0 { rand(11) } else { 1 + rand(4) };
                text.push(alphabet[pick as usize]);
            }
            assert_eq!(e164_digits(&text), reference(&text), "{text:?}");
        }
    }

    #[test]
    fn order_and_equality_follow_the_text() {
        let texts = ["+12", "+123", "+13", "+90", "+91", "+999999999999999"];
        let numbers: Vec<PhoneNumber> = texts.iter().map(|t| t.parse().unwrap()).collect();
        for (a, ta) in numbers.iter().zip(texts) {
            for (b, tb) in numbers.iter().zip(texts) {
                assert_eq!(a.cmp(b), ta.cmp(tb), "{ta} {tb}");
                assert_eq!(a == b, ta == tb);
            }
            let owned = String::from(ta);
            assert!(*a == ta && *a == *ta && *a == owned);
        }
    }

    #[test]
    fn serde_is_a_plain_string_and_checks_it() {
        let n: PhoneNumber = "+14155550100".parse().unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"+14155550100\"");
        assert_eq!(
            serde_json::from_str::<PhoneNumber>("\"+14155550100\"").unwrap(),
            n
        );
        for bad in ["\"14155550100\"", "14155550100", "null", "\"+0\""] {
            let err = serde_json::from_str::<PhoneNumber>(bad).unwrap_err();
            assert!(err.to_string().contains("E.164"), "{bad}: {err}");
        }
    }
}
