//! Unix time and the proleptic Gregorian calendar, both ways, by hand
//! (Howard Hinnant's `days_from_civil` and `civil_from_days`): S3's signed
//! dates read (`http/s3/sigv4.rs`, per request) and HTTP's and RFC 3339's
//! dates written (`http/response.rs`, per entry of a WebDAV listing),
//! where a format description would cost ten times as much.

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A Unix time's date and time of day in UTC, by the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
pub struct Civil {
    /// The year, 0 to 9999.
    pub year: u32,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// Monday is 0.
    pub weekday: usize,
    /// Seconds since midnight.
    pub clock: u32,
}

impl Civil {
    /// `None` outside the years 0 to 9999 (four digits, as the formats
    /// that write it do).
    pub fn of(unix_seconds: i64) -> Option<Civil> {
        let days = unix_seconds.div_euclid(86_400);
        let clock = unix_seconds.rem_euclid(86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        // 1970-01-01 was a Thursday.
        let weekday = (days + 3).rem_euclid(7) as usize;
        Some(Civil {
            year: u32::try_from(year).ok().filter(|year| *year <= 9_999)?,
            month: month as u32,
            day: day as u32,
            weekday,
            clock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each day from the year 0 to 9999 goes there and back, and its
    /// weekday steps by one.
    #[test]
    fn days_go_there_and_back() {
        let first = days_from_civil(0, 1, 1);
        let last = days_from_civil(9999, 12, 31);
        assert_eq!((first, last), (-719_528, 2_932_896));
        let mut weekday = Civil::of(first * 86_400).unwrap().weekday;
        for day in first..=last {
            let at = Civil::of(day * 86_400 + 86_399).unwrap();
            let back = days_from_civil(i64::from(at.year), i64::from(at.month), i64::from(at.day));
            assert_eq!(
                (back, at.weekday, at.clock),
                (day, weekday, 86_399),
                "day {day}"
            );
            weekday = (weekday + 1) % 7;
        }
        assert!(Civil::of((first - 1) * 86_400).is_none());
        assert!(Civil::of((last + 1) * 86_400).is_none());
    }
}
