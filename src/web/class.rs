//! The class's own experiment on the page (the format and its rules are `crate::demos::class`):
//!
//! - the teacher's page, `?view=class&class=m`: picks the question, shows the class link and its
//!   QR code, takes the seats' codes (pasted, or their `summary.json` files chosen or dropped),
//!   and draws the class's plot. The pool is kept in the browser's local storage under the
//!   question, the budget and the build, so a reload loses nothing and a refused code changes
//!   nothing. It replaces the demos: nothing loads or trains beside it.
//! - a seat's page, `?class=m&seat=3`: the lesson view of the guided path's forgetting step with
//!   the seat's cell in demo 1's settings, started at once; when the run ends, the seat's code as
//!   a line of text and a QR code (and in the run's `summary.json`). Without `seat=` it asks for
//!   the seat number first.
//!
//! Nothing leaves the device: there is no server to send to, and no request is made.

use super::{App, canvas_chart, dom, exports, form::escape};
use crate::demos::Board;
use crate::demos::class::{self, BUILD, Class, CodeError, Link, Pool, Qr, Question, ResultCode};
use crate::settings::Values;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

/// The plot's size in the figure's pixels.
const PLOT: (f32, f32) = (720.0, 420.0);

/// A seat's run: its class, its seat, the settings it must finish with, and its code once made.
struct Seat {
    class: Class,
    seat: usize,
    values: Values,
    code: Option<String>,
}

