//! Parsed personal-data newtypes ("parse, don't validate"): once a value is a
//! `PhoneNumber` or an `IdCardNumber` it is known to be well formed.

use crate::mask;

/// A mainland China mobile number, normalised to its 11 digits.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<PhoneNumber, String> {
        let mut s: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\u{3000}'))
            .collect();
        if let Some(rest) = s.strip_prefix("+86") {
            s = rest.to_string();
        } else if let Some(rest) = s.strip_prefix("0086") {
            s = rest.to_string();
        }
        let b = s.as_bytes();
        let ok = b.len() == 11
            && b.iter().all(u8::is_ascii_digit)
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1]);
        if ok {
            Ok(PhoneNumber(s))
        } else {
            Err("手机号格式不正确,应为 11 位大陆手机号码".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask::phone(&self.0)
    }
}

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// A resident identity card number (GB 11643-1999): 18 characters, a plausible
/// region and birth date, and the ISO 7064 MOD 11-2 check character.
#[derive(Clone, PartialEq, Eq)]
pub struct IdCardNumber(String);

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

impl IdCardNumber {
    pub fn parse(input: &str) -> Result<IdCardNumber, String> {
        let s = input.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
            return Err("身份证号应为 18 位,前 17 位为数字".into());
        }
        if !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err("身份证号最后一位应为数字或 X".into());
        }
        let province = (b[0] - b'0') as u32 * 10 + (b[1] - b'0') as u32;
        if !(11..=65).contains(&province) && !matches!(province, 71 | 81 | 82 | 83) {
            return Err("身份证号的地区码无效".into());
        }
        let birth = &s[6..14];
        let date = chrono::NaiveDate::parse_from_str(birth, "%Y%m%d")
            .map_err(|_| "身份证号中的出生日期无效".to_string())?;
        if date.format("%Y").to_string().as_str() < "1900" || date > chrono::Utc::now().date_naive()
        {
            return Err("身份证号中的出生日期无效".into());
        }
        if b[17] != check_char(&b[..17]) {
            return Err("身份证号校验位不正确".into());
        }
        Ok(IdCardNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask::id_card(&self.0)
    }
}

/// The check character for the first 17 digits.
pub fn check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| (d - b'0') as u32 * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

impl std::fmt::Debug for IdCardNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdCardNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phones() {
        assert_eq!(
            PhoneNumber::parse("138 0000 0001").unwrap().as_str(),
            "13800000001"
        );
        assert_eq!(
            PhoneNumber::parse("+8613800000001").unwrap().as_str(),
            "13800000001"
        );
        assert_eq!(
            PhoneNumber::parse("13800000001").unwrap().masked(),
            "138****0001"
        );
        for bad in [
            "",
            "1380000000",
            "12800000001",
            "138000000011",
            "abc",
            "23800000001",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", PhoneNumber::parse("13800000001").unwrap()).contains("00000001"));
    }

    #[test]
    fn id_cards() {
        // 11010519491231002X is the standard's published example.
        let id = IdCardNumber::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.masked(), "1101**********002X");
        assert!(
            IdCardNumber::parse("110105194912310021").is_err(),
            "bad check digit"
        );
        assert!(
            IdCardNumber::parse("110105194913310020").is_err(),
            "bad month"
        );
        assert!(
            IdCardNumber::parse("99010519491231002X").is_err(),
            "bad region"
        );
        assert!(IdCardNumber::parse("1101051949").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = PhoneNumber::parse(&s);
            let _ = IdCardNumber::parse(&s);
        }

        /// A valid mobile number parses the same in every spelling people
        /// type, and its masked form hides the middle four digits.
        #[test]
        fn phone_spellings_agree(second in 3u8..=9, rest in "[0-9]{9}") {
            let digits = format!("1{second}{rest}");
            let canonical = PhoneNumber::parse(&digits).unwrap();
            for spelled in [
                format!("+86{digits}"),
                format!("0086 {digits}"),
                format!("{} {} {}", &digits[..3], &digits[3..7], &digits[7..]),
                format!("{}-{}-{}", &digits[..3], &digits[3..7], &digits[7..]),
            ] {
                prop_assert_eq!(PhoneNumber::parse(&spelled).unwrap(), canonical.clone());
            }
            let masked = canonical.masked();
            prop_assert!(!masked.contains(&digits[3..7]) || digits[3..7] == digits[7..]);
            prop_assert_eq!(masked.len(), 11);
        }

        /// Parsing is idempotent and case-insensitive for the X check char;
        /// any one-character change of a valid number is caught.
        #[test]
        fn id_cards_parse_once_and_catch_single_typos(
            region in 11u32..=65, y in 1950u32..2010, m in 1u32..=12,
            d in 1u32..=28, seq in 0u32..1000, pos in 0usize..17, delta in 1u32..10,
        ) {
            let body = format!("{region}0102{y:04}{m:02}{d:02}{seq:03}");
            let check = check_char(body.as_bytes()) as char;
            let id = format!("{body}{check}");
            let parsed = IdCardNumber::parse(&id.to_ascii_lowercase()).unwrap();
            prop_assert_eq!(parsed.as_str(), id.as_str());
            prop_assert_eq!(IdCardNumber::parse(parsed.as_str()).unwrap(), parsed.clone());
            let mut typo: Vec<u8> = id.clone().into_bytes();
            typo[pos] = b'0' + ((typo[pos] - b'0') as u32 + delta) as u8 % 10;
            prop_assert!(IdCardNumber::parse(std::str::from_utf8(&typo).unwrap()).is_err());
        }

        /// Every well-formed body gets exactly one accepted check character.
        #[test]
        fn exactly_one_check_char(region in 11u32..=65, y in 1950u32..2010, m in 1u32..=12,
                                  d in 1u32..=28, seq in 0u32..1000) {
            let body = format!("{region}0102{y:04}{m:02}{d:02}{seq:03}");
            let accepted: Vec<char> = "0123456789X".chars()
                .filter(|c| IdCardNumber::parse(&format!("{body}{c}")).is_ok())
                .collect();
            prop_assert_eq!(accepted.len(), 1);
        }
    }
}
