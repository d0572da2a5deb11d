//! The guided path: one list item per preset (`crate::settings::presets`), each a link that loads
//! the page with the preset's settings and starts it, the sentence on what to look at, and the
//! step's equation in MathML.

use super::dom;
use super::form::escape;
use crate::settings::presets::PRESETS;

pub fn build() -> Result<(), dom::WebError> {
    let list = dom::by_id::<web_sys::Element>("guide-steps")?;
    let html: String = PRESETS
        .iter()
        .map(|p| {
            format!(
                "<li data-preset=\"{id}\"><a class=\"preset\" href=\"{href}\">{title}</a><p>{look}</p>{math}</li>",
                id = p.id,
                href = escape(&p.href()),
                title = escape(p.title),
                look = escape(p.look_at),
                // Declared in code, never from the URL: trusted markup.
                math = p.math,
            )
        })
        .collect();
    list.set_inner_html(&html);
    Ok(())
}
