use super::*;

fn salt() -> [u8; SALT_LEN] {
    [42; SALT_LEN]
}

#[test]
fn password_keys_are_distinct_and_deterministic() {
    let a = derive_password_keys(b"hunter2", &salt(), &KdfParams::INSECURE_FAST).unwrap();
    let b = derive_password_keys(b"hunter2", &salt(), &KdfParams::INSECURE_FAST).unwrap();
    let c = derive_password_keys(b"hunter3", &salt(), &KdfParams::INSECURE_FAST).unwrap();
    assert_eq!(a.login, b.login);
    assert_ne!(a.login.as_bytes(), a.wrapping.as_bytes());
    assert_ne!(a.login, c.login);
    let other_salt = derive_password_keys(b"hunter2", &[1; 16], &KdfParams::INSECURE_FAST).unwrap();
    assert_ne!(a.login, other_salt.login);
}

#[test]
fn hostile_kdf_params_are_refused() {
    let huge = KdfParams { memory_kib: u32::MAX, ..KdfParams::DEFAULT };
    assert!(derive_password_keys(b"x", &salt(), &huge).unwrap_err().to_string().contains("outside"));
    let zero = KdfParams { iterations: 0, ..KdfParams::DEFAULT };
    assert!(zero.validate().is_err());
    // Caught by fuzz/ (client_answers, kept input): 8 × lanes overflowed, a panic in a debug build.
    let lanes = KdfParams { parallelism: u32::MAX / 4, ..KdfParams::DEFAULT };
    assert!(lanes.validate().is_err());
    assert!(derive_password_keys(b"x", &[1; 4], &KdfParams::INSECURE_FAST).is_err());
}

#[test]
fn master_key_wraps_and_wrong_password_fails() {
    let master = MasterKey::generate().unwrap();
    let right = derive_password_keys(b"pw", &salt(), &KdfParams::INSECURE_FAST).unwrap();
    let wrong = derive_password_keys(b"pW", &salt(), &KdfParams::INSECURE_FAST).unwrap();
    for bound in [false, true] {
        let blob = wrap_master_key(&master, &right.wrapping, bound).unwrap();
        assert_eq!(blob.len(), wrapped::SYMMETRIC_LEN);
        assert_eq!(unwrap_master_key(&blob, &right.wrapping).unwrap(), (master.clone(), bound));
        assert!(matches!(unwrap_master_key(&blob, &wrong.wrapping), Err(Error::Decrypt { .. })));
        for bit in 0..blob.len() * 8 {
            let mut b = blob.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(unwrap_master_key(&b, &right.wrapping).is_err(), "bit {bit}");
        }
        // The server cannot turn a bound account's key into a legacy one.
        let mut flipped = blob.clone();
        flipped[6] = if bound { 1 } else { 3 };
        assert!(matches!(unwrap_master_key(&flipped, &right.wrapping), Err(Error::Decrypt { .. })));
    }
}

#[test]
fn file_keys_wrap_for_owner_and_reader() {
    let alice = Keyring::new(&MasterKey::generate().unwrap());
    let bob = Keyring::new(&MasterKey::generate().unwrap());
    let fk = FileKey::generate().unwrap();

    let own = alice.wrap_file_key(&fk).unwrap();
    assert_eq!(alice.unwrap_file_key(&own).unwrap(), fk);
    assert!(bob.unwrap_file_key(&own).is_err());

    let to_bob = wrap_file_key_for_reader(&fk, &bob.reader_public_key().unwrap()).unwrap();
    assert_eq!(to_bob.len(), wrapped::X25519_LEN);
    assert_eq!(bob.unwrap_file_key(&to_bob).unwrap(), fk);
    assert!(alice.unwrap_file_key(&to_bob).is_err());
    for bit in 0..to_bob.len() * 8 {
        let mut b = to_bob.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(bob.unwrap_file_key(&b).is_err(), "bit {bit}");
    }
}

#[test]
fn a_master_key_blob_is_not_a_file_key() {
    let kr = Keyring::new(&MasterKey::from_bytes([1; 32]));
    let pw = derive_password_keys(b"pw", &salt(), &KdfParams::INSECURE_FAST).unwrap();
    let blob = wrap_master_key(&MasterKey::from_bytes([1; 32]), &pw.wrapping, true).unwrap();
    assert!(matches!(kr.unwrap_file_key(&blob), Err(Error::Key { .. })));
}

#[test]
fn derivations_are_separated() {
    let kr = Keyring::new(&MasterKey::from_bytes([7; 32]));
    let id = kr.chunk_id(b"hello");
    assert_ne!(kr.chunk_key(&id).as_bytes(), kr.dedup_key().as_bytes());
    assert_ne!(kr.chunk_key(&id), kr.chunk_key(&kr.chunk_id(b"hellp")));
    let other = Keyring::new(&MasterKey::from_bytes([8; 32]));
    assert_ne!(other.chunk_id(b"hello"), id, "ids must not be comparable across accounts");
    assert_ne!(other.chunker_seed(), kr.chunker_seed());
    assert_eq!(format!("{:?}", MasterKey::from_bytes([7; 32])), "MasterKey(hidden)");
}
