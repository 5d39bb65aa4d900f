//! Which language a customer wrote in, and the desk's own sentences in it.
//!
//! Support messages are short ("¿Cuándo llega mi pedido?"), too short for letter statistics
//! alone: the most common words of each language the desk speaks decide first, accents second,
//! and whatlang's trigram model only when it is sure (long texts, other scripts). A language the
//! desk has no sentences for is still told apart from the knowledge base's, so a miss it causes
//! is escalated as a language problem.

use whatlang::Script;

/// A language the desk recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    English,
    Spanish,
    French,
    German,
    Portuguese,
    Italian,
    /// Recognised, but the desk has no sentences in it (Russian, Arabic, Hindi…).
    Other(whatlang::Lang),
}

/// The languages the desk has its own sentences in.
const SPOKEN: [Lang; 6] = [Lang::English, Lang::Spanish, Lang::French, Lang::German, Lang::Portuguese, Lang::Italian];

/// Each spoken language's most common words in support messages (lower case).
fn common_words(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::English => &[
            "the", "my", "is", "are", "when", "where", "how", "what", "why", "do", "does", "will", "i", "you", "can",
            "order", "hello", "hi", "thanks", "please", "and", "not", "it", "this", "with", "have", "want",
        ],
        Lang::Spanish => &[
            "el", "la", "los", "las", "mi", "mis", "es", "está", "cuándo", "cuando", "dónde", "donde", "cómo", "qué",
            "por", "para", "pedido", "quiero", "puedo", "hola", "gracias", "y", "un", "una", "no", "llega", "envío",
            "tengo", "usted",
        ],
        Lang::French => &[
            "le",
            "la",
            "les",
            "mon",
            "ma",
            "mes",
            "est",
            "quand",
            "où",
            "comment",
            "je",
            "vous",
            "commande",
            "bonjour",
            "merci",
            "et",
            "pas",
            "une",
            "des",
            "pour",
            "avec",
            "suis",
            "ne",
            "livraison",
        ],
        Lang::German => &[
            "der",
            "die",
            "das",
            "mein",
            "meine",
            "ist",
            "wann",
            "wo",
            "wie",
            "ich",
            "sie",
            "bestellung",
            "hallo",
            "danke",
            "und",
            "nicht",
            "ein",
            "eine",
            "mit",
            "für",
            "wird",
            "bitte",
            "lieferung",
        ],
        Lang::Portuguese => &[
            "o", "os", "meu", "minha", "é", "quando", "onde", "como", "eu", "você", "pedido", "olá", "obrigado",
            "obrigada", "não", "vai", "chegar", "um", "uma", "para", "com", "entrega", "está",
        ],
        Lang::Italian => &[
            "il",
            "lo",
            "gli",
            "mio",
            "mia",
            "è",
            "quando",
            "dove",
            "come",
            "io",
            "ordine",
            "ciao",
            "grazie",
            "non",
            "un",
            "una",
            "per",
            "con",
            "sono",
            "spedizione",
            "arriva",
        ],
        Lang::Other(_) => &[],
    }
}

/// Letters only one of them uses much.
fn telling_letters(lang: Lang) -> &'static [char] {
    match lang {
        Lang::Spanish => &['ñ', '¿', '¡'],
        Lang::Portuguese => &['ã', 'õ'],
        Lang::German => &['ß', 'ä', 'ö', 'ü'],
        Lang::French => &['ê', 'û', 'œ', 'ë'],
        _ => &[],
    }
}

/// The language of `text`, if it can be told.
pub fn detect(text: &str) -> Option<Lang> {
    let script = whatlang::detect_script(text)?;
    if script != Script::Latin {
        return whatlang::detect(text).map(|info| from_whatlang(info.lang()));
    }
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let mut scores: Vec<(Lang, usize)> = SPOKEN
        .iter()
        .map(|&lang| {
            let by_words = words.iter().filter(|w| common_words(lang).contains(w)).count();
            let by_letters = lower.chars().filter(|c| telling_letters(lang).contains(c)).count().min(1);
            (lang, by_words * 2 + by_letters)
        })
        .collect();
    scores.sort_by_key(|&(_, score)| std::cmp::Reverse(score));
    match (scores[0], scores[1]) {
        ((lang, best), (_, next)) if best > 0 && best > next => Some(lang),
        // A tie, or no common word: the trigram model, if it is sure.
        _ => whatlang::detect(text).filter(|info| info.is_reliable()).map(|info| from_whatlang(info.lang())),
    }
}

fn from_whatlang(lang: whatlang::Lang) -> Lang {
    match lang {
        whatlang::Lang::Eng => Lang::English,
        whatlang::Lang::Spa => Lang::Spanish,
        whatlang::Lang::Fra => Lang::French,
        whatlang::Lang::Deu => Lang::German,
        whatlang::Lang::Por => Lang::Portuguese,
        whatlang::Lang::Ita => Lang::Italian,
        other => Lang::Other(other),
    }
}

impl Lang {
    /// The language's English name, as a model is told it.
    pub fn name(self) -> &'static str {
        match self {
            Lang::English => "English",
            Lang::Spanish => "Spanish",
            Lang::French => "French",
            Lang::German => "German",
            Lang::Portuguese => "Portuguese",
            Lang::Italian => "Italian",
            Lang::Other(lang) => lang.eng_name(),
        }
    }

    /// The desk's own sentences in this language, if it has them.
    pub fn phrases(self) -> Option<&'static Phrases> {
        Some(match self {
            Lang::English => &ENGLISH,
            Lang::Spanish => &SPANISH,
            Lang::French => &FRENCH,
            Lang::German => &GERMAN,
            Lang::Portuguese => &PORTUGUESE,
            Lang::Italian => &ITALIAN,
            Lang::Other(_) => return None,
        })
    }
}

