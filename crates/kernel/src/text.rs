//! Bounded user text: trimmed, length-limited in characters, no control
//! characters other than newlines and tabs in long text.

pub fn required(value: &str, min: usize, max: usize, label: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(format!("{label}不能为空"));
    }
    check(v, min, max, label, false)
}

pub fn multiline(value: &str, min: usize, max: usize, label: &str) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() && min > 0 {
        return Err(format!("{label}不能为空"));
    }
    check(v, min, max, label, true)
}

pub fn optional(value: Option<&str>, max: usize, label: &str) -> Result<Option<String>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => check(v, 0, max, label, false).map(Some),
    }
}

fn check(v: &str, min: usize, max: usize, label: &str, newlines: bool) -> Result<String, String> {
    let n = v.chars().count();
    if n < min {
        return Err(format!("{label}至少 {min} 个字"));
    }
    if n > max {
        return Err(format!("{label}不能超过 {max} 个字"));
    }
    if v.chars()
        .any(|c| c.is_control() && !(newlines && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(format!("{label}含有不允许的控制字符"));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(required("  漏水 ", 1, 10, "标题").unwrap(), "漏水");
        assert_eq!(required("", 1, 10, "标题").unwrap_err(), "标题不能为空");
        assert!(required(&"字".repeat(11), 1, 10, "标题").is_err());
        assert!(required("a\u{0}b", 1, 10, "标题").is_err());
        assert!(multiline("a\nb", 0, 10, "描述").is_ok());
        assert_eq!(optional(Some("  "), 5, "位置").unwrap(), None);
    }
}
