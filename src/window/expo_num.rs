//! Number formatting for the text formats: integers without the formatting machinery, floats
//! exactly (shortest round-trip) or, for quantile estimates, to 7 significant digits, with the
//! Prometheus spellings `NaN`, `+Inf`, `-Inf`.

use std::io::Write;

/// Decimal digits of `v`, without the formatting machinery.
pub(crate) fn uint(mut v: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// A quantile estimate to 7 significant digits: the estimate is only within a relative α
/// (>= 1e-4) of the true value, so the digits past the 7th (worth < 5e-7 relative) carry
/// nothing, and skipping shortest-representation formatting makes exposition several times
/// faster. Non-finite values and integers go through [`float`].
pub(crate) fn float_7(v: f64, out: &mut Vec<u8>) {
    if !v.is_finite() || v == 0.0 || v.fract() == 0.0 {
        return float(v, out);
    }
    let a = v.abs();
    let mut e10 = a.log10().floor() as i32;
    // 7 digits in [1_000_000, 9_999_999]; the log10 estimate can be off by one at boundaries.
    let mut m = (a * 10f64.powi(6 - e10)).round();
    if m >= 9_999_999.5 {
        e10 += 1;
        m = (a * 10f64.powi(6 - e10)).round();
    } else if m < 999_999.5 {
        e10 -= 1;
        m = (a * 10f64.powi(6 - e10)).round();
    }
    if !(999_999.5..9_999_999.5).contains(&m) {
        return float(v, out);
    }
    let mut digits = [0u8; 7];
    let mut m = m as u64;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (m % 10) as u8;
        m /= 10;
    }
    let mut len = 7;
    while len > 1 && digits[len - 1] == b'0' {
        len -= 1;
    }
    let digits = &digits[..len];
    if v < 0.0 {
        out.push(b'-');
    }
    if (-5..15).contains(&e10) {
        if e10 < 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-e10 - 1) as usize));
            out.extend_from_slice(digits);
        } else {
            let int_len = e10 as usize + 1;
            if digits.len() <= int_len {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            }
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        if e10 < 0 {
            out.push(b'-');
        }
        uint(u64::from(e10.unsigned_abs()), out);
    }
}

pub(crate) fn float(v: f64, out: &mut Vec<u8>) {
    // Integral values (common for sums and counters) skip float formatting.
    if v.fract() == 0.0 && v.abs() < 1e15 {
        if v < 0.0 {
            out.push(b'-');
        }
        uint(v.abs() as u64, out);
        out.extend_from_slice(b".0");
        return;
    }
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"+Inf");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Inf");
    } else {
        let _ = write!(out, "{v:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_digit_floats_parse_back_within_5e_7() {
        let mut x = 1.234_567_891e-300_f64;
        let mut out = Vec::new();
        while x < 1e300 {
            for v in [x, -x, x * 1.000_000_1, 0.1 + x.fract()] {
                out.clear();
                float_7(v, &mut out);
                let text = std::str::from_utf8(&out).unwrap();
                let back: f64 = text.parse().unwrap();
                assert!(((back - v) / v).abs() <= 5e-7, "{v} -> {text}");
            }
            x *= 3.7;
        }
        for (v, want) in [
            (0.5, "0.5"),
            (12.25, "12.25"),
            (2.0, "2.0"),
            (1234567.5, "1234568.0"),
            (0.000123, "0.000123"),
            (1.5e-7, "1.5e-7"),
            (f64::NAN, "NaN"),
        ] {
            out.clear();
            float_7(v, &mut out);
            assert_eq!(std::str::from_utf8(&out).unwrap(), want);
        }
    }
}
