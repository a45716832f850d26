//! How a registered model's requests are served: rolling production back to the version that was there before,
//! sharing requests among versions by weight (A/B), and a shadow version that scores the same requests without
//! answering them. Endpoints serving from the registry read these and follow them while they run.

use std::collections::BTreeMap;

use rusqlite::params;

use crate::{Stage, Store, StoreError};

/// How a model's requests are shared among its versions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    /// Versions and their weights; empty: every request goes to the version the endpoint follows.
    pub split: Vec<(i64, f64)>,
    /// The version that scores every request in the shadow: its answers are recorded, not returned.
    pub shadow: Option<i64>,
}

/// What a rollback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollback {
    /// The version that was in production (now in staging), if one was.
    pub from: Option<i64>,
    /// The version back in production.
    pub to: i64,
}

impl Store {
    fn versions_of(&self, name: &str) -> Result<Vec<crate::ModelVersion>, StoreError> {
        let versions: Vec<_> = self.models()?.into_iter().filter(|v| v.name == name).collect();
        if versions.is_empty() {
            return Err(StoreError::Invalid(format!(
                "no model `{name}` is registered: `pipewright models list` lists them"
            )));
        }
        Ok(versions)
    }

    /// Puts back in production the version that was there before the current one (which moves to staging).
    /// Refused when no other version of the model has been in production.
    pub fn rollback(&self, name: &str) -> Result<Rollback, StoreError> {
        let versions = self.versions_of(name)?;
        let current = versions.iter().find(|v| v.stage == Stage::Production).map(|v| v.version);
        let previous: Option<i64> = self
            .connection()
            .query_row(
                "SELECT models.version FROM model_stage_changes JOIN models ON models.id = model_stage_changes.model_id
                 WHERE models.name = ?1 AND model_stage_changes.stage = 'production' AND models.version IS NOT ?2
                 ORDER BY model_stage_changes.changed_at DESC, model_stage_changes.rowid DESC LIMIT 1",
                params![name, current],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
        let Some(to) = previous else {
            return Err(StoreError::Invalid(match current {
                Some(v) => {
                    format!("`{name}` has had no version in production but {v}: there is nothing to roll back to")
                }
                None => format!("`{name}` has never had a version in production: there is nothing to roll back to"),
            }));
        };
        self.set_stage(name, to, Stage::Production)?;
        Ok(Rollback { from: current, to })
    }

    /// How each model's requests are shared, by model name (models without a split or shadow are left out).
    pub fn all_traffic(&self) -> Result<BTreeMap<String, Traffic>, StoreError> {
        let conn = self.connection();
        let mut statement =
            conn.prepare("SELECT name, version, weight, shadow FROM model_traffic ORDER BY name, version")?;
        let rows = statement.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, f64>(2)?, r.get::<_, bool>(3)?))
        })?;
        let mut traffic: BTreeMap<String, Traffic> = BTreeMap::new();
        for row in rows {
            let (name, version, weight, shadow) = row?;
            let entry = traffic.entry(name).or_default();
            if shadow {
                entry.shadow = Some(version);
            } else {
                entry.split.push((version, weight));
            }
        }
        Ok(traffic)
    }

    /// How a model's requests are shared.
    pub fn traffic(&self, name: &str) -> Result<Traffic, StoreError> {
        Ok(self.all_traffic()?.remove(name).unwrap_or_default())
    }

    /// Shares a model's requests among versions by weight (any positive numbers: 90 and 10, or 0.9 and 0.1);
    /// an empty split sends every request to the version the endpoint follows again.
    pub fn set_split(&self, name: &str, split: &[(i64, f64)]) -> Result<(), StoreError> {
        let versions = self.versions_of(name)?;
        let shadow = self.traffic(name)?.shadow;
        for &(version, weight) in split {
            if !versions.iter().any(|v| v.version == version) {
                return Err(StoreError::Invalid(format!(
                    "`{name}` has no version {version}; its versions: {}",
                    versions.iter().map(|v| v.version.to_string()).collect::<Vec<_>>().join(", ")
                )));
            }
            if !(weight.is_finite() && weight > 0.0) {
                return Err(StoreError::Invalid(format!(
                    "version {version} has weight {weight}: give each version a positive weight"
                )));
            }
            if shadow == Some(version) {
                return Err(StoreError::Invalid(format!(
                    "version {version} scores `{name}`'s requests in the shadow: turn the shadow off first"
                )));
            }
        }
        if split.len() == 1 {
            return Err(StoreError::Invalid(
                "a split shares requests among two versions or more: name each with its weight, as 3=90 4=10".into(),
            ));
        }
        let mut conn = self.connection();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM model_traffic WHERE name = ?1 AND shadow = 0", [name])?;
        for &(version, weight) in split {
            tx.execute(
                "INSERT INTO model_traffic (name, version, weight, shadow) VALUES (?1, ?2, ?3, 0)",
                params![name, version, weight],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets (or, with `None`, removes) the version that scores a model's requests in the shadow.
    pub fn set_shadow(&self, name: &str, version: Option<i64>) -> Result<(), StoreError> {
        let versions = self.versions_of(name)?;
        if let Some(version) = version {
            if !versions.iter().any(|v| v.version == version) {
                return Err(StoreError::Invalid(format!(
                    "`{name}` has no version {version}; its versions: {}",
                    versions.iter().map(|v| v.version.to_string()).collect::<Vec<_>>().join(", ")
                )));
            }
            if self.traffic(name)?.split.iter().any(|&(v, _)| v == version) {
                return Err(StoreError::Invalid(format!(
                    "version {version} takes a share of `{name}`'s requests: a shadow scores requests another \
                     version answers (clear the split first)"
                )));
            }
        }
        let mut conn = self.connection();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM model_traffic WHERE name = ?1 AND shadow = 1", [name])?;
        if let Some(version) = version {
            tx.execute(
                "INSERT INTO model_traffic (name, version, weight, shadow) VALUES (?1, ?2, 0, 1)",
                params![name, version],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The bytes of a version's model package, checked against their hash; `None` when the version was
    /// registered before packages were kept.
    pub fn model_package(&self, version: &crate::ModelVersion) -> Result<Option<Vec<u8>>, StoreError> {
        version.package.as_deref().map(|hash| self.read_artifact(hash)).transpose()
    }
}
