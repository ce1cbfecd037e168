//! The validation of a definition and a group: keys, types, rules, options and audiences,
//! each broken rule named by its field path.

use super::*;

/// `^[a-z][a-z0-9_]{0,39}$`: field and group keys end up in attribute names and index keys.
pub fn is_valid_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && key.len() <= KEY_MAX
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `^[a-z0-9][a-z0-9_-]{0,39}$`: option ids are stored in values and index keys.
pub fn is_valid_option_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && id.len() <= OPTION_ID_MAX
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl NewFieldDefinition {
    /// Validates a new field of `self.entity`. `fields` and `groups` are the tenant's existing
    /// definitions (any entity; only the same entity's count): the key must be new, the group
    /// must exist, the entity must have room.
    pub fn validate(
        self,
        fields: &[FieldDefinition],
        groups: &[FieldGroup],
    ) -> Result<FieldDefinition, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let siblings: Vec<&FieldDefinition> =
            fields.iter().filter(|f| f.entity == self.entity).collect();
        if siblings.iter().any(|f| f.key == self.key) {
            e.push("key", "unique", "a field with this key exists already");
        }
        if siblings.len() >= MAX_FIELDS_PER_ENTITY {
            e.push(
                "entity",
                "max_items",
                format!("at most {MAX_FIELDS_PER_ENTITY} custom fields per entity"),
            );
        }
        let order = self
            .order
            .unwrap_or_else(|| after_last(siblings.iter().map(|f| f.order)));
        self.build(e, order, 1, &[], groups)
    }

    /// Validates a change of `old`: the key and entity stay; options keep their ids (options
    /// given without an id get new ones that no old option had). Whether stored values survive
    /// the change is [`super::assess_change`]'s question.
    pub fn validate_change(
        self,
        old: &FieldDefinition,
        groups: &[FieldGroup],
    ) -> Result<FieldDefinition, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        if self.key != old.key {
            e.push("key", "immutable", "a field's key cannot change");
        }
        if self.entity != old.entity {
            e.push("entity", "immutable", "a field's entity cannot change");
        }
        let order = self.order.unwrap_or(old.order);
        let old_options = old.field_type.options().to_vec();
        self.build(e, order, old.version + 1, &old_options, groups)
    }

    fn build(
        self,
        mut e: FieldErrors,
        order: u32,
        version: u64,
        old_options: &[SelectOption],
        groups: &[FieldGroup],
    ) -> Result<FieldDefinition, Vec<FieldError>> {
        if !is_valid_key(&self.key) {
            e.push(
                "key",
                "format",
                format!(
                    "must start with a lower-case letter and hold only a-z, 0-9 and _, at most {KEY_MAX} characters"
                ),
            );
        }
        let label = e.required_text("label", &self.label, LABEL_MAX);
        let help_text = self
            .help_text
            .as_deref()
            .and_then(|h| e.text_of("help_text", h, HELP_TEXT_MAX));
        let mut field_type = self.field_type;
        validate_field_type(&mut e, &mut field_type, old_options);
        let group = self
            .group
            .map(|g| g.trim().to_string())
            .filter(|g| !g.is_empty());
        if let Some(g) = &group {
            if !groups
                .iter()
                .any(|x| x.entity == self.entity && &x.key == g)
            {
                e.push(
                    "group",
                    "unknown_group",
                    "no group with this key for this entity",
                );
            }
        }
        let visibility = validate_visibility(&mut e, self.visibility);
        // The default is checked only against a type that is valid itself.
        let default = match (&self.default, e.is_empty()) {
            (Some(raw), true) => match validate_type(&field_type, raw, "default", None) {
                Ok(v) => v,
                Err(errs) => {
                    e.extend(errs);
                    None
                }
            },
            _ => None,
        };
        if !e.is_empty() {
            return Err(e.into_vec());
        }
        Ok(FieldDefinition {
            key: self.key,
            entity: self.entity,
            label,
            field_type,
            help_text,
            required: self.required,
            default,
            order,
            group,
            visibility,
            archived: self.archived,
            version,
        })
    }
}

fn validate_visibility(e: &mut FieldErrors, v: FieldVisibility) -> FieldVisibility {
    match v {
        FieldVisibility::All => FieldVisibility::All,
        FieldVisibility::Restricted { teams, roles } => {
            let teams: Vec<Uuid> = teams
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let mut unique_roles = Vec::new();
            for r in roles {
                if !unique_roles.contains(&r) {
                    unique_roles.push(r);
                }
            }
            if teams.is_empty() && unique_roles.is_empty() {
                e.push(
                    "visibility",
                    "required",
                    "a restricted field names at least one team or role",
                );
            }
            if teams.len() + unique_roles.len() > MAX_AUDIENCE {
                e.push(
                    "visibility",
                    "max_items",
                    format!("at most {MAX_AUDIENCE} teams and roles"),
                );
            }
            FieldVisibility::Restricted {
                teams,
                roles: unique_roles,
            }
        }
    }
}

