//! Voice notes: any audio file made into what WhatsApp plays as a voice note (Ogg/Opus, mono,
//! 48 kHz), with its real length and loudness outline.
//!
//! ffmpeg does the converting and decoding. The length is read from the Ogg stream itself (the
//! last page's granule position less the Opus pre-skip) rather than trusted from the input, and
//! the waveform (64 values, 0 to 100, as the phone draws it) is computed from the decoded samples
//! of the converted file: what the recipient sees is what they will hear.

use std::path::Path;
use std::process::{Command, Stdio};

/// What a voice note carries besides its audio.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceNote {
    pub seconds: u32,
    pub waveform: Vec<u8>,
}

/// Why an audio file could not become a voice note.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error(
        "voice notes need ffmpeg, which is not installed (Debian/Ubuntu: apt install ffmpeg; macOS: brew install ffmpeg)"
    )]
    NoFfmpeg,
    #[error("ffmpeg could not convert {file}: {reason}")]
    Convert { file: String, reason: String },
    #[error("the converted voice note is not a valid Ogg/Opus stream")]
    BadOgg,
}

/// Number of values in a WhatsApp waveform.
pub const WAVEFORM_POINTS: usize = 64;
/// Opus always runs at 48 kHz: granule positions count samples at this rate.
const OPUS_RATE: f64 = 48_000.0;
/// Samples per second decoded for the waveform: plenty for 64 points of loudness.
const WAVEFORM_RATE: u32 = 8_000;

