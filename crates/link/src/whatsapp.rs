//! whatsapp placeholder
