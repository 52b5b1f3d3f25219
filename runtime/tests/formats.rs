//! npy and safetensors: round trips for every dtype, hand-made files, and corrupt-file errors.

use std::collections::HashMap;
use std::path::PathBuf;

use irc_ir::DType;
use irc_runtime::{
    FormatError, Rng, Tensor, load_safetensors, npy_from_bytes, npy_to_bytes, random_tensor, read_npy,
    safetensors_from_bytes, safetensors_to_bytes, save_safetensors, write_npy,
};

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("irc-runtime-{}-{name}", std::process::id()))
}

fn samples(seed: u64) -> Vec<Tensor> {
    let mut r = Rng::new(seed);
    let shapes: [&[usize]; 5] = [&[], &[7], &[2, 3, 4], &[0, 5], &[1, 1, 3]];
    DType::ALL.iter().flat_map(|&dt| shapes.iter().map(|s| random_tensor(dt, *s, &mut r)).collect::<Vec<_>>()).collect()
}

#[test]
fn npy_round_trips_every_dtype() {
    for t in samples(1) {
        let back = npy_from_bytes(&npy_to_bytes(&t).unwrap()).unwrap();
        // bf16 has no numpy dtype: it is stored as f32, exactly.
        let want_dtype = if t.dtype == DType::BF16 { DType::F32 } else { t.dtype };
        assert_eq!(back, Tensor { dtype: want_dtype, ..t.clone() });
    }
    let path = tmp("roundtrip.npy");
    let t = random_tensor(DType::F64, [3, 2], &mut Rng::new(2));
    write_npy(&path, &t).unwrap();
    assert_eq!(read_npy(&path).unwrap(), t);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn npy_headers_are_numpy_compatible() {
    let bytes = npy_to_bytes(&Tensor::new(DType::I32, vec![2, 3], (0..6).map(f64::from).collect())).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hlen) % 64, 0, "data must start 64-byte aligned");
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(header.starts_with("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }"), "{header}");
    assert!(header.ends_with('\n'));
    let one = npy_to_bytes(&Tensor::zeros(DType::Bool, vec![4])).unwrap();
    assert!(String::from_utf8_lossy(&one).contains("{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }"));
}

/// A file as numpy 1.x writes it, byte by byte: `np.save(f, np.array([[1.5, -2], [3, 0.25]], '<f8'))`.
#[test]
fn hand_made_npy_files_parse() {
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for v in [1.5f64, -2.0, 3.0, 0.25] {
        bytes.extend(v.to_le_bytes());
    }
    let t = npy_from_bytes(&bytes).unwrap();
    assert_eq!(t, Tensor::new(DType::F64, vec![2, 2], vec![1.5, -2.0, 3.0, 0.25]));

    // Version 2.0 (4-byte header length), double quotes, no padding, a 0-d bool.
    let header = br#"{"descr":"|b1","fortran_order":False,"shape":()}"#;
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend((header.len() as u32).to_le_bytes());
    bytes.extend(header);
    bytes.push(1);
    assert_eq!(npy_from_bytes(&bytes).unwrap(), Tensor::scalar(DType::Bool, 1.0));

    // Fortran order is harmless for 1-d data.
    let f16 = npy_file("{'descr': '<f2', 'fortran_order': True, 'shape': (2,), }", &[0x00, 0x3c, 0x00, 0xc0]);
    assert_eq!(npy_from_bytes(&f16).unwrap(), Tensor::new(DType::F16, vec![2], vec![1.0, -2.0]));
}

fn npy_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

