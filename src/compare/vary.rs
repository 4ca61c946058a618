//! Settings sweeps (`--vary FIELD=V1,V2`): one field of a run's settings, named by its path in
//! `settings.ron` (`planner.horizon`, `planner.loss.elite_fraction`, `train.ensemble.patience`),
//! set to each of several values; a grid runs the product of its variations. `evaluate --set
//! FIELD=VALUE` and `train --set FIELD=VALUE` set fields the same way.
//!
//! A field is set on the settings' serde form as JSON (paths are object keys there, and an enum
//! variant is a one-key object, so `planner.loss.elite_fraction` reaches into `Cem(...)`), then
//! read back and range-checked like a settings file. Values are written as in RON; the small
//! RON-value reader below exists because `ron::Value` drops enum variant names.

use anyhow::{Context, anyhow, bail, ensure};
use serde_json::{Map, Value, json};

use crate::config::{PlannerSettings, RunConfig, RunMode, train_settings_problems};

/// One `--vary FIELD=V1,V2,...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variation {
    /// The field's path in `settings.ron`, e.g. `planner.horizon`.
    pub field: String,
    /// Its values as given (RON), in order.
    pub values: Vec<String>,
}

/// One point of a sweep: a value for every variation, in `--vary` order.
pub type Combination = Vec<(String, String)>;

/// Fields a grid decides itself: varying them would not make a sweep.
const FIXED_FIELDS: [(&str, &str); 6] = [
    ("scene", "the grid runs one scene"),
    ("mode", "use --modes"),
    ("model", "use --modes"),
    ("seed", "use --seeds"),
    ("preset", "it only names where the planner settings came from; vary planner fields"),
    ("threads", "results do not depend on it"),
];

/// Parses `FIELD=V1,V2,...`; commas inside parentheses belong to a value
/// (`planner.loss=Cem(elite_fraction:0.1),Mppi(temperature:1.0)`).
pub fn parse_variation(text: &str) -> anyhow::Result<Variation> {
    let usage =
        || format!("--vary must be FIELD=V1,V2,... with FIELD a settings path such as planner.horizon (got `{text}`)");
    let (field, list) = split_field(text, usage)?;
    if let Some((_, why)) = FIXED_FIELDS.iter().find(|(name, _)| *name == field) {
        bail!("--vary {field}: the grid decides `{field}` ({why})");
    }
    let values = split_top_level(list);
    if values.iter().any(String::is_empty) {
        bail!(usage());
    }
    for value in &values {
        // The values name the run folders.
        if let Some(c) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || "._-+:()".contains(*c))) {
            bail!("--vary {field}: value `{value}` holds `{c}`; values may use letters, digits and . _ - + : ( )");
        }
    }
    let mut unique = values.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != values.len() {
        bail!("--vary {field}: a value is listed twice in `{list}`");
    }
    Ok(Variation { field: field.to_string(), values })
}

/// Whether `mode` uses `field`: the planner's fields matter only to modes that plan, SAC's to
/// modes that train SAC, the model's (and the learned-model planner's schedule and caution) to
/// modes that learn one, the critic's start in plans to DeMoRL. A mode a variation does not
/// apply to runs once per seed, as a baseline, instead of once per value.
pub fn applies_to(field: &str, mode: RunMode) -> bool {
    let under = |section: &str| field == section || field.starts_with(&format!("{section}."));
    if under("planner") {
        mode.plans()
    } else if under("train.model_data") || under("train.terminal_value_start") {
        mode.plans_with_actor()
    } else if under("train.sac") || under("train.updates_per_step") {
        mode.trains_sac()
    } else if ["train.ensemble", "train.model_train_every", "train.planner_start", "train.fall_caution"]
        .iter()
        .any(|section| under(section))
    {
        mode.learns_model()
    } else {
        true
    }
}

/// Splits at commas outside parentheses, trimming each piece.
fn split_top_level(list: &str) -> Vec<String> {
    let (mut pieces, mut current, mut depth) = (Vec::new(), String::new(), 0i32);
    for c in list.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                pieces.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    pieces.push(current.trim().to_string());
    pieces
}

/// Every combination of the variations' values, the first variation outermost; one empty
/// combination when there are none.
pub fn combinations(variations: &[Variation]) -> Vec<Combination> {
    variations.iter().fold(vec![Vec::new()], |acc, variation| {
        acc.iter()
            .flat_map(|combo| {
                variation.values.iter().map(move |value| {
                    let mut next = combo.clone();
                    next.push((variation.field.clone(), value.clone()));
                    next
                })
            })
            .collect()
    })
}

