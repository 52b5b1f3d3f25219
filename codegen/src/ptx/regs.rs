//! Register naming and the instruction buffer of one kernel entry. PTX registers are virtual (ptxas
//! allocates the hardware ones), so every value gets a fresh register of its class and the entry declares
//! each class once, as `.reg .f32 %f<N>;`.

use std::fmt::Write;

use super::types::Class;

#[derive(Default)]
pub(super) struct Asm {
    body: String,
    counts: [u32; Class::ALL.len()],
    labels: u32,
}

fn slot(c: Class) -> usize {
    Class::ALL.iter().position(|&x| x == c).expect("every class is listed")
}

impl Asm {
    /// A fresh register of class `c`.
    pub fn reg(&mut self, c: Class) -> String {
        let n = &mut self.counts[slot(c)];
        *n += 1;
        format!("{}{}", c.prefix(), *n)
    }

    /// A fresh label with a readable suffix.
    pub fn label(&mut self, what: &str) -> String {
        self.labels += 1;
        format!("$L{}_{what}", self.labels)
    }

    /// One instruction (without its `;`).
    pub fn ins(&mut self, text: impl AsRef<str>) {
        let _ = writeln!(self.body, "\t{};", text.as_ref());
    }

    pub fn place(&mut self, label: &str) {
        let _ = writeln!(self.body, "{label}:");
    }

    /// A comment line; long ones are cut (they name kernel-IR statements, which can be large).
    pub fn comment(&mut self, text: &str) {
        const MAX: usize = 110;
        let one_line = text.replace('\n', " ");
        let cut: String = one_line.chars().take(MAX).collect();
        let more = if one_line.chars().count() > MAX { " ..." } else { "" };
        let _ = writeln!(self.body, "\t// {cut}{more}");
    }

    /// A raw line (declarations inside the entry).
    pub fn line(&mut self, text: impl AsRef<str>) {
        let _ = writeln!(self.body, "{}", text.as_ref());
    }

    /// The `.reg` declarations for every register handed out, then the instructions.
    pub fn finish(self) -> String {
        let mut out = String::new();
        for c in Class::ALL {
            let n = self.counts[slot(c)];
            if n > 0 {
                let _ = writeln!(out, "\t.reg {} {}<{}>;", c.reg_type(), c.prefix(), n + 1);
            }
        }
        out.push_str(&self.body);
        out
    }
}
