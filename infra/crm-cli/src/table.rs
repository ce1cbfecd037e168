//! Plain-text tables: columns as wide as their widest cell, two spaces apart, the last one
//! unpadded (it may run on: a reason, a file name).

pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::from("  ");
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up_on_their_widest_cell() {
        let text = super::render(
            &["COLUMN", "TARGET", "WHY"],
            &[
                vec!["E-Mail".into(), "email".into(), "a name of it".into()],
                vec!["Straße".into(), "-".into(), "no field".into()],
            ],
        );
        assert_eq!(
            text,
            "  COLUMN  TARGET  WHY\n  E-Mail  email   a name of it\n  Straße  -       no field\n"
        );
    }
}