thread_local! {
    static SEAT: RefCell<Option<Seat>> = const { RefCell::new(None) };
    /// The page was opened from a class link: the address stays that link.
    static LINKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The class link the address carries, if any (`view=class`, or `class=`).
pub fn requested(search: &str) -> Option<Link> {
    class::parse_link(search)
}

/// Whether this page was opened from a class link, whose address it keeps (a reload is the same
/// seat, not the settings the page would write).
pub fn keeps_address() -> bool {
    LINKED.with(std::cell::Cell::get)
}

/// The step of the guided path a seat's page shows: permuted MNIST, forgetting.
pub fn seat_lesson() -> usize {
    crate::settings::presets::PRESETS.iter().position(|p| p.id == "forgetting").map_or(2, |i| i + 1)
}

/// Sets a seat's page up before the forms are built: its cell goes into demo 1's settings (over
/// whatever the link said). `Some(demo)` when the seat's run should start on load.
pub fn prepare_seat(app: &Rc<App>, link: &Link) -> Result<Option<&'static str>, dom::WebError> {
    LINKED.with(|l| l.set(true));
    let section = dom::by_id::<web_sys::HtmlElement>("class-seat")?;
    section.set_hidden(false);
    dom::body()?.class_list().add_1("class-student")?;
    dom::set_text("class-seat-question", link.class.question.title());
    show_notes(&link.notes);
    let Some(seat) = link.seat else {
        dom::set_text("class-seat-cell", &format!("Each seat trains {}. Type the seat number your teacher gave you.", link.class.budget_words()));
        dom::set_hidden("class-seat-pick", false);
        let class = link.class;
        dom::on_click(&dom::by_id("class-seat-go")?, move || {
            let Ok(input) = dom::by_id::<web_sys::HtmlInputElement>("class-seat-number") else { return };
            match input.value().trim().parse::<usize>() {
                Ok(n) if (1..=class::MAX_SEATS).contains(&n) => {
                    if let Ok(window) = dom::window() {
                        let _ = window.location().assign(&class.query(Some(n)));
                    }
                }
                _ => dom::set_text("class-seat-cell", &format!("A seat is a number from 1 to {}.", class::MAX_SEATS)),
            }
        });
        return Ok(None);
    };
    let Some(bnn) = app.pick("bnn") else { return Ok(None) };
    let cell = link.class.question.cell(seat);
    let mut values = app.demos[bnn].values.borrow().clone();
    cell.apply(link.class.budget, &mut values);
    *app.demos[bnn].values.borrow_mut() = values.clone();
    let yours = if cell.m == 0.0 { "the standard network (m = 0); m = 6 trains beside it".to_string() } else { format!("m = {}; the standard network (m = 0) trains beside it", class::fmt_m(cell.m)) };
    dom::set_text(
        "class-seat-cell",
        &format!("Seat {seat}: {yours}, seed {}. {}. Your result code appears here when the run ends.", cell.seed, capitalise(&link.class.budget_words())),
    );
    SEAT.with(|s| *s.borrow_mut() = Some(Seat { class: link.class, seat, values, code: None }));
    dom::on_click(&dom::by_id("class-copy")?, || {
        let code = SEAT.with(|s| s.borrow().as_ref().and_then(|s| s.code.clone()));
        if let Some(code) = code {
            copy_text(&code);
            dom::set_text("class-copied", "Copied.");
        }
    });
    dom::on_click(&dom::by_id("class-save")?, || {
        if let Ok(button) = dom::by_id::<web_sys::HtmlElement>("bnn-summary") {
            button.click();
        }
    });
    Ok(Some("bnn"))
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Called at every finished frame of a demo's run: on a seat's page, the first finished run of
/// demo 1 at the seat's settings gives the seat's code.
pub fn finished(demo: &str, values: &Values, board: &dyn Board, backend: &str) {
    SEAT.with(|s| {
        let mut s = s.borrow_mut();
        let Some(seat) = s.as_mut() else { return };
        if demo != "bnn" || seat.code.is_some() {
            return;
        }
        // The compute backend may differ (it does not change the experiment); nothing else may.
        let same = values.iter().zip(seat.values.iter()).all(|((setting, a), (_, b))| setting.name == "compute" || a == b);
        if !same {
            dom::set_text("class-seat-cell", "This run's settings are not your seat's (they were changed on the page): open the class link again for your seat's code.");
            return;
        }
        let code = board.summary(backend).and_then(|summary| ResultCode::from_summary(seat.class, seat.seat, &summary));
        let Some(code) = code else {
            dom::set_text("class-seat-cell", "The run ended without every task's accuracy: open the class link again.");
            return;
        };
        let text = code.text();
        show_code(&text);
        seat.code = Some(text);
    });
}

fn show_code(text: &str) {
    dom::set_attr("class-code", "value", text);
    if let Ok(input) = dom::by_id::<web_sys::HtmlInputElement>("class-code") {
        input.set_value(text);
    }
    match Qr::new(text) {
        Ok(qr) => {
            if let Ok(el) = dom::by_id::<web_sys::Element>("class-qr") {
                el.set_inner_html(&qr.svg(&format!("QR code of your result code: {text}")));
            }
        }
        Err(e) => dom::set_text("class-qr", &e),
    }
    dom::set_hidden("class-result", false);
    dom::set_attr("class-seat", "data-state", "done");
}

/// The seat's code in its run's `summary.json`, so the file can be dropped on the teacher's page.
pub fn stamp(mut summary: serde_json::Value) -> serde_json::Value {
    let code = SEAT.with(|s| s.borrow().as_ref().and_then(|s| s.code.clone()));
    if let (Some(code), Some(doc)) = (code, summary.as_object_mut()) {
        doc.insert(class::SUMMARY_FIELD.to_string(), serde_json::Value::String(code));
    }
    summary
}

/// Puts `text` on the clipboard where the browser allows it (a secure page); the code stays
/// selectable in its field where it does not.
fn copy_text(text: &str) {
    use js_sys::Reflect;
    let Ok(window) = dom::window() else { return };
    let Ok(clipboard) = Reflect::get(&window.navigator(), &"clipboard".into()) else { return };
    if let Ok(write) = Reflect::get(&clipboard, &"writeText".into()).and_then(|f| f.dyn_into::<js_sys::Function>().map_err(|_| "no writeText".into())) {
        let _ = write.call1(&clipboard, &text.into());
    }
}

fn show_notes(notes: &[String]) {
    if notes.is_empty() {
        return;
    }
    if let Ok(note) = dom::by_id::<web_sys::HtmlElement>("settings-note") {
        note.set_text_content(Some(&format!("The address was corrected: {}.", notes.join("; "))));
        note.set_hidden(false);
    }
}

/// The teacher's page.
struct Teacher {
    pool: Pool,
    key: String,
}

/// Where the pool is kept: per build, question and budget, so another build's codes stay where
/// they are, untouched.
fn storage_key(class: &Class) -> String {
    format!("metaplastic-class:{BUILD}:{}", class.words())
}

fn storage() -> Option<web_sys::Storage> {
    dom::window().ok()?.local_storage().ok()?
}

/// Opens the teacher's page in place of the demos.
pub fn start_teacher(link: Link, presenter: bool) -> Result<(), dom::WebError> {
    let body = dom::body()?;
    body.class_list().add_1("class-view")?;
    dom::by_id::<web_sys::HtmlElement>("class-view")?.set_hidden(false);
    show_notes(&link.notes);
    // This page trains nothing: no adapter is looked for.
    dom::set_text("backend", "Compute: none needed on this page");
    dom::set_attr("backend", "data-backend", "none");
    if presenter {
        body.class_list().add_1("presenter")?;
        canvas_chart::set_presenter(true);
        dom::set_attr("presenter", "aria-pressed", "true");
    }
    dom::on_click(&dom::by_id("presenter")?, || {
        let Ok(body) = dom::body() else { return };
        let on = body.class_list().toggle("presenter").unwrap_or(false);
        dom::set_attr("presenter", "aria-pressed", if on { "true" } else { "false" });
        canvas_chart::set_presenter(on);
        exports::repaint_all();
    });
    let class = link.class;
    let questions: String = Question::ALL
        .iter()
        .map(|q| {
            let href = Class { question: *q, budget: class.budget }.teacher_query();
            let checked = if *q == class.question { " checked" } else { "" };
            format!(
                "<label class=\"check\"><input type=\"radio\" name=\"class-question\" value=\"{}\" data-href=\"{}\"{checked}> {}</label>",
                q.id(),
                escape(&href),
                escape(q.title())
            )
        })
        .collect();
    let list = dom::by_id::<web_sys::Element>("class-questions")?;
    list.set_inner_html(&questions);
    dom::on_event(&list, "change", || {
        if let Ok(Some(input)) = dom::document().and_then(|d| Ok(d.query_selector("input[name=class-question]:checked")?))
            && let (Some(href), Ok(window)) = (input.get_attribute("data-href"), dom::window())
        {
            let _ = window.location().assign(&href);
        }
    });
    dom::set_text(
        "class-budget",
        &format!(
            "Each seat trains {} in its browser, in workers (by default the run of the guided path's step 2), and reports {}. Seats take the settings in turn, a new seed each round. Build {BUILD}.",
            class.budget_words(),
            class.measure_words()
        ),
    );
    let location = dom::window()?.location();
    let base = format!("{}{}", location.origin().unwrap_or_default(), location.pathname().unwrap_or_default());
    let url = format!("{base}{}", class.query(None));
    // The link is this page's own address: one only this computer can open is no class link.
    let host = location.hostname().unwrap_or_default();
    if matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]" | "::1") {
        dom::set_text(
            "class-link-note",
            &format!("This page was opened at {host}, this computer's own address: the students' laptops cannot open the link. Open this page at an address they can reach (the page served on the room's network or a web server)."),
        );
        dom::set_hidden("class-link-note", false);
    }
    let link_el = dom::by_id::<web_sys::HtmlAnchorElement>("class-link")?;
    link_el.set_href(&url);
    link_el.set_text_content(Some(&url));
    match Qr::new(&url) {
        Ok(qr) => dom::by_id::<web_sys::Element>("class-link-qr")?.set_inner_html(&qr.svg(&format!("QR code of the class link, {url}"))),
        Err(e) => dom::set_text("class-link-qr", &e),
    }
    let seats: String = (1..=class::MAX_SEATS.min(30))
        .map(|n| {
            let cell = class.question.cell(n);
            let href = format!("{base}{}", class.query(Some(n)));
            format!("<li><a href=\"{}\">seat {n}</a>: m = {}, seed {}</li>", escape(&href), class::fmt_m(cell.m), cell.seed)
        })
        .collect();
    dom::by_id::<web_sys::Element>("class-seat-links")?.set_inner_html(&seats);

    let key = storage_key(&class);
    let mut pool = Pool::new(class, BUILD);
    let stored = storage().and_then(|s| s.get_item(&key).ok().flatten()).unwrap_or_default();
    // What this page kept itself: read back as it was written.
    pool.add_all(&stored);
    let teacher = Rc::new(RefCell::new(Teacher { pool, key }));
    render(&teacher.borrow());

    let t = teacher.clone();
    dom::on_click(&dom::by_id("class-add")?, move || {
        let Ok(area) = dom::by_id::<web_sys::HtmlTextAreaElement>("class-paste") else { return };
        let refused = add(&t, &[(String::new(), Ok(area.value()))]);
        area.set_value(&refused.join("\n"));
    });
    let t = teacher.clone();
    let files = dom::by_id::<web_sys::HtmlInputElement>("class-files")?;
    let input = files.clone();
    dom::on_event(&files, "change", move || {
        if let Some(list) = input.files() {
            read_files(t.clone(), list);
        }
        input.set_value("");
    });
    wire_drop(&teacher)?;
    let t = teacher.clone();
    dom::on_click(&dom::by_id("class-clear")?, move || {
        let sure = dom::window().ok().and_then(|w| w.confirm_with_message("Forget every pooled code of this question on this device?").ok()).unwrap_or(false);
        if sure {
            let mut t = t.borrow_mut();
            t.pool.codes.clear();
            if let Some(s) = storage() {
                let _ = s.remove_item(&t.key);
            }
            dom::set_text("class-added", "The pooled codes were forgotten.");
            render(&t);
        }
    });
    Ok(())
}

