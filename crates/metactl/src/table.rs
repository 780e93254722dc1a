//! Left-aligned text tables separated by two spaces, with a titled header like `influxd-ctl`'s.

use std::fmt::Write;

/// A table being built.
pub(crate) struct Table {
    title: &'static str,
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(title: &'static str, header: &[&'static str]) -> Self {
        Table { title, header: header.to_vec(), rows: Vec::new() }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders the title, an underline, the header and the rows with aligned columns.
    pub(crate) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(i) {
                    *width = (*width).max(cell.chars().count());
                }
            }
        }
        let mut out = String::new();
        let _ = writeln!(out, "{}\n{}", self.title, "=".repeat(self.title.chars().count().max(10)));
        let line = |cells: Vec<&str>| {
            let padded: Vec<String> =
                cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
            padded.join("  ").trim_end().to_owned()
        };
        let _ = writeln!(out, "{}", line(self.header.clone()));
        for row in &self.rows {
            let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_to_the_widest_cell() {
        let mut table = Table::new("Data Nodes", &["ID", "TCP Address"]);
        table.row(vec!["4".into(), "data-1:8088".into()]);
        table.row(vec!["12".into(), "d:1".into()]);
        assert_eq!(table.render(), "Data Nodes\n==========\nID  TCP Address\n4   data-1:8088\n12  d:1\n");
    }
}
