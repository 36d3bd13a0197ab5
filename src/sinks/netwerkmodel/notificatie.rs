//! A netwerkmodel notification (koppelvlakspecificatie netwerkmodel): a
//! register tells the zorgkantoor that a record changed, and names it; the
//! zorgkantoor then queries the register for the record itself. The
//! notification carries no facts, so a forged or replayed one can at most
//! make the gateway ask again.

use serde::Deserialize;

/// A notification as posted (unknown members are allowed: the network may
/// add some).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notificatie {
    pub timestamp: String,
    #[serde(default)]
    pub afzender_id: Option<String>,
    #[serde(rename = "ontvangerID")]
    pub ontvanger_id: String,
    pub event_type: String,
    pub subject_list: Vec<Subject>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(rename = "recordID")]
    pub record_id: String,
}

/// The record a subject names, by its type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// `WlzIndicatie/{uuid}`: the Indicatieregister.
    WlzIndicatie(String),
    /// `Bemiddelingspecificatie/{uuid}`: the Bemiddelingsregister.
    Bemiddelingspecificatie(String),
}

/// At most this many records per notification (the network sends one or a
/// few; a long list is not a notification).
pub const MAX_SUBJECTS: usize = 100;

fn uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl Notificatie {
    /// Parses and checks a posted notification; the error is for the sender.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let n: Notificatie =
            serde_json::from_slice(body).map_err(|e| format!("not a notification: {e}"))?;
        if n.event_type.is_empty() {
            return Err("eventType is empty".into());
        }
        if n.subject_list.is_empty() || n.subject_list.len() > MAX_SUBJECTS {
            return Err(format!(
                "subjectList must name 1 to {MAX_SUBJECTS} records, not {}",
                n.subject_list.len()
            ));
        }
        chrono::DateTime::parse_from_rfc3339(&n.timestamp)
            .map_err(|_| format!("timestamp `{}` is not an ISO-8601 date-time", n.timestamp))?;
        for s in &n.subject_list {
            s.record()?;
        }
        Ok(n)
    }

    /// A removal: the record is gone from the register.
    pub fn verwijdering(&self) -> bool {
        self.event_type.starts_with("VERWIJDERDE_")
    }
}

impl Subject {
    pub fn record(&self) -> Result<Record, String> {
        let (kind, id) = self
            .record_id
            .split_once('/')
            .ok_or_else(|| format!("recordID `{}` is not Type/uuid", self.record_id))?;
        if !uuid(id) {
            return Err(format!(
                "recordID `{}`: `{id}` is not a UUID",
                self.record_id
            ));
        }
        match kind {
            "WlzIndicatie" => Ok(Record::WlzIndicatie(id.to_ascii_lowercase())),
            "Bemiddelingspecificatie" => Ok(Record::Bemiddelingspecificatie(id.to_ascii_lowercase())),
            other => Err(format!(
                "recordID `{}`: the gateway reads WlzIndicatie and Bemiddelingspecificatie records, not {other}",
                self.record_id
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{
      "timestamp": "2024-07-02T00:00:00Z",
      "afzenderIDType": "UZOVI", "afzenderID": "5050",
      "ontvangerIDType": "UZOVI", "ontvangerID": "5509", "ontvangerKenmerk": null,
      "eventType": "NIEUWE_BEMIDDELINGSPECIFICATIE_ZORGKANTOOR",
      "subjectList": [{"subject": "Bemiddeling/ef88ce35-58fa-4e6d-ac7a-6e298dd211d6",
                       "recordID": "Bemiddelingspecificatie/EF88CE35-58fa-4e6d-ac7a-6e298dd211d7"}]
    }"#;

    #[test]
    fn the_documented_example_names_its_record() {
        let n = Notificatie::parse(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(n.ontvanger_id, "5509");
        assert!(!n.verwijdering());
        assert_eq!(
            n.subject_list[0].record().unwrap(),
            Record::Bemiddelingspecificatie("ef88ce35-58fa-4e6d-ac7a-6e298dd211d7".into())
        );
    }

    #[test]
    fn a_bad_notification_says_what_is_wrong() {
        let e = Notificatie::parse(
            EXAMPLE
                .replace("Bemiddelingspecificatie/", "Overdracht/")
                .as_bytes(),
        )
        .unwrap_err();
        assert!(e.contains("not Overdracht"), "{e}");
        let e = Notificatie::parse(
            EXAMPLE
                .replace("-58fa-4e6d-ac7a-6e298dd211d7", "")
                .as_bytes(),
        )
        .unwrap_err();
        assert!(e.contains("is not a UUID"), "{e}");
        let e = Notificatie::parse(
            EXAMPLE
                .replace("2024-07-02T00:00:00Z", "gisteren")
                .as_bytes(),
        )
        .unwrap_err();
        assert!(e.contains("timestamp"), "{e}");
        assert!(Notificatie::parse(b"{}")
            .unwrap_err()
            .starts_with("not a notification"));
        let empty = r#"{"timestamp":"2024-07-02T00:00:00Z","ontvangerID":"5509","eventType":"X","subjectList":[]}"#;
        assert!(Notificatie::parse(empty.as_bytes())
            .unwrap_err()
            .contains("subjectList"));
    }
}