/// Converts `source` into an Ogg/Opus voice note at `target` (written whole or not at all) and
/// measures it.
pub fn encode(source: &Path, target: &Path) -> Result<VoiceNote, VoiceError> {
    let partial = target.with_extension("partial.ogg");
    let converted = ffmpeg(source, |c| {
        c.args(["-vn", "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "32k", "-application", "voip"])
            .args(["-f", "ogg"])
            .arg(&partial);
    });
    if let Err(e) = converted {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let measured = measure(&partial);
    match measured {
        Ok(note) => {
            std::fs::File::open(&partial)
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&partial, target))
                .map_err(|e| VoiceError::Convert { file: source.display().to_string(), reason: e.to_string() })?;
            Ok(note)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Length and waveform of an Ogg/Opus file.
pub fn measure(ogg: &Path) -> Result<VoiceNote, VoiceError> {
    let bytes = std::fs::read(ogg).map_err(|_| VoiceError::BadOgg)?;
    let seconds = ogg_opus_seconds(&bytes).ok_or(VoiceError::BadOgg)?;
    let pcm = ffmpeg(ogg, |c| {
        c.args(["-ac", "1", "-ar", &WAVEFORM_RATE.to_string(), "-f", "s16le", "-"]);
    })?;
    let samples: Vec<i16> = pcm.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    Ok(VoiceNote { seconds: seconds.round().max(1.0) as u32, waveform: waveform(&samples) })
}

/// Runs ffmpeg on `input` with the output options `output` adds; returns what it wrote to stdout.
fn ffmpeg(input: &Path, output: impl FnOnce(&mut Command)) -> Result<Vec<u8>, VoiceError> {
    let mut command = Command::new("ffmpeg");
    command.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i"]).arg(input);
    output(&mut command);
    let result = command.stdin(Stdio::null()).output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => VoiceError::NoFfmpeg,
        _ => VoiceError::Convert { file: input.display().to_string(), reason: e.to_string() },
    })?;
    if !result.status.success() {
        let stderr = String::from_utf8_lossy(&result.stderr);
        let reason = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no audio found").trim();
        return Err(VoiceError::Convert { file: input.display().to_string(), reason: reason.to_string() });
    }
    Ok(result.stdout)
}

/// Seconds of audio in an Ogg/Opus stream: the last page's granule position less the pre-skip
/// announced in the `OpusHead` packet, at 48 kHz. `None` if the bytes are not Ogg/Opus.
pub fn ogg_opus_seconds(bytes: &[u8]) -> Option<f64> {
    let mut offset = 0;
    let mut pre_skip = None;
    let mut last_granule = None;
    while offset + 27 <= bytes.len() {
        if &bytes[offset..offset + 4] != b"OggS" {
            return None;
        }
        let granule = i64::from_le_bytes(bytes[offset + 6..offset + 14].try_into().ok()?);
        let segments = usize::from(bytes[offset + 26]);
        let table = bytes.get(offset + 27..offset + 27 + segments)?;
        let body_start = offset + 27 + segments;
        let body_len: usize = table.iter().map(|&s| usize::from(s)).sum();
        let body = bytes.get(body_start..body_start + body_len)?;
        if pre_skip.is_none() {
            if body.len() < 19 || &body[..8] != b"OpusHead" {
                return None;
            }
            pre_skip = Some(u16::from_le_bytes([body[10], body[11]]));
        }
        // -1 marks a page on which no packet ends.
        if granule >= 0 {
            last_granule = Some(granule);
        }
        offset = body_start + body_len;
    }
    let samples = last_granule? - i64::from(pre_skip?);
    Some(samples.max(0) as f64 / OPUS_RATE)
}

/// The loudness outline: the RMS of each of 64 equal stretches, scaled so the loudest is 100.
pub fn waveform(samples: &[i16]) -> Vec<u8> {
    if samples.is_empty() {
        return vec![0; WAVEFORM_POINTS];
    }
    let rms: Vec<f64> = (0..WAVEFORM_POINTS)
        .map(|i| {
            let start = i * samples.len() / WAVEFORM_POINTS;
            let end = ((i + 1) * samples.len() / WAVEFORM_POINTS).max(start + 1).min(samples.len());
            let stretch = &samples[start.min(end - 1)..end];
            let sum: f64 = stretch.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
            (sum / stretch.len() as f64).sqrt()
        })
        .collect();
    let loudest = rms.iter().cloned().fold(0.0, f64::max);
    if loudest < 1.0 {
        return vec![0; WAVEFORM_POINTS];
    }
    rms.iter().map(|r| (r / loudest * 100.0).round() as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One Ogg page holding one packet.
    fn page(granule: i64, packet: &[u8]) -> Vec<u8> {
        let mut page = b"OggS\0\0".to_vec();
        page.extend(granule.to_le_bytes());
        page.extend([0; 12]); // serial, sequence, checksum: not read
        let mut lacing = vec![255u8; packet.len() / 255];
        lacing.push((packet.len() % 255) as u8);
        page.push(lacing.len() as u8);
        page.extend(lacing);
        page.extend(packet);
        page
    }

    fn opus_head(pre_skip: u16) -> Vec<u8> {
        let mut head = b"OpusHead\x01\x01".to_vec();
        head.extend(pre_skip.to_le_bytes());
        head.extend(48_000u32.to_le_bytes());
        head.extend([0, 0, 0]);
        head
    }

    #[test]
    fn the_length_is_the_last_granule_less_the_pre_skip() {
        let mut ogg = page(0, &opus_head(312));
        ogg.extend(page(0, b"OpusTags"));
        ogg.extend(page(48_000, &[1; 300]));
        ogg.extend(page(-1, &[2; 10]));
        ogg.extend(page(312 + 3 * 48_000, &[3; 10]));
        assert_eq!(ogg_opus_seconds(&ogg), Some(3.0));
    }

    #[test]
    fn other_files_have_no_opus_length() {
        assert_eq!(ogg_opus_seconds(b"ID3\x03 an mp3"), None);
        assert_eq!(ogg_opus_seconds(&page(0, b"\x01vorbis and more bytes")), None);
        let mut cut = page(0, &opus_head(0));
        cut.extend(&page(960, &[1; 100])[..50]);
        assert_eq!(ogg_opus_seconds(&cut), None);
    }

    #[test]
    fn the_waveform_follows_the_loudness() {
        // Loud, then half as loud, then silent: a third each.
        let samples: Vec<i16> = (0..6_400)
            .map(|i| {
                let amplitude = [12_000.0, 6_000.0, 0.0][i * 3 / 6_400];
                (amplitude * (i as f64 * 0.3).sin()) as i16
            })
            .collect();
        let wave = waveform(&samples);
        assert_eq!(wave.len(), WAVEFORM_POINTS);
        assert!(wave[..20].iter().all(|&v| v >= 95), "{wave:?}");
        assert!(wave[22..41].iter().all(|&v| (45..=55).contains(&v)), "{wave:?}");
        assert!(wave[43..].iter().all(|&v| v == 0), "{wave:?}");
        assert_eq!(waveform(&[0; 100]), vec![0; WAVEFORM_POINTS]);
        assert_eq!(waveform(&[]), vec![0; WAVEFORM_POINTS]);
    }

    /// A WAV file: `seconds` of a tone, then as long of silence.
    fn tone_then_silence(path: &Path, seconds: u32) {
        let rate = 16_000u32;
        let samples: Vec<i16> = (0..rate * seconds * 2)
            .map(|i| if i < rate * seconds { (9_000.0 * (i as f64 * 0.2).sin()) as i16 } else { 0 })
            .collect();
        let data_len = samples.len() as u32 * 2;
        let mut wav = b"RIFF".to_vec();
        wav.extend((36 + data_len).to_le_bytes());
        wav.extend(b"WAVEfmt ");
        wav.extend(16u32.to_le_bytes());
        wav.extend(1u16.to_le_bytes()); // PCM
        wav.extend(1u16.to_le_bytes()); // mono
        wav.extend(rate.to_le_bytes());
        wav.extend((rate * 2).to_le_bytes());
        wav.extend(2u16.to_le_bytes());
        wav.extend(16u16.to_le_bytes());
        wav.extend(b"data");
        wav.extend(data_len.to_le_bytes());
        wav.extend(samples.iter().flat_map(|s| s.to_le_bytes()));
        std::fs::write(path, wav).unwrap();
    }

    // Needs ffmpeg on the PATH; the test command installs it.
    #[test]
    fn any_audio_becomes_a_mono_48k_opus_note_with_its_real_length_and_outline() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("memo.wav");
        tone_then_silence(&wav, 2);
        let target = dir.path().join("note.ogg");
        let note = encode(&wav, &target).expect("ffmpeg converts a WAV file");
        assert_eq!(note.seconds, 4);
        assert!(note.waveform[..30].iter().all(|&v| v >= 80), "{:?}", note.waveform);
        assert!(note.waveform[34..].iter().all(|&v| v <= 3), "{:?}", note.waveform);
        let ogg = std::fs::read(&target).unwrap();
        let head = &ogg[28..47];
        assert_eq!(&head[..8], b"OpusHead");
        assert_eq!(head[9], 1, "mono");
        assert!(!dir.path().join("note.partial.ogg").exists());
    }

    #[test]
    fn a_file_without_audio_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.mp3");
        std::fs::write(&text, "not audio at all").unwrap();
        let target = dir.path().join("note.ogg");
        let error = encode(&text, &target).unwrap_err();
        assert!(matches!(error, VoiceError::Convert { .. }), "{error}");
        assert!(error.to_string().contains("notes.mp3"), "{error}");
        assert!(std::fs::read_dir(dir.path()).unwrap().count() == 1, "only the input is left");
    }
}