/// Pools what was pasted or read from files (`(file name, its text or why it could not be
/// read)`), shows the outcome, keeps the pool; returns the refused pieces.
fn add(teacher: &Rc<RefCell<Teacher>>, inputs: &[(String, Result<String, String>)]) -> Vec<String> {
    let mut t = teacher.borrow_mut();
    let (mut new, mut again) = (0, 0);
    let mut refused: Vec<(String, String)> = Vec::new();
    for (name, text) in inputs {
        let text = match text {
            Ok(text) => text,
            Err(why) => {
                refused.push((name.clone(), why.clone()));
                continue;
            }
        };
        // A summary.json (its seat's code inside), or text with codes in it.
        let codes = if text.trim_start().starts_with('{') { class::code_in_summary(text) } else { Ok(text.clone()) };
        let outcomes = match codes {
            Ok(codes) => t.pool.add_all(&codes),
            Err(e) => vec![(String::new(), Err(e))],
        };
        for (piece, outcome) in outcomes {
            match outcome {
                Ok(class::Added::New) => new += 1,
                Ok(class::Added::Duplicate) => again += 1,
                Err(e) => refused.push((
                    match (name.is_empty(), piece.is_empty()) {
                        (true, _) => piece,
                        (false, true) => name.clone(),
                        (false, false) => format!("{name}: {piece}"),
                    },
                    reason(&e),
                )),
            }
        }
    }
    if let Some(s) = storage()
        && s.set_item(&t.key, &t.pool.stored()).is_err()
    {
        refused.push((String::new(), "this browser would not keep the pool (local storage is off or full): it lasts until the page is closed".into()));
    }
    let mut said = format!("{new} new code{} pooled ({} in all).", if new == 1 { "" } else { "s" }, t.pool.codes.len());
    if again > 0 {
        said.push_str(&format!(" {again} already pooled, not counted again."));
    }
    if !refused.is_empty() {
        said.push_str(&format!(" {} refused, with the reason below; nothing pooled was lost.", refused.len()));
    }
    dom::set_text("class-added", &said);
    let items: String = refused
        .iter()
        .map(|(piece, why)| format!("<li><code>{}</code>: {}</li>", escape(&shorten(piece)), escape(why)))
        .collect();
    if let Ok(list) = dom::by_id::<web_sys::Element>("class-refused") {
        list.set_inner_html(&items);
    }
    render(&t);
    refused.into_iter().filter(|(p, _)| !p.is_empty()).map(|(p, _)| p).collect()
}

