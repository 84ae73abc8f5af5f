//! A minimal SoundFont 2 writer: 16-bit mono samples, one zone per instrument and per preset.
//! Enough for rustysynth to load and play; it follows the SF2 2.01 chunk layout (RIFF `sfbk`
//! with LIST INFO, LIST sdta/smpl, LIST pdta with phdr pbag pmod pgen inst ibag imod igen shdr).

const RATE: u32 = 44_100;
/// Samples of one waveform period: 100 at 44.1 kHz = 441 Hz, near A4 (key 69).
const PERIOD: usize = 100;
const ROOT_KEY: u8 = 69;

// Generator operators (SF2 2.01, section 8.1.2).
const GEN_PAN: u16 = 17;
const GEN_RELEASE_VOL_ENV: u16 = 38;
const GEN_INSTRUMENT: u16 = 41;
const GEN_SAMPLE_ID: u16 = 53;
const GEN_SAMPLE_MODES: u16 = 54;
const GEN_OVERRIDING_ROOT_KEY: u16 = 58;

#[derive(Clone, Copy)]
pub enum Waveform {
    Sine,
    Saw,
    Square,
    Triangle,
}

impl Waveform {
    fn at(self, phase: f64) -> f64 {
        match self {
            Waveform::Sine => (2.0 * std::f64::consts::PI * phase).sin(),
            Waveform::Saw => 2.0 * phase - 1.0,
            Waveform::Square => {
                if phase < 0.5 {
                    1.0
                } else {
                    -1.0
                }
            }
            Waveform::Triangle => 1.0 - 4.0 * (phase - 0.5).abs(),
        }
    }
}

struct SampleHeader {
    name: String,
    start: u32,
    end: u32,
    loop_start: u32,
    loop_end: u32,
}

struct Zone {
    generators: Vec<(u16, u16)>,
}

#[derive(Default)]
pub struct Sf2Builder {
    data: Vec<i16>,
    samples: Vec<SampleHeader>,
    instruments: Vec<(String, Zone)>,
    presets: Vec<(String, u16, u16, Zone)>,
}

impl Sf2Builder {
    pub fn new() -> Self {
        Self::default()
    }

    fn add_sample(&mut self, name: &str, samples: &[f64]) -> u16 {
        let start = self.data.len() as u32;
        self.data
            .extend(samples.iter().map(|&x| (x * 32767.0).round() as i16));
        let end = self.data.len() as u32;
        // SF2 asks for at least 46 zero samples after each sample.
        self.data.extend(std::iter::repeat_n(0, 46));
        self.samples.push(SampleHeader {
            name: name.to_string(),
            start,
            end,
            // Loop points are read only by looping zones (sample mode 1).
            loop_start: start,
            loop_end: end,
        });
        (self.samples.len() - 1) as u16
    }

    /// A looping instrument playing `waveform` at `amplitude` (0..1) with a 0.3 s release.
    pub fn looped_instrument(&mut self, name: &str, waveform: Waveform, amplitude: f64) -> u16 {
        let samples: Vec<f64> = (0..PERIOD * 40)
            .map(|i| amplitude * waveform.at((i % PERIOD) as f64 / PERIOD as f64))
            .collect();
        let sample = self.add_sample(name, &samples);
        self.instruments.push((
            name.to_string(),
            Zone {
                generators: vec![
                    (GEN_RELEASE_VOL_ENV, timecents(0.3)),
                    (GEN_SAMPLE_MODES, 1),
                    (GEN_OVERRIDING_ROOT_KEY, u16::from(ROOT_KEY)),
                    (GEN_SAMPLE_ID, sample),
                ],
            },
        ));
        (self.instruments.len() - 1) as u16
    }

