//! The floor every figure is stated against: one RSA-2048 PKCS#1 v1.5 SHA-256 signature
//! verification with OpenSSL, measured in this process and this run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};

/// A key, a message and its signature, made once so that the floor can be measured again
/// around every phase without generating a key each time.
#[derive(Debug)]
pub struct Floor {
    public: PKey<Public>,
    data: Vec<u8>,
    signature: Vec<u8>,
}

// `map_err` hands the error over by value.
#[allow(clippy::needless_pass_by_value)]
fn openssl_error(e: openssl::error::ErrorStack) -> String {
    format!("floor: {e}")
}

impl Floor {
    /// Generates the key and signs the message.
    pub fn new() -> Result<Floor, String> {
        let err = openssl_error;
        let key = PKey::from_rsa(Rsa::generate(2048).map_err(err)?).map_err(err)?;
        // About the size of a canonical SignedInfo.
        let data =
            b"<ds:SignedInfo>the canonical SignedInfo a verifier hashes</ds:SignedInfo>".repeat(8);
        let mut signer = Signer::new(MessageDigest::sha256(), &key).map_err(err)?;
        signer.update(&data).map_err(err)?;
        let signature = signer.sign_to_vec().map_err(err)?;
        let public =
            PKey::public_key_from_der(&key.public_key_to_der().map_err(err)?).map_err(err)?;
        Ok(Floor {
            public,
            data,
            signature,
        })
    }

    fn verify_once(&self) -> Result<Duration, String> {
        let err = openssl_error;
        let started = Instant::now();
        let mut verifier = Verifier::new(MessageDigest::sha256(), &self.public).map_err(err)?;
        verifier.update(black_box(&self.data)).map_err(err)?;
        let ok = verifier.verify(black_box(&self.signature)).map_err(err)?;
        let elapsed = started.elapsed();
        if ok {
            Ok(elapsed)
        } else {
            Err("floor: the signature did not verify".to_owned())
        }
    }

    /// Median time of one verification over `samples` timed verifications (after a warm-up).
    pub fn measure(&self, samples: usize) -> Result<Duration, String> {
        for _ in 0..samples.min(200) {
            self.verify_once()?;
        }
        let mut times = (0..samples.max(1))
            .map(|_| self.verify_once())
            .collect::<Result<Vec<_>, _>>()?;
        times.sort_unstable();
        times
            .get(times.len() / 2)
            .copied()
            .ok_or_else(|| "floor: no sample".to_owned())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_floor_is_a_plausible_rsa_verification_time() {
        let floor = super::Floor::new().and_then(|f| f.measure(50));
        // Microseconds on any machine this runs on; an error or zero would mean no measure.
        assert!(
            floor
                .as_ref()
                .is_ok_and(|d| d.as_nanos() > 1_000 && d.as_millis() < 50),
            "{floor:?}"
        );
    }
}