fn reason(e: &CodeError) -> String {
    e.to_string()
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 100 { format!("{}…", text.chars().take(100).collect::<String>()) } else { text.to_string() }
}

/// Draws the plot, the finding and the table of the pool as it stands.
fn render(t: &Teacher) {
    let pool = &t.pool;
    if let Ok(canvas) = dom::by_id::<web_sys::HtmlCanvasElement>("class-plot") {
        let _ = exports::draw_chart(&canvas, pool.figure(PLOT.0, PLOT.1));
    }
    dom::set_attr("class-plot", "data-points", &pool.codes.len().to_string());
    dom::set_text("class-finding", &pool.finding());
    let rows: String = pool
        .groups()
        .iter()
        .map(|g| {
            let each: Vec<String> = g.points.iter().map(|(seat, seed, y)| format!("seat {seat} (seed {seed}): {:.1}%", 100.0 * y)).collect();
            let interval = if g.ci95.is_finite() { format!("{:.1}% to {:.1}%", 100.0 * (g.mean - g.ci95), 100.0 * (g.mean + g.ci95)) } else { "one seat: none".into() };
            format!(
                "<tr data-m=\"{m}\" data-n=\"{n}\" data-mean=\"{mean:.4}\"><td>{m}</td><td>{n}</td><td>{:.1}%</td><td>{interval}</td><td>{}</td></tr>",
                100.0 * g.mean,
                escape(&each.join("; ")),
                m = class::fmt_m(g.m),
                n = g.points.len(),
                mean = g.mean,
            )
        })
        .collect();
    if let Ok(body) = dom::query("#class-table tbody") {
        dom::set_html(&body, &rows);
    }
}

