//! `pyxis bench pipeline`: the client data path on one core, stage by stage.
//!
//! Every figure is MiB/s of *plaintext*, so stage times add up:
//! 1/total ≈ Σ 1/stage. Each stage runs `--rounds` times over the whole
//! input and the best round is reported (this VM is noisy); the totals also
//! give the median.

use std::hint::black_box;
use std::io::Read;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use pyxis_core::chunker::{Chunker, ChunkerParams};
use pyxis_core::codec::{ChunkBuf, ChunkCodec, EncodedChunk, seal_blob, seal_uncompressed};
use pyxis_core::erasure::Erasure;
use pyxis_core::testdata::{PseudoRandom, PseudoText};
use pyxis_crypto::keys::{Keyring, MasterKey};
use pyxis_crypto::shard::{shard_hash, verify_shard};
use pyxis_proto::Scheme;
use pyxis_proto::format::chunk::Compression;
use pyxis_proto::size::ByteSize;
use serde::Serialize;

use super::memory::peak_rss_bytes;

#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    /// Bytes of input.
    #[arg(long, default_value = "256MiB")]
    size: ByteSize,
    /// Erasure scheme, k+m.
    #[arg(long, default_value = "4+2")]
    scheme: Scheme,
    /// English-like text (compresses ~3x) instead of incompressible bytes.
    #[arg(long)]
    compressible: bool,
    /// Read the input from this file (its first --size bytes, or all of it
    /// with --size 0) instead of generating it.
    #[arg(long, value_name = "FILE")]
    input: Option<std::path::PathBuf>,
    /// Only the end-to-end encode, reading the input from a generator so it is
    /// never held in memory: the figure for peak memory on big files.
    #[arg(long)]
    stream: bool,
    /// Rounds per measurement; the best is reported.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Stage {
    name: &'static str,
    mib_s: f64,
}

#[derive(Debug, Serialize)]
struct Total {
    best_mib_s: f64,
    median_mib_s: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    size_bytes: u64,
    scheme: String,
    data: String,
    mode: &'static str,
    rounds: u32,
    chunks: usize,
    compressed_chunks: usize,
    /// Sealed bytes / plaintext bytes (before erasure expansion).
    stored_ratio: f64,
    encode_stages: Vec<Stage>,
    encode: Total,
    /// Shard indices dropped before decoding (the data shards, the worst case).
    decode_lost_shards: Vec<usize>,
    decode_stages: Vec<Stage>,
    decode: Option<Total>,
    peak_rss_bytes: Option<u64>,
}

fn source(args: &PipelineArgs) -> Result<Box<dyn Read>> {
    if let Some(path) = &args.input {
        let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let limit = if args.size.0 == 0 { u64::MAX } else { args.size.0 };
        return Ok(Box::new(file.take(limit)));
    }
    Ok(if args.compressible {
        Box::new(PseudoText::new(1, args.size.0))
    } else {
        Box::new(PseudoRandom::new(1, args.size.0))
    })
}

fn data_name(args: &PipelineArgs) -> String {
    match &args.input {
        Some(p) => p.display().to_string(),
        None if args.compressible => "text".into(),
        None => "random".into(),
    }
}

/// Runs `f` `rounds` times; returns every round's seconds.
fn time_rounds(rounds: u32, mut f: impl FnMut()) -> Vec<f64> {
    (0..rounds.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect()
}

fn mib_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1 << 20) as f64 / secs.max(1e-9)
}

fn total(bytes: u64, mut secs: Vec<f64>) -> Total {
    secs.sort_by(f64::total_cmp);
    Total { best_mib_s: mib_s(bytes, secs[0]), median_mib_s: mib_s(bytes, secs[secs.len() / 2]) }
}

fn best_stage(name: &'static str, bytes: u64, secs: Vec<f64>) -> Stage {
    Stage { name, mib_s: mib_s(bytes, secs.into_iter().fold(f64::INFINITY, f64::min)) }
}

pub fn run(args: PipelineArgs) -> Result<()> {
    let keys = Keyring::new(&MasterKey::from_bytes([7; 32]));
    let report = if args.stream { run_stream(&args, &keys)? } else { run_stages(&args, &keys)? };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(())
}

fn encode_all(keys: &Keyring, input: impl Read, scheme: Scheme, keep: bool) -> Result<(Vec<EncodedChunk>, usize)> {
    let mut codec = ChunkCodec::new()?;
    let mut kept = Vec::new();
    let mut n = 0;
    for chunk in Chunker::new(input, ChunkerParams::default(), keys.chunker_seed())? {
        let encoded = codec.encode(keys, chunk?.buf, scheme)?;
        n += 1;
        if keep {
            kept.push(encoded);
        } else {
            black_box(encoded);
        }
    }
    Ok((kept, n))
}