/// Checks the type's own rules and normalises them (currency codes upper-cased, option
/// labels trimmed, missing option ids generated).
fn validate_field_type(e: &mut FieldErrors, ty: &mut FieldType, old_options: &[SelectOption]) {
    match ty {
        FieldType::Text {
            min_length,
            max_length,
            regex,
        } => {
            e.range("type.min_length", *min_length, *max_length);
            e.at_most("type.max_length", *max_length, TEXT_MAX as u32);
            if *max_length == Some(0) {
                e.push("type.max_length", "min", "must be at least 1");
            }
            if let Some(pattern) = regex {
                validate_regex(e, pattern);
            }
        }
        FieldType::LongText { max_length } => {
            e.at_most("type.max_length", *max_length, LONG_TEXT_MAX as u32);
            if *max_length == Some(0) {
                e.push("type.max_length", "min", "must be at least 1");
            }
        }
        FieldType::Integer { min, max } => {
            e.range("type.min", *min, *max);
            for (field, bound) in [("type.min", *min), ("type.max", *max)] {
                if bound.is_some_and(|b| b.unsigned_abs() > INTEGER_MAX.unsigned_abs()) {
                    e.push(field, "max", format!("must be within ±{INTEGER_MAX}"));
                }
            }
        }
        FieldType::Decimal { min, max, scale } => {
            e.at_most("type.scale", *scale, MAX_DECIMAL_SCALE);
            e.range("type.min", *min, *max);
            let scale = scale.unwrap_or(MAX_DECIMAL_SCALE).min(MAX_DECIMAL_SCALE);
            bound_scale(e, "type.min", *min, scale);
            bound_scale(e, "type.max", *max, scale);
        }
        FieldType::Currency {
            currencies,
            min,
            max,
        } => {
            e.range("type.min", *min, *max);
            if let Some(list) = currencies {
                validate_currencies(e, list);
            }
            // Bounds are amounts: no currency has more than three minor digits.
            bound_scale(e, "type.min", *min, 3);
            bound_scale(e, "type.max", *max, 3);
        }
        FieldType::Date { min, max } => date_bounds(e, *min, *max),
        FieldType::DateTime { min, max } => date_bounds(e, *min, *max),
        FieldType::Select { .. } | FieldType::MultiSelect { .. } => {
            validate_options(e, ty, old_options);
            if let FieldType::MultiSelect {
                options,
                min_items,
                max_items,
            } = ty
            {
                e.range("type.min_items", *min_items, *max_items);
                e.at_most("type.max_items", *max_items, MAX_MULTI_ITEMS as u32);
                let active = options.iter().filter(|o| !o.archived).count() as u32;
                if min_items.is_some_and(|m| m > active) {
                    e.push(
                        "type.min_items",
                        "max",
                        format!("must be at most the {active} options that can be chosen"),
                    );
                }
            }
        }
        FieldType::Phone { default_country } => {
            if let Some(c) = default_country
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
            {
                match validate_country(c) {
                    Some(code) => *default_country = Some(code),
                    None => e.push(
                        "type.default_country",
                        "iso_3166",
                        "must be an ISO 3166-1 alpha-2 country code",
                    ),
                }
            } else {
                *default_country = None;
            }
        }
        FieldType::Boolean
        | FieldType::Email
        | FieldType::Url
        | FieldType::UserRef
        | FieldType::ContactRef
        | FieldType::ClientRef => {}
    }
}

/// Date bounds: in order, and within the years a value may have.
fn date_bounds<D: Datelike + PartialOrd + std::fmt::Display + Copy>(
    e: &mut FieldErrors,
    min: Option<D>,
    max: Option<D>,
) {
    e.range("type.min", min, max);
    for (field, bound) in [("type.min", min), ("type.max", max)] {
        if bound.is_some_and(|d| !(MIN_YEAR..=MAX_YEAR).contains(&d.year())) {
            let years = format!("must lie in the years {MIN_YEAR} to {MAX_YEAR}");
            e.push(field, "max", years);
        }
    }
}

fn bound_scale(e: &mut FieldErrors, field: &str, bound: Option<Exact>, scale: u32) {
    if bound.is_some_and(|b| b.fit_scale(scale).is_none()) {
        e.push(
            field,
            "scale",
            format!("must have at most {scale} decimal places"),
        );
    }
}

fn validate_regex(e: &mut FieldErrors, pattern: &str) {
    if pattern.chars().count() > REGEX_MAX {
        e.push(
            "type.regex",
            "max_length",
            format!("must be at most {REGEX_MAX} characters"),
        );
    } else if let Err(err) = super::super::value::compile_pattern(pattern) {
        e.push(
            "type.regex",
            "pattern",
            format!("is not a valid regular expression: {err}"),
        );
    }
}

