//! Checking the number given to `wamcp login --phone` against the world's numbering plans
//! (libphonenumber's metadata). WhatsApp answers an impossible number with a code that never
//! arrives, so the mistake is caught here, with what was wrong.

use phonenumber::metadata::DATABASE;

/// Accepts `digits` (country code first, as `normalize_phone` gives them) when they form a
/// number that can exist; otherwise says why not.
pub fn check(digits: &str) -> Result<(), String> {
    let shown = format!("+{digits}");
    let number = phonenumber::parse(None, &shown).map_err(|e| format!("{shown} is not a phone number ({e})"))?;
    if number.is_valid() {
        return Ok(());
    }
    let code = number.code().value();
    // A number no region's plan matches still names its country by the calling code.
    let by_code = || {
        let regions = DATABASE.by_code(&code)?;
        regions.iter().find(|m| m.is_main_country_for_code()).or(regions.first()).copied()
    };
    let Some(meta) = number.metadata(&DATABASE).or_else(by_code) else {
        return Err(format!("{shown} starts with +{code}, which is no country's calling code"));
    };
    let region = meta.id();
    let length = number.national().to_string().len();
    // The lengths numbers of any kind (fixed, mobile, toll-free…) have in this region.
    let kinds = meta.descriptors();
    let mut lengths: Vec<u16> = [
        Some(kinds.general()),
        kinds.fixed_line(),
        kinds.mobile(),
        kinds.toll_free(),
        kinds.premium_rate(),
        kinds.shared_cost(),
        kinds.personal_number(),
        kinds.voip(),
        kinds.pager(),
        kinds.uan(),
        kinds.voicemail(),
    ]
    .into_iter()
    .flatten()
    .flat_map(|kind| kind.possible_length().iter().copied())
    .collect();
    lengths.sort_unstable();
    let (Some(&shortest), Some(&longest)) = (lengths.first(), lengths.last()) else {
        return Err(format!("{shown} is not a number in use in {region} (+{code})"));
    };
    let (shortest, longest) = (usize::from(shortest), usize::from(longest));
    let digits_word = |n: usize| if n == 1 { "1 digit".to_string() } else { format!("{n} digits") };
    Err(if length > longest {
        format!(
            "{shown} has {} after +{code}: {} too many for {region}, whose numbers have at most {longest}",
            digits_word(length),
            digits_word(length - longest)
        )
    } else if length < shortest {
        format!(
            "{shown} has {} after +{code}: {} too few for {region}, whose numbers have at least {shortest}",
            digits_word(length),
            digits_word(shortest - length)
        )
    } else {
        format!("{shown} is not a number in use in {region} (+{code})")
    })
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn real_numbers_pass() {
        for digits in ["447911123456", "923001234567", "14152007986", "5511912345678"] {
            assert_eq!(check(digits), Ok(()), "{digits}");
        }
    }

    #[test]
    fn one_digit_too_many_is_refused_with_the_reason() {
        let why = check("4479111234567").unwrap_err();
        assert!(why.contains("1 digit too many for GB") && why.contains("at most 10"), "{why}");
    }

    #[test]
    fn too_few_digits_and_unknown_country_codes_are_refused() {
        let short = check("4479111").unwrap_err();
        assert!(short.contains("too few for GB"), "{short}");
        let nowhere = check("999123456789").unwrap_err();
        assert!(nowhere.contains("no country's calling code") || nowhere.contains("not a phone number"), "{nowhere}");
    }
}