fn run_stream(args: &PipelineArgs, keys: &Keyring) -> Result<Report> {
    let mut chunks = 0;
    let secs = time_rounds(args.rounds, || {
        chunks = source(args).and_then(|s| encode_all(keys, s, args.scheme, false)).map(|r| r.1).unwrap_or(0);
    });
    if chunks == 0 && args.size.0 > 0 {
        bail!("encoding failed");
    }
    Ok(Report {
        size_bytes: args.size.0,
        scheme: args.scheme.to_string(),
        data: data_name(args),
        mode: "stream (input generated on the fly, included in the time)",
        rounds: args.rounds,
        chunks,
        compressed_chunks: 0,
        stored_ratio: f64::NAN,
        encode_stages: vec![],
        encode: total(args.size.0, secs),
        decode_lost_shards: vec![],
        decode_stages: vec![],
        decode: None,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

fn run_stages(args: &PipelineArgs, keys: &Keyring) -> Result<Report> {
    let mut data = Vec::new();
    source(args)?.read_to_end(&mut data)?;
    let size = data.len() as u64;
    let rounds = args.rounds;
    let scheme = args.scheme;
    let mut codec = ChunkCodec::new()?;
    let mut enc_stages = Vec::new();

    // Encode, one stage at a time over the whole input.
    let mut chunks: Vec<ChunkBuf> = Vec::new();
    let secs = time_rounds(rounds, || {
        chunks = Chunker::new(&data[..], ChunkerParams::default(), keys.chunker_seed())
            .expect("default params are valid")
            .map(|c| c.expect("in-memory read").buf)
            .collect();
    });
    enc_stages.push(best_stage("chunk (FastCDC)", size, secs));
    let ids: Vec<_> = chunks.iter().map(|c| keys.chunk_id(c.data())).collect();
    let secs = time_rounds(rounds, || {
        chunks.iter().for_each(|c| {
            black_box(keys.chunk_id(c.data()));
        })
    });
    enc_stages.push(best_stage("chunk id (keyed BLAKE3)", size, secs));
    let secs = time_rounds(rounds, || {
        chunks.iter().for_each(|c| {
            black_box(codec.try_compress(c.data()).map(<[u8]>::len));
        })
    });
    enc_stages.push(best_stage("compress attempt (zstd -1, sampled first)", size, secs));
    let mut zstd = zstd::bulk::Compressor::new(pyxis_core::codec::ZSTD_LEVEL)?;
    let secs = time_rounds(rounds, || {
        chunks.iter().for_each(|c| {
            black_box(zstd.compress(c.data()).map(|v| v.len()).unwrap_or(0));
        })
    });
    enc_stages.push(best_stage("baseline, not a stage: zstd -1 alone, every chunk", size, secs));
    // What the real path encrypts: compressed bytes into a new blob, or an
    // incompressible chunk in its own buffer (cloned here outside the clock).
    let compressed: Vec<Option<Vec<u8>>> =
        chunks.iter().map(|c| codec.try_compress(c.data()).map(<[u8]>::to_vec)).collect();
    let mut blobs = Vec::new();
    let mut secs = Vec::new();
    for _ in 0..rounds.max(1) {
        let inputs: Vec<ChunkBuf> = chunks.clone();
        let t = Instant::now();
        blobs = inputs
            .into_iter()
            .zip(&compressed)
            .zip(&ids)
            .map(|((buf, z), id)| {
                let key = keys.chunk_key(id);
                match z {
                    Some(z) => seal_blob(id, &key, buf.len() as u32, Compression::Zstd, z),
                    None => seal_uncompressed(id, &key, buf),
                }
            })
            .collect();
        secs.push(t.elapsed().as_secs_f64());
    }
    enc_stages.push(best_stage("encrypt (AES-256-GCM, key + nonce derivation)", size, secs));
    let mut erasure = Erasure::new();
    let mut shards = Vec::new();
    let secs = time_rounds(rounds, || {
        shards = blobs.iter_mut().map(|b| erasure.split(b, scheme).expect("valid blob")).collect::<Vec<_>>();
    });
    enc_stages.push(best_stage("erasure code + shard headers + shard hashes", size, secs));
    let secs = time_rounds(rounds, || {
        shards.iter().flatten().for_each(|s| {
            black_box(shard_hash(&s.bytes));
        });
    });
    enc_stages.push(best_stage("  of which shard hashes (BLAKE3)", size, secs));
    let compressed_chunks = compressed.iter().filter(|c| c.is_some()).count();
    drop((compressed, blobs, shards));
    drop(chunks);

    let secs = time_rounds(rounds, || {
        encode_all(keys, &data[..], scheme, false).expect("encode");
    });
    let encode = total(size, secs);

    // Decode from k shards with the first data shards lost.
    let (encoded, n_chunks) = encode_all(keys, &data[..], scheme, true)?;
    let stored_ratio = encoded.iter().map(|c| c.blob_len).sum::<usize>() as f64 / size.max(1) as f64;
    let lost: Vec<usize> = (0..scheme.parity().min(scheme.data())).collect();
    let use_ix: Vec<usize> = (0..scheme.total()).filter(|i| !lost.contains(i)).take(scheme.data()).collect();
    let mut dec_stages = Vec::new();
    let secs = time_rounds(rounds, || {
        for c in &encoded {
            for &i in &use_ix {
                black_box(verify_shard(&c.shards[i].bytes, &c.shards[i].hash).expect("valid shard"));
            }
        }
    });
    dec_stages.push(best_stage("verify shard hashes", size, secs));
    let mut joined = Vec::new();
    let secs = time_rounds(rounds, || {
        joined = encoded
            .iter()
            .map(|c| {
                let v: Vec<_> =
                    use_ix.iter().map(|&i| verify_shard(&c.shards[i].bytes, &c.shards[i].hash).unwrap()).collect();
                erasure.join(&v).expect("join")
            })
            .collect();
    });
    let verify_secs = mib_s(size, 1.0) / dec_stages[0].mib_s;
    dec_stages.push(Stage {
        name: "erasure decode (Reed-Solomon, verify excluded)",
        mib_s: mib_s(size, (secs.into_iter().fold(f64::INFINITY, f64::min) - verify_secs).max(1e-9)),
    });
    let secs = time_rounds(rounds, || {
        for (c, blob) in encoded.iter().zip(&joined) {
            black_box(codec.open(&c.id, &c.key, blob.clone(), Some(keys.dedup_key())).expect("open"));
        }
    });
    dec_stages.push(best_stage("decrypt + decompress + chunk id check", size, secs));
    drop(joined);
    let secs = time_rounds(rounds, || {
        for c in &encoded {
            let v: Vec<_> =
                use_ix.iter().map(|&i| verify_shard(&c.shards[i].bytes, &c.shards[i].hash).unwrap()).collect();
            let plain = codec.decode(&c.id, &c.key, &v, Some(keys.dedup_key())).expect("decode");
            black_box(plain);
        }
    });
    let decode = total(size, secs);
    let mut check = Vec::with_capacity(data.len());
    for c in &encoded {
        let v: Vec<_> =
            use_ix.iter().map(|&i| verify_shard(&c.shards[i].bytes, &c.shards[i].hash)).collect::<Result<_, _>>()?;
        check.extend_from_slice(codec.decode(&c.id, &c.key, &v, Some(keys.dedup_key()))?.data());
    }
    if check != data {
        bail!("decoded data differs from the input: the pipeline is broken");
    }

    Ok(Report {
        size_bytes: size,
        scheme: scheme.to_string(),
        data: data_name(args),
        mode: "stages (input in memory)",
        rounds,
        chunks: n_chunks,
        compressed_chunks,
        stored_ratio,
        encode_stages: enc_stages,
        encode,
        decode_lost_shards: lost,
        decode_stages: dec_stages,
        decode: Some(decode),
        peak_rss_bytes: peak_rss_bytes(),
    })
}

fn print_human(r: &Report) {
    println!(
        "pyxis bench pipeline: {} of {} data, scheme {}, {} chunks ({} compressed), one core, best of {}",
        ByteSize(r.size_bytes),
        r.data,
        r.scheme,
        r.chunks,
        r.compressed_chunks,
        r.rounds
    );
    if !r.encode_stages.is_empty() {
        println!("encode stages (MiB/s of plaintext):");
        for s in &r.encode_stages {
            println!("  {:<48} {:>9.0}", s.name, s.mib_s);
        }
    }
    println!("  {:<48} {:>9.0}  (median {:.0})", "ENCODE end to end", r.encode.best_mib_s, r.encode.median_mib_s);
    if let Some(d) = &r.decode {
        println!("decode stages, shards {:?} lost:", r.decode_lost_shards);
        for s in &r.decode_stages {
            println!("  {:<48} {:>9.0}", s.name, s.mib_s);
        }
        println!("  {:<48} {:>9.0}  (median {:.0})", "DECODE end to end", d.best_mib_s, d.median_mib_s);
    }
    if let Some(rss) = r.peak_rss_bytes {
        println!("peak memory (VmHWM): {}", ByteSize(rss));
    }
}