/// `planner.horizon=10,planner.loss=Kl`: the folder name and label of a combination.
pub fn combination_name(combination: &[(String, String)]) -> String {
    combination.iter().map(|(field, value)| format!("{field}={value}")).collect::<Vec<_>>().join(",")
}

/// `config` with every field of `combination` set, checked like a settings file.
pub fn apply_combination(config: &RunConfig, combination: &Combination) -> anyhow::Result<RunConfig> {
    apply_fields(config, combination, "--vary")
}

/// `config` with each `(field, value)` set, checked like a settings file; errors start with
/// `option`, the command-line option that asked for the change.
pub fn apply_fields(config: &RunConfig, fields: &[(String, String)], option: &str) -> anyhow::Result<RunConfig> {
    let mut doc = settings_document(config)?;
    set_fields(&mut doc, fields, option, |doc| serde_json::from_value::<RunConfig>(doc.clone()).is_ok())?;
    let changed: RunConfig = serde_json::from_value(doc)
        .map_err(|e| anyhow!("{option} {}: the settings do not take this value: {e}", combination_name(fields)))?;
    let mut problems = train_settings_problems(&changed.train);
    problems.extend(changed.planner.errors().iter().map(ToString::to_string));
    refuse_problems(&problems, fields, option)?;
    Ok(changed)
}

/// `planner` with each `(field, value)` set, the fields named from the settings' top
/// (`planner.horizon`) as everywhere else; callers refuse other fields first, saying why
/// ([`ensure_planner_fields`]).
pub fn apply_planner_fields(
    planner: &PlannerSettings,
    fields: &[(String, String)],
    option: &str,
) -> anyhow::Result<PlannerSettings> {
    let read = |doc: &Value| serde_json::from_value::<PlannerSettings>(doc["planner"].clone());
    let mut doc = json!({ "planner": serde_json::to_value(planner).context("planner settings as a document")? });
    set_fields(&mut doc, fields, option, |doc| read(doc).is_ok())?;
    let changed = read(&doc)
        .map_err(|e| anyhow!("{option} {}: the planner does not take this value: {e}", combination_name(fields)))?;
    let problems: Vec<String> = changed.errors().iter().map(ToString::to_string).collect();
    refuse_problems(&problems, fields, option)?;
    Ok(changed)
}

/// Refuses changed settings that read but break a rule, naming the change and every problem.
fn refuse_problems(problems: &[String], fields: &[(String, String)], option: &str) -> anyhow::Result<()> {
    ensure!(problems.is_empty(), "{option} {}: {}", combination_name(fields), problems.join("; "));
    Ok(())
}

/// Refuses the first field outside `planner.`, with `why` only the planner's fields apply.
pub fn ensure_planner_fields(fields: &[(String, String)], option: &str, why: &str) -> anyhow::Result<()> {
    match fields.iter().find(|(field, _)| !field.starts_with("planner.")) {
        Some((field, _)) => bail!("{option} {field}: {why}"),
        None => Ok(()),
    }
}

/// Sets each `(field, value)` in `doc`. `None` is an absent option, or a variant of that name
/// (`terminal_value: None`): whether `doc` still `reads` with an absent option says which.
fn set_fields(
    doc: &mut Value,
    fields: &[(String, String)],
    option: &str,
    reads: impl Fn(&Value) -> bool,
) -> anyhow::Result<()> {
    for (field, value) in fields {
        let parsed = parse_value(value).with_context(|| format!("{option} {field}: `{value}` is not a RON value"))?;
        let is_none = parsed.is_null();
        *field_slot(doc, field, option)? = parsed;
        if is_none && !reads(doc) {
            *field_slot(doc, field, option)? = Value::String("None".into());
        }
    }
    Ok(())
}

/// Parses one `FIELD=VALUE` of `option` (`--set`): a settings path and one RON value.
pub fn parse_assignment(text: &str, option: &str) -> anyhow::Result<(String, String)> {
    let usage =
        || format!("{option} must be FIELD=VALUE with FIELD a settings path such as planner.horizon (got `{text}`)");
    let (field, value) = split_field(text, usage)?;
    let value = value.trim();
    if value.is_empty() {
        bail!(usage());
    }
    Ok((field.to_string(), value.to_string()))
}

/// Splits `FIELD=REST` at the first `=`, refusing with `usage` a missing `=` or a field that is
/// not a dotted path; the field comes back trimmed, the rest as written.
fn split_field(text: &str, usage: impl Fn() -> String) -> anyhow::Result<(&str, &str)> {
    let (field, rest) = text.split_once('=').with_context(&usage)?;
    let field = field.trim();
    if field.is_empty() || field.split('.').any(str::is_empty) {
        bail!(usage());
    }
    Ok((field, rest))
}

