//! Date ranges of local days, shared by the summary, the charts and the session listing so the
//! dashboard's cards, charts and table always cover the same days.
//!
//! A request names a preset (`range=today|7d|30d|month|last-month|all`) or a custom range
//! (`from`/`to`, local dates, both inclusive; either may be left out). Days are cut in the
//! request's time zone. No I/O and no clock: the caller passes "today".

use jiff::Timestamp;
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::ApiError;
use crate::aggregate;

/// The presets, as the `range` parameter spells them.
pub(crate) const PRESETS: &[&str] = &["today", "7d", "30d", "month", "last-month", "all"];

/// Local days `first..=last`; `first` is `None` for "since the beginning".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DayRange {
    /// The preset's name, or `custom`.
    pub(crate) name: String,
    /// The first day, if any.
    pub(crate) first: Option<Date>,
    /// The last day (inclusive).
    pub(crate) last: Date,
}

impl DayRange {
    /// The instants it covers: from the first day's start to the start of the day after the
    /// last (exclusive).
    pub(crate) fn bounds(&self, tz: &TimeZone) -> (Option<Timestamp>, Timestamp) {
        let since = self.first.map(|d| aggregate::start_of(d, tz));
        let until = aggregate::start_of(self.last.tomorrow().unwrap_or(self.last), tz);
        (since, until)
    }
}

fn date(name: &str, raw: Option<&str>) -> Result<Option<Date>, ApiError> {
    raw.filter(|r| !r.is_empty())
        .map(|r| {
            r.parse::<Date>().map_err(|_| {
                ApiError::BadRequest(format!("{name}: expected a date (2026-11-25), got {r:?}"))
            })
        })
        .transpose()
}

/// The range a request names, or `None` when it names none (the endpoint's own default then).
pub(crate) fn parse(
    range: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    today: Date,
) -> Result<Option<DayRange>, ApiError> {
    let from = date("from", from)?;
    let to = date("to", to)?;
    if from.is_some() || to.is_some() {
        let last = to.unwrap_or(today);
        if from.is_some_and(|f| f > last) {
            return Err(ApiError::BadRequest(format!(
                "from: must not be after to ({last})"
            )));
        }
        return Ok(Some(DayRange {
            name: "custom".into(),
            first: from,
            last,
        }));
    }
    let Some(name) = range.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let back = |days: i64| today.checked_sub(days.days()).ok();
    let (first, last) = match name {
        "today" => (Some(today), today),
        "7d" => (back(6), today),
        "30d" => (back(29), today),
        "month" => (Some(today.first_of_month()), today),
        "last-month" => {
            let this = today.first_of_month();
            let last = this.yesterday().unwrap_or(this);
            (Some(last.first_of_month()), last)
        }
        "all" => (None, today),
        "custom" => {
            return Err(ApiError::BadRequest(
                "range=custom needs from and/or to (YYYY-MM-DD)".into(),
            ));
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "range: expected one of {}, got {other:?}",
                PRESETS.join(", ")
            )));
        }
    };
    Ok(Some(DayRange {
        name: name.to_owned(),
        first,
        last,
    }))
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn days(range: &str) -> (Option<Date>, Date) {
        let r = parse(Some(range), None, None, date(2026, 3, 4))
            .unwrap()
            .unwrap();
        (r.first, r.last)
    }

    #[test]
    fn presets_end_today_and_last_month_ends_on_its_last_day() {
        let today = date(2026, 3, 4);
        assert_eq!(days("today"), (Some(today), today));
        assert_eq!(days("7d"), (Some(date(2026, 2, 26)), today));
        assert_eq!(days("30d"), (Some(date(2026, 2, 3)), today));
        assert_eq!(days("month"), (Some(date(2026, 3, 1)), today));
        assert_eq!(
            days("last-month"),
            (Some(date(2026, 2, 1)), date(2026, 2, 28))
        );
        assert_eq!(days("all"), (None, today));
    }

    #[test]
    fn a_custom_range_is_inclusive_and_checked() {
        let today = date(2026, 3, 4);
        let r = parse(None, Some("2026-01-02"), Some("2026-01-05"), today)
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.name.as_str(), r.first, r.last),
            ("custom", Some(date(2026, 1, 2)), date(2026, 1, 5))
        );
        let (since, until) = r.bounds(&TimeZone::UTC);
        assert_eq!(since.unwrap().to_string(), "2026-01-02T00:00:00Z");
        assert_eq!(
            until.to_string(),
            "2026-01-06T00:00:00Z",
            "the last day counts whole"
        );
        let open = parse(None, Some("2026-03-01"), None, today)
            .unwrap()
            .unwrap();
        assert_eq!(open.last, today);
        assert!(parse(None, Some("2026-03-05"), Some("2026-03-01"), today).is_err());
        assert!(parse(None, Some("yesterday"), None, today).is_err());
        assert!(parse(Some("week"), None, None, today).is_err());
        assert_eq!(parse(None, None, None, today).unwrap(), None);
    }
}