fn validate_currencies(e: &mut FieldErrors, list: &mut [String]) {
    if list.is_empty() {
        e.push(
            "type.currencies",
            "required",
            "list at least one currency, or leave it out to allow all",
        );
    }
    if list.len() > MAX_CURRENCIES {
        e.push(
            "type.currencies",
            "max_items",
            format!("at most {MAX_CURRENCIES} currencies"),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, code) in list.iter_mut().enumerate() {
        *code = code.trim().to_ascii_uppercase();
        if crate::values::currency::minor_digits(code).is_none() {
            e.push(
                format!("type.currencies[{i}]"),
                "currency",
                "must be an ISO 4217 currency code like EUR",
            );
        } else if !seen.insert(code.clone()) {
            e.push(
                format!("type.currencies[{i}]"),
                "unique",
                "the currency is listed twice",
            );
        }
    }
}

fn validate_options(e: &mut FieldErrors, ty: &mut FieldType, old_options: &[SelectOption]) {
    let Some(options) = ty.options_mut() else {
        return;
    };
    if options.is_empty() {
        e.push("type.options", "required", "list at least one option");
    }
    if options.len() > MAX_OPTIONS {
        e.push(
            "type.options",
            "max_items",
            format!("at most {MAX_OPTIONS} options"),
        );
    }
    let mut labels = BTreeSet::new();
    for (i, option) in options.iter_mut().enumerate() {
        let field = format!("type.options[{i}].label");
        option.label = e.required_text(&field, &option.label, OPTION_LABEL_MAX);
        if !option.label.is_empty() && !labels.insert(crate::values::search::fold(&option.label)) {
            e.push(field, "unique", "two options have this label");
        }
        option.id = option.id.trim().to_string();
        if !option.id.is_empty() && !is_valid_option_id(&option.id) {
            e.push(
                format!("type.options[{i}].id"),
                "format",
                format!("must be a-z, 0-9, _ and -, starting with a letter or digit, at most {OPTION_ID_MAX} characters"),
            );
        }
    }
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for (i, option) in options.iter().enumerate() {
        if !option.id.is_empty() && !ids.insert(option.id.clone()) {
            e.push(
                format!("type.options[{i}].id"),
                "unique",
                "two options have this id",
            );
        }
    }
    // New ids avoid every id the field ever had here, so no stored value can be misread.
    let mut taken: BTreeSet<String> = ids;
    taken.extend(old_options.iter().map(|o| o.id.clone()));
    for option in options.iter_mut().filter(|o| o.id.is_empty()) {
        option.id = generate_option_id(&option.label, &taken);
        taken.insert(option.id.clone());
    }
}

/// An option id made from its label: folded, words joined by `_`, cut to fit, made unique
/// with `_2`, `_3`, …; `option` when the label has no ASCII letters or digits.
pub fn generate_option_id(label: &str, taken: &BTreeSet<String>) -> String {
    let folded = crate::values::search::fold(label);
    let mut base: String = folded
        .split(' ')
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    base.truncate(OPTION_ID_MAX - 4);
    let base = base.trim_end_matches('_').to_string();
    let base = if base.is_empty() {
        "option".to_string()
    } else {
        base
    };
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|id| !taken.contains(id))
        .expect("an unused suffix exists")
}

impl NewFieldGroup {
    /// Validates a new group; `groups` are the tenant's existing groups (any entity).
    pub fn validate(self, groups: &[FieldGroup]) -> Result<FieldGroup, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let siblings: Vec<&FieldGroup> =
            groups.iter().filter(|g| g.entity == self.entity).collect();
        if !is_valid_key(&self.key) {
            e.push(
                "key",
                "format",
                format!("must start with a lower-case letter and hold only a-z, 0-9 and _, at most {KEY_MAX} characters"),
            );
        }
        if siblings.iter().any(|g| g.key == self.key) {
            e.push("key", "unique", "a group with this key exists already");
        }
        if siblings.len() >= MAX_GROUPS_PER_ENTITY {
            e.push(
                "entity",
                "max_items",
                format!("at most {MAX_GROUPS_PER_ENTITY} groups per entity"),
            );
        }
        let label = e.required_text("label", &self.label, LABEL_MAX);
        let teams: Vec<Uuid> = self
            .teams
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if teams.len() > MAX_AUDIENCE {
            e.push(
                "teams",
                "max_items",
                format!("at most {MAX_AUDIENCE} teams"),
            );
        }
        let order = self
            .order
            .unwrap_or_else(|| after_last(siblings.iter().map(|g| g.order)));
        if !e.is_empty() {
            return Err(e.into_vec());
        }
        Ok(FieldGroup {
            key: self.key,
            entity: self.entity,
            label,
            order,
            teams,
        })
    }
}