/// `config` as a JSON document, refusing the (never seen) case where the round trip would change
/// a value the sweep does not touch.
fn settings_document(config: &RunConfig) -> anyhow::Result<Value> {
    let doc = serde_json::to_value(config).context("settings as a document")?;
    let back: RunConfig = serde_json::from_value(doc.clone()).context("settings from a document")?;
    if &back != config {
        bail!(
            "these settings do not survive a round trip through the sweep's document form; edit a settings file instead"
        );
    }
    Ok(doc)
}

/// The value at `path` in `doc`, stepping into an enum variant's fields when the path names one.
fn field_slot<'a>(doc: &'a mut Value, path: &str, option: &str) -> anyhow::Result<&'a mut Value> {
    let mut node = doc;
    let mut walked = String::new();
    for key in path.split('.') {
        let here = if walked.is_empty() { "the settings".to_string() } else { format!("`{walked}`") };
        node = step_into_variant(node, key);
        let Value::Object(map) = node else {
            bail!("{option} {path}: {here} is a value, not a section: it has no field `{key}`");
        };
        if !map.contains_key(key) {
            bail!("{option} {path}: {here} has no field `{key}` (it has: {})", field_names(map));
        }
        node = map.get_mut(key).expect("checked above");
        walked = if walked.is_empty() { key.to_string() } else { format!("{walked}.{key}") };
    }
    // A struct is a section; an enum variant with fields (one capitalised key) is a value.
    if let Value::Object(map) = &*node
        && map.keys().any(|k| k.starts_with(|c: char| c.is_ascii_lowercase()))
    {
        bail!("{option} {path}: `{path}` is a section; vary one of its fields: {}", field_names(map));
    }
    Ok(node)
}

/// An enum variant with fields is a one-key object `{"Cem": {...}}`; a path that does not name
/// the variant continues inside it.
fn step_into_variant<'a>(node: &'a mut Value, key: &str) -> &'a mut Value {
    let is_variant = match &*node {
        Value::Object(map) => {
            map.len() == 1 && map.keys().all(|k| k != key && k.starts_with(|c: char| c.is_ascii_uppercase()))
        }
        _ => false,
    };
    if !is_variant {
        return node;
    }
    match node {
        Value::Object(map) => map.values_mut().next().expect("one entry"),
        other => other,
    }
}