/// Reads the chosen or dropped files (their text, a file at a time), then pools them together.
fn read_files(teacher: Rc<RefCell<Teacher>>, list: web_sys::FileList) {
    let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.item(i)).collect();
    wasm_bindgen_futures::spawn_local(async move {
        let mut inputs = Vec::new();
        for file in files {
            let text = wasm_bindgen_futures::JsFuture::from(file.text()).await.map_err(|e| format!("could not be read: {}", dom::describe(&e)));
            inputs.push((file.name(), text.and_then(|v| v.as_string().ok_or_else(|| "is not text".to_string()))));
        }
        add(&teacher, &inputs);
    });
}

/// Files dropped anywhere on the teacher's page are read like chosen ones.
fn wire_drop(teacher: &Rc<RefCell<Teacher>>) -> Result<(), dom::WebError> {
    let zone = dom::by_id::<web_sys::Element>("class-view")?;
    let over = Closure::<dyn FnMut(web_sys::DragEvent)>::new(|event: web_sys::DragEvent| {
        event.prevent_default();
        dom::set_attr("class-view", "data-drop", "1");
    });
    zone.add_event_listener_with_callback("dragover", over.as_ref().unchecked_ref())?;
    over.forget();
    let leave = Closure::<dyn FnMut(web_sys::DragEvent)>::new(|_| dom::set_attr("class-view", "data-drop", "0"));
    zone.add_event_listener_with_callback("dragleave", leave.as_ref().unchecked_ref())?;
    leave.forget();
    let t = teacher.clone();
    let drop = Closure::<dyn FnMut(web_sys::DragEvent)>::new(move |event: web_sys::DragEvent| {
        event.prevent_default();
        dom::set_attr("class-view", "data-drop", "0");
        let Some(transfer) = event.data_transfer() else { return };
        match transfer.files().filter(|f| f.length() > 0) {
            Some(list) => read_files(t.clone(), list),
            // Text dragged from another window: codes, like a paste.
            None => {
                if let Ok(text) = transfer.get_data("text/plain") {
                    add(&t, &[(String::new(), Ok(text))]);
                }
            }
        }
    });
    zone.add_event_listener_with_callback("drop", drop.as_ref().unchecked_ref())?;
    // The listeners live as long as the page.
    drop.forget();
    Ok(())
}
