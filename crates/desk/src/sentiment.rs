//! How negative a message sounds, from a word list: each known word carries a weight from -4
//! (furious) to +3 (delighted); "not" or "never" just before a word flips it, "very" and friends
//! strengthen it, and the sum is squashed into -1.0 ..= 1.0. Crude, fast, explainable — enough to
//! notice a customer who is angry, which is all the desk asks of it.

/// Word weights. Negative words outnumber positive ones on purpose: missing anger costs more.
const LEXICON: &[(&str, i32)] = &[
    ("abysmal", -4),
    ("angry", -3),
    ("annoyed", -2),
    ("annoying", -2),
    ("appalling", -4),
    ("awful", -3),
    ("bad", -2),
    ("broken", -2),
    ("cheated", -4),
    ("crap", -3),
    ("damn", -2),
    ("disappointed", -2),
    ("disappointing", -2),
    ("disgusted", -4),
    ("disgusting", -4),
    ("dreadful", -3),
    ("fraud", -4),
    ("frustrated", -2),
    ("frustrating", -2),
    ("furious", -4),
    ("garbage", -3),
    ("hate", -3),
    ("horrible", -3),
    ("idiots", -4),
    ("incompetent", -3),
    ("joke", -2),
    ("liars", -4),
    ("lied", -3),
    ("mad", -2),
    ("nightmare", -3),
    ("outraged", -4),
    ("pathetic", -3),
    ("poor", -2),
    ("rip", -2),
    ("ripoff", -4),
    ("rubbish", -3),
    ("ridiculous", -3),
    ("scam", -4),
    ("shame", -2),
    ("shameful", -3),
    ("stupid", -3),
    ("sucks", -3),
    ("terrible", -3),
    ("unacceptable", -3),
    ("upset", -2),
    ("useless", -3),
    ("waste", -2),
    ("worst", -4),
    ("wrong", -1),
    ("amazing", 3),
    ("awesome", 3),
    ("excellent", 3),
    ("glad", 2),
    ("good", 2),
    ("great", 3),
    ("happy", 2),
    ("helpful", 2),
    ("love", 3),
    ("nice", 2),
    ("perfect", 3),
    ("thank", 2),
    ("thanks", 2),
    ("wonderful", 3),
];

const NEGATIONS: &[&str] = &["not", "never", "no", "dont", "don't", "isn't", "isnt", "wasn't", "wasnt", "nothing"];
const BOOSTERS: &[&str] = &["very", "really", "so", "extremely", "totally", "absolutely", "completely", "utterly"];

/// A score from -1.0 (very negative) to 1.0 (very positive); 0.0 for neutral or unknown words.
pub fn score(text: &str) -> f64 {
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut sum = 0.0;
    for (i, word) in words.iter().enumerate() {
        let Some(&(_, weight)) = LEXICON.iter().find(|(w, _)| w == word) else { continue };
        let mut value = f64::from(weight);
        let before = |n: usize| i.checked_sub(n).map(|j| words[j].as_str());
        if before(1).is_some_and(|w| BOOSTERS.contains(&w)) {
            value *= 1.5;
        }
        if [before(1), before(2), before(3)].into_iter().flatten().any(|w| NEGATIONS.contains(&w)) {
            value *= -0.5;
        }
        sum += value;
    }
    // Shouting adds to whatever is said.
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let shouting = letters.len() >= 12 && letters.iter().all(|c| c.is_uppercase());
    if shouting && sum < 0.0 {
        sum *= 1.5;
    }
    let exclamations = text.matches('!').count().min(4) as f64;
    if sum < 0.0 {
        sum -= 0.3 * exclamations;
    }
    // The same squashing VADER uses: large sums approach ±1 without reaching it.
    sum / (sum * sum + 15.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anger_scores_low_and_thanks_high() {
        assert!(score("This is the WORST service, you are useless idiots!!!") < -0.8);
        assert!(score("Thanks, that was really helpful") > 0.5);
        assert_eq!(score("Where is my parcel?"), 0.0);
    }

    #[test]
    fn negation_turns_a_word_around() {
        assert!(score("not bad") > 0.0);
        assert!(score("not good at all") < 0.0);
    }
}