fn field_names(map: &Map<String, Value>) -> String {
    map.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// A RON value as serde's JSON form: numbers, `true`/`false`, `None`, quoted strings, a unit
/// variant `Kl`, a variant with fields `Cem(elite_fraction: 0.1)` or a tuple variant `Some(3)`.
pub fn parse_value(text: &str) -> anyhow::Result<Value> {
    let text = text.trim();
    if text == "None" {
        return Ok(Value::Null);
    }
    if let Ok(value) = serde_json::from_str::<Value>(text)
        && !value.is_object()
        && !value.is_array()
    {
        return Ok(value);
    }
    let (name, inner) = match text.split_once('(') {
        Some((name, rest)) => {
            let inner = rest.strip_suffix(')').with_context(|| format!("`{text}` lacks its closing `)`"))?;
            (name.trim(), Some(inner))
        }
        None => (text, None),
    };
    let mut fields = inner.map(split_top_level).unwrap_or_default();
    fields.retain(|f| !f.is_empty());
    // `key: value` with a plain field name (a nested `(a: 1)` is one value, not a field).
    let is_field = |f: &String| f.split_once(':').is_some_and(|(key, _)| is_identifier(key.trim()));
    let is_struct = fields.iter().all(is_field);
    // A bare struct `(field: value, ...)`, or `()` for one with every field at its default.
    if name.is_empty() && inner.is_some() && is_struct {
        return struct_value(&fields);
    }
    if !is_identifier(name) {
        bail!("`{text}` is neither a number, a boolean, a string nor a variant name");
    }
    if inner.is_none() {
        return Ok(Value::String(name.to_string()));
    }
    let content = if is_struct && !fields.is_empty() {
        struct_value(&fields)?
    } else if let [single] = fields.as_slice() {
        parse_value(single)?
    } else {
        bail!("`{text}`: write a variant as Name(field: value, ...) or Name(value)");
    };
    // `Some(x)` is the option's value itself in serde's data model.
    Ok(if name == "Some" { content } else { Value::Object(Map::from_iter([(name.to_string(), content)])) })
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The fields `key: value` of a struct as serde's JSON object.
fn struct_value(fields: &[String]) -> anyhow::Result<Value> {
    let mut map = Map::new();
    for field in fields {
        let (key, value) = field.split_once(':').expect("a struct's fields have a colon");
        map.insert(key.trim().to_string(), parse_value(value)?);
    }
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TerminalChoice;

    #[test]
    fn values_read_as_serde_reads_ron() {
        assert_eq!(parse_value("12").unwrap(), serde_json::json!(12));
        assert_eq!(parse_value("-0.5").unwrap(), serde_json::json!(-0.5));
        assert_eq!(parse_value("true").unwrap(), serde_json::json!(true));
        assert_eq!(parse_value("None").unwrap(), Value::Null);
        assert_eq!(parse_value("Kl").unwrap(), serde_json::json!("Kl"));
        assert_eq!(parse_value("Some(3)").unwrap(), serde_json::json!(3));
        assert_eq!(
            parse_value("Cem(elite_fraction: 0.1)").unwrap(),
            serde_json::json!({"Cem": {"elite_fraction": 0.1}})
        );
        assert!(parse_value("Cem(elite_fraction: 0.1").is_err());
        // An option holding a struct: `Some((field: value))`, or `Some(())` for its defaults.
        assert_eq!(parse_value("Some((max_penalty: 2.5))").unwrap(), serde_json::json!({"max_penalty": 2.5}));
        assert_eq!(parse_value("Some(())").unwrap(), serde_json::json!({}));
        assert!(parse_value("(1, 2)").is_err());
        assert!(parse_value("a b").is_err());
    }

    /// `None` means whichever the field takes: the variant `TerminalChoice::None`, or an absent option.
    #[test]
    fn none_sets_a_variant_of_that_name_or_empties_an_option() {
        let config = RunConfig {
            scene: "scenes/pendulum.ron".into(),
            mode: RunMode::Demorl,
            preset: "reference".into(),
            seed: 1,
            steps: 100,
            threads: 1,
            train: crate::config::TrainSettings { eval_world: Some("heavy".into()), ..Default::default() },
            planner: crate::config::preset("reference").unwrap(),
        };
        assert_ne!(config.planner.terminal_value, TerminalChoice::None);
        let set = |field: &str| apply_fields(&config, &[(field.to_string(), "None".to_string())], "--set").unwrap();
        assert_eq!(set("planner.terminal_value").planner.terminal_value, TerminalChoice::None);
        assert_eq!(set("train.eval_world").train.eval_world, None);
        let error = apply_fields(&config, &[("planner.horizon".into(), "None".into())], "--set").unwrap_err();
        assert!(error.to_string().starts_with("--set planner.horizon"), "{error}");
    }

    #[test]
    fn a_list_splits_at_top_level_commas_only() {
        let v = parse_variation("planner.loss=Cem(elite_fraction:0.1),Mppi(temperature:1.0)").unwrap();
        assert_eq!(v.values, ["Cem(elite_fraction:0.1)", "Mppi(temperature:1.0)"]);
        assert!(parse_variation("planner.horizon=10,10").is_err());
        assert!(parse_variation("planner.horizon").is_err());
        assert!(parse_variation("seed=1,2").unwrap_err().to_string().contains("--seeds"));
        assert!(parse_variation("planner.horizon=1/2").is_err());
    }

    #[test]
    fn a_variation_applies_to_the_modes_that_use_its_field() {
        assert!(applies_to("planner.horizon", RunMode::Demorl));
        assert!(!applies_to("planner.horizon", RunMode::Sac));
        assert!(!applies_to("train.sac.batch_size", RunMode::MpcLearned));
        assert!(applies_to("train.sac.batch_size", RunMode::Sac));
        assert!(!applies_to("train.ensemble.patience", RunMode::Sac));
        assert!(!applies_to("train.model_data.per_step", RunMode::MpcLearned));
        assert!(applies_to("train.eval_episodes", RunMode::Sac));
        assert!(!applies_to("train.fall_caution.start_penalty", RunMode::Sac));
        assert!(applies_to("train.fall_caution.start_penalty", RunMode::MpcLearned));
        assert!(!applies_to("train.planner_start", RunMode::Sac));
        assert!(applies_to("train.planner_start", RunMode::Demorl));
        assert!(!applies_to("train.terminal_value_start", RunMode::MpcLearned));
        assert!(applies_to("train.terminal_value_start", RunMode::Demorl));
        assert!(applies_to("steps", RunMode::Sac));
    }

    #[test]
    fn combinations_are_the_product_first_variation_outermost() {
        let a = Variation { field: "a".into(), values: vec!["1".into(), "2".into()] };
        let b = Variation { field: "b".into(), values: vec!["x".into(), "y".into(), "z".into()] };
        let combos = combinations(&[a, b]);
        assert_eq!(combos.len(), 6);
        assert_eq!(combination_name(&combos[0]), "a=1,b=x");
        assert_eq!(combination_name(&combos[5]), "a=2,b=z");
        assert_eq!(combinations(&[]), vec![Vec::<(String, String)>::new()]);
    }
}
