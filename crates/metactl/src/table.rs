//! Text tables like `influxd-ctl`'s: a title, an underline, then left-aligned columns separated by
//! two spaces, without borders (laid out by `comfy-table`).

use comfy_table::presets::NOTHING;
use comfy_table::Table as Layout;

/// A table being built.
pub(crate) struct Table {
    title: &'static str,
    layout: Layout,
}

impl Table {
    pub(crate) fn new(title: &'static str, header: &[&str]) -> Self {
        let mut layout = Layout::new();
        layout.load_preset(NOTHING).set_header(header.to_vec());
        Table { title, layout }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.layout.add_row(cells);
    }

    /// Renders the title, an underline, the header and the rows with aligned columns.
    pub(crate) fn render(mut self) -> String {
        // Cells are padded on the right only: two spaces between columns, none at the line's start.
        for column in self.layout.column_iter_mut() {
            column.set_padding((0, 2));
        }
        let underline = "=".repeat(self.title.chars().count().max(10));
        let mut out = format!("{}\n{underline}\n", self.title);
        for line in self.layout.lines() {
            out.push_str(line.trim_end());
            out.push('\n');
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