    /// A one-shot instrument: 0.2 s of decaying pseudo-random noise (a fixed LCG, so the file is
    /// always the same), panned slightly left.
    pub fn drum_instrument(&mut self, name: &str) -> u16 {
        let mut state = 0x1234_5678u32;
        let n = (RATE / 5) as usize;
        let samples: Vec<f64> = (0..n)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (state >> 8) as f64 / (1u32 << 24) as f64 * 2.0 - 1.0;
                0.5 * noise * (-(i as f64) / (n as f64 / 6.0)).exp()
            })
            .collect();
        let sample = self.add_sample(name, &samples);
        self.instruments.push((
            name.to_string(),
            Zone {
                generators: vec![
                    (GEN_PAN, (-200i16) as u16),
                    (GEN_RELEASE_VOL_ENV, timecents(0.05)),
                    (GEN_OVERRIDING_ROOT_KEY, 60),
                    (GEN_SAMPLE_ID, sample),
                ],
            },
        ));
        (self.instruments.len() - 1) as u16
    }

    /// A preset `bank:program` playing `instrument` over every key and velocity.
    pub fn preset(&mut self, name: &str, bank: u16, program: u16, instrument: u16) {
        self.presets.push((
            name.to_string(),
            bank,
            program,
            Zone {
                generators: vec![(GEN_INSTRUMENT, instrument)],
            },
        ));
    }

    /// The bytes of the SF2 file.
    pub fn build(self) -> Vec<u8> {
        let mut info = Vec::new();
        info.extend(chunk(b"ifil", &[2, 0, 1, 0]));
        info.extend(chunk(b"isng", &zstr("EMU8000", 8)));
        info.extend(chunk(b"INAM", &zstr("saex test font", 16)));

        let smpl: Vec<u8> = self.data.iter().flat_map(|s| s.to_le_bytes()).collect();

        let (mut phdr, mut pbag, mut pgen) = (Vec::new(), Vec::new(), Vec::new());
        for (name, bank, program, zone) in &self.presets {
            phdr.extend(zstr(name, 20));
            phdr.extend(program.to_le_bytes());
            phdr.extend(bank.to_le_bytes());
            phdr.extend(((pbag.len() / 4) as u16).to_le_bytes());
            phdr.extend([0u8; 12]);
            push_zone(&mut pbag, &mut pgen, zone);
        }
        phdr.extend(zstr("EOP", 20));
        phdr.extend([0u8; 4]);
        phdr.extend(((pbag.len() / 4) as u16).to_le_bytes());
        phdr.extend([0u8; 12]);
        pbag.extend(((pgen.len() / 4) as u16).to_le_bytes());
        pbag.extend([0u8; 2]);
        pgen.extend([0u8; 4]);

        let (mut inst, mut ibag, mut igen) = (Vec::new(), Vec::new(), Vec::new());
        for (name, zone) in &self.instruments {
            inst.extend(zstr(name, 20));
            inst.extend(((ibag.len() / 4) as u16).to_le_bytes());
            push_zone(&mut ibag, &mut igen, zone);
        }
        inst.extend(zstr("EOI", 20));
        inst.extend(((ibag.len() / 4) as u16).to_le_bytes());
        ibag.extend(((igen.len() / 4) as u16).to_le_bytes());
        ibag.extend([0u8; 2]);
        igen.extend([0u8; 4]);

        let mut shdr = Vec::new();
        for s in &self.samples {
            shdr.extend(zstr(&s.name, 20));
            for v in [s.start, s.end, s.loop_start, s.loop_end, RATE] {
                shdr.extend(v.to_le_bytes());
            }
            shdr.extend([ROOT_KEY, 0]);
            shdr.extend(0u16.to_le_bytes()); // sample link
            shdr.extend(1u16.to_le_bytes()); // mono sample
        }
        shdr.extend(zstr("EOS", 20));
        shdr.extend([0u8; 26]);

        let mut pdta = Vec::new();
        pdta.extend(chunk(b"phdr", &phdr));
        pdta.extend(chunk(b"pbag", &pbag));
        pdta.extend(chunk(b"pmod", &[0u8; 10]));
        pdta.extend(chunk(b"pgen", &pgen));
        pdta.extend(chunk(b"inst", &inst));
        pdta.extend(chunk(b"ibag", &ibag));
        pdta.extend(chunk(b"imod", &[0u8; 10]));
        pdta.extend(chunk(b"igen", &igen));
        pdta.extend(chunk(b"shdr", &shdr));

        let mut body = b"sfbk".to_vec();
        body.extend(list(b"INFO", &info));
        body.extend(list(b"sdta", &chunk(b"smpl", &smpl)));
        body.extend(list(b"pdta", &pdta));
        chunk(b"RIFF", &body)
    }
}

fn push_zone(bag: &mut Vec<u8>, gens: &mut Vec<u8>, zone: &Zone) {
    bag.extend(((gens.len() / 4) as u16).to_le_bytes());
    bag.extend(0u16.to_le_bytes());
    for &(op, amount) in &zone.generators {
        gens.extend(op.to_le_bytes());
        gens.extend(amount.to_le_bytes());
    }
}

/// An envelope time in SF2 timecents: 1200 * log2(seconds).
fn timecents(seconds: f64) -> u16 {
    (1200.0 * seconds.log2()).round() as i16 as u16
}

/// `text` as a zero-padded field of `len` bytes (always zero-terminated).
fn zstr(text: &str, len: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = text.bytes().take(len - 1).collect();
    bytes.resize(len, 0);
    bytes
}

fn chunk(id: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    out
}

fn list(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut body = kind.to_vec();
    body.extend(data);
    chunk(b"LIST", &body)
}