#[test]
fn npy_errors() {
    let fortran = npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", &[0; 16]);
    assert!(matches!(npy_from_bytes(&fortran), Err(FormatError::FortranOrder { .. })));
    for descr in [">f4", "<u2", "<c8", "O"] {
        let f = npy_file(&format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}"), &[0; 8]);
        let err = npy_from_bytes(&f).unwrap_err();
        assert!(matches!(err, FormatError::UnsupportedDType { .. }), "{err:?}");
        assert!(err.to_string().contains(&format!("unsupported dtype `{descr}`")), "{err}");
    }
    let short = npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", &[0; 11]);
    let err = npy_from_bytes(&short).unwrap_err();
    assert!(err.to_string().contains("data is 11 bytes but f32[3] needs 12"), "{err}");
    assert!(matches!(npy_from_bytes(b"PK\x03\x04 not numpy"), Err(FormatError::NotNpy { .. })));
    assert!(matches!(npy_from_bytes(b"\x93NUMPY\x09\x00\x00\x00"), Err(FormatError::NpyVersion { major: 9, .. })));
    let garbled = npy_file("{'descr': '<f4', 'shape': [3]}", &[]);
    assert!(matches!(npy_from_bytes(&garbled), Err(FormatError::NpyHeader { .. })));
    let truncated = &npy_to_bytes(&Tensor::zeros(DType::F32, vec![2])).unwrap()[..20];
    assert!(matches!(npy_from_bytes(truncated), Err(FormatError::NpyHeader { .. })));
    let missing = tmp("does-not-exist.npy");
    let err = read_npy(&missing).unwrap_err();
    assert!(matches!(err, FormatError::Io { .. }) && err.to_string().contains(&missing.display().to_string()), "{err}");
}

#[test]
fn safetensors_round_trip_every_dtype() {
    let tensors: HashMap<String, Tensor> =
        samples(3).into_iter().enumerate().map(|(i, t)| (format!("layer.{i}.{}", t.dtype), t)).collect();
    let back = safetensors_from_bytes(&safetensors_to_bytes(&tensors).unwrap()).unwrap();
    assert_eq!(back, tensors);
    let path = tmp("weights.safetensors");
    save_safetensors(&path, &tensors).unwrap();
    assert_eq!(load_safetensors(&path).unwrap(), tensors);
    std::fs::remove_file(&path).unwrap();
    assert!(safetensors_from_bytes(&safetensors_to_bytes(&HashMap::new()).unwrap()).unwrap().is_empty());
}

fn safetensors_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

#[test]
fn safetensors_files_and_errors() {
    // Hand-made: an F32 vector and an I64 scalar.
    let mut data = Vec::new();
    data.extend(2.5f32.to_le_bytes());
    data.extend((-1.0f32).to_le_bytes());
    data.extend(7i64.to_le_bytes());
    let header = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}"#;
    let got = safetensors_from_bytes(&safetensors_file(header, &data)).unwrap();
    assert_eq!(got["a"], Tensor::new(DType::F32, vec![2], vec![2.5, -1.0]));
    assert_eq!(got["b"], Tensor::scalar(DType::I64, 7.0));

    let u8s = safetensors_file(r#"{"q":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#, &[1, 2]);
    let err = safetensors_from_bytes(&u8s).unwrap_err();
    assert!(matches!(err, FormatError::UnsupportedDType { .. }), "{err:?}");
    assert!(err.to_string().contains("unsupported dtype `U8` for tensor `q`"), "{err}");

    for corrupt in [
        b"garbage".to_vec(),
        safetensors_file("{not json", &[]),
        safetensors_file(r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}"#, &[0; 8]),
        safetensors_file(header, &data[..12]),
    ] {
        let err = safetensors_from_bytes(&corrupt).unwrap_err();
        assert!(matches!(err, FormatError::Safetensors { .. }), "{err:?}");
        assert!(err.to_string().starts_with("<bytes>: invalid safetensors file"), "{err}");
    }
    let path = tmp("corrupt.safetensors");
    std::fs::write(&path, b"\x05\x00\x00\x00\x00\x00\x00\x00{}").unwrap();
    let err = load_safetensors(&path).unwrap_err();
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    std::fs::remove_file(&path).unwrap();
    let missing = tmp("missing.safetensors");
    let err = load_safetensors(&missing).unwrap_err();
    assert!(matches!(err, FormatError::Io { .. }) && err.to_string().contains("missing.safetensors"), "{err}");
}

#[test]
fn malformed_tensors_are_not_written() {
    let bad = Tensor { dtype: DType::F32, shape: vec![2, 2], data: vec![1.0] };
    assert!(matches!(npy_to_bytes(&bad), Err(FormatError::MalformedTensor { .. })));
    let map = [("w".to_string(), bad)].into_iter().collect();
    let err = safetensors_to_bytes(&map).unwrap_err();
    assert!(err.to_string().contains("tensor `w` is malformed"), "{err}");
}