/// What the desk says itself, around the knowledge base's words.
#[derive(Debug)]
pub struct Phrases {
    /// Nothing in the knowledge base matched.
    pub not_found: &'static str,
    /// The conversation went to a person.
    pub handover: &'static str,
    /// Before an article's text in an email: `{title}` is replaced.
    pub here_is: &'static str,
    /// An email's greeting: `{name}` is replaced.
    pub dear: &'static str,
    /// An email's greeting without a name.
    pub dear_customer: &'static str,
    pub kind_regards: &'static str,
}

pub static ENGLISH: Phrases = Phrases {
    not_found: "Thanks for your message. I could not find an answer to that yet: could you tell me a bit more, \
                for example an order number or what you were trying to do?",
    handover: "Thanks for your patience. I have passed your message to a member of our team, and a person will \
               reply to you here as soon as possible.",
    here_is: "Thank you for getting in touch. Here is what we can tell you about {title}:",
    dear: "Dear {name},",
    dear_customer: "Dear customer,",
    kind_regards: "Kind regards,",
};

static SPANISH: Phrases = Phrases {
    not_found: "Gracias por su mensaje. Todavía no he encontrado una respuesta: ¿podría darnos más detalles, por \
                ejemplo un número de pedido o lo que intentaba hacer?",
    handover: "Gracias por su paciencia. He pasado su mensaje a nuestro equipo y una persona le responderá aquí \
               lo antes posible.",
    here_is: "Gracias por escribirnos. Esto es lo que podemos decirle sobre {title}:",
    dear: "Estimado/a {name}:",
    dear_customer: "Estimado/a cliente:",
    kind_regards: "Atentamente,",
};

static FRENCH: Phrases = Phrases {
    not_found: "Merci pour votre message. Je n'ai pas encore trouvé de réponse : pourriez-vous nous en dire un \
                peu plus, par exemple un numéro de commande ou ce que vous essayiez de faire ?",
    handover: "Merci de votre patience. J'ai transmis votre message à notre équipe, et une personne vous \
               répondra ici dès que possible.",
    here_is: "Merci de nous avoir contactés. Voici ce que nous pouvons vous dire sur {title} :",
    dear: "Bonjour {name},",
    dear_customer: "Bonjour,",
    kind_regards: "Cordialement,",
};

static GERMAN: Phrases = Phrases {
    not_found: "Danke für Ihre Nachricht. Ich habe noch keine Antwort gefunden: Können Sie uns etwas mehr sagen, \
                zum Beispiel eine Bestellnummer oder was Sie tun wollten?",
    handover: "Danke für Ihre Geduld. Ich habe Ihre Nachricht an unser Team weitergegeben, und eine Person \
               antwortet Ihnen hier so bald wie möglich.",
    here_is: "Danke für Ihre Nachricht. Das können wir Ihnen zu {title} sagen:",
    dear: "Guten Tag {name},",
    dear_customer: "Guten Tag,",
    kind_regards: "Mit freundlichen Grüßen",
};

static PORTUGUESE: Phrases = Phrases {
    not_found: "Obrigado pela sua mensagem. Ainda não encontrei uma resposta: pode dizer-nos um pouco mais, por \
                exemplo um número de pedido ou o que estava a tentar fazer?",
    handover: "Obrigado pela sua paciência. Passei a sua mensagem à nossa equipa e uma pessoa vai responder-lhe \
               aqui assim que possível.",
    here_is: "Obrigado pelo contacto. Eis o que podemos dizer-lhe sobre {title}:",
    dear: "Caro/a {name},",
    dear_customer: "Caro/a cliente,",
    kind_regards: "Com os melhores cumprimentos,",
};

static ITALIAN: Phrases = Phrases {
    not_found: "Grazie per il suo messaggio. Non ho ancora trovato una risposta: può dirci qualcosa in più, per \
                esempio un numero d'ordine o cosa stava cercando di fare?",
    handover: "Grazie per la pazienza. Ho passato il suo messaggio al nostro team e una persona le risponderà qui \
               il prima possibile.",
    here_is: "Grazie per averci scritto. Ecco cosa possiamo dirle su {title}:",
    dear: "Gentile {name},",
    dear_customer: "Gentile cliente,",
    kind_regards: "Cordiali saluti,",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_support_messages_are_told_apart() {
        for (text, lang) in [
            ("¿Cuándo llega mi pedido?", Lang::Spanish),
            ("Cuándo envían mi pedido", Lang::Spanish),
            ("When will my order ship?", Lang::English),
            ("How do I reset my password?", Lang::English),
            ("Do you sell bicycles?", Lang::English),
            ("I want a refund", Lang::English),
            ("Wann wird meine Bestellung verschickt?", Lang::German),
            ("Quand ma commande sera-t-elle expédiée ?", Lang::French),
            ("Quando vai chegar o meu pedido?", Lang::Portuguese),
            ("Dove è il mio ordine?", Lang::Italian),
        ] {
            assert_eq!(detect(text), Some(lang), "{text}");
        }
        assert!(matches!(detect("Где мой заказ? Я заказал его на прошлой неделе."), Some(Lang::Other(_))));
        assert_eq!(detect("1234"), None);
    }

    #[test]
    fn every_spoken_language_has_its_sentences() {
        for lang in SPOKEN {
            let phrases = lang.phrases().expect("spoken");
            assert!(phrases.here_is.contains("{title}") && phrases.dear.contains("{name}"), "{lang:?}");
        }
        assert!(Lang::Other(whatlang::Lang::Rus).phrases().is_none());
    }
}
