//! The API pages: query parsing, the page-size cap, queue filters, the state order, threshold
//! levels, waiting positions and the contact-id switch.

use super::*;
use crate::live::{HandledToday, StateRow, WaitingRow};

const MIN: Millis = 60_000;

fn config(text: &str) -> Settings {
    Settings::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn agent(name: &str, state: AgentState, since: Millis, queues: &[&str]) -> AgentRow {
    AgentRow {
        agent: name.into(),
        state: Some(StateRow {
            state,
            reason: None,
            since,
            at: since,
        }),
        queues: queues.iter().map(|q| q.to_string()).collect(),
        conversation: None,
        wrapup: None,
        handled_today: vec![],
    }
}

fn query(text: &str) -> PageQuery {
    PageQuery::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_page_never_holds_more_than_the_cap_whatever_limit_asks() {
    assert_eq!(query("limit=1000000").limit, MAX_PAGE);
    assert_eq!(query("").limit, DEFAULT_PAGE);
    let q = query("queue=tier+2&order=state&limit=7&offset=3");
    assert_eq!(q.queue.as_deref(), Some("tier 2"));
    assert!(q.by_state);
    assert_eq!((q.limit, q.offset), (7, 3));
    assert_eq!(
        PageQuery::parse("limit=-1"),
        Err(QueryError::Number("limit", "-1".into()))
    );
    assert_eq!(
        PageQuery::parse("sort=x"),
        Err(QueryError::Parameter("sort".into()))
    );
}

#[test]
fn order_state_puts_long_not_ready_first_and_paging_counts_the_whole_list() {
    let at = 100 * MIN;
    let view = LiveView {
        at,
        agents: vec![
            agent("a", AgentState::Available, 10 * MIN, &["sales"]),
            agent("b", AgentState::NotReady, 90 * MIN, &["sales"]),
            agent("c", AgentState::NotReady, 5 * MIN, &["sales"]),
            agent("d", AgentState::Busy, 95 * MIN, &["support"]),
        ],
        waiting: vec![],
    };
    let cfg = config("");
    let q = query("order=state&limit=2");
    let page = agents_page(&view, &[], &q, &cfg);
    let names: Vec<&str> = page.agents.iter().map(|a| a.agent).collect();
    assert_eq!(names, ["c", "b"]);
    assert_eq!(page.total, 4);
    // 95 minutes not ready is past the default alarm, 10 minutes is not past the warning
    assert_eq!(page.agents[0].level, "alarm");
    assert_eq!(page.agents[1].level, "ok");
    assert_eq!(page.agents[0].seconds_in_state, Some(95 * 60));
    let q = query("queue=support");
    let page = agents_page(&view, &[], &q, &cfg);
    assert_eq!(
        page.agents.iter().map(|a| a.agent).collect::<Vec<_>>(),
        ["d"]
    );
}

#[test]
fn a_queues_own_thresholds_decide_the_level_and_go_out_with_the_page() {
    let cfg = config("[queues.vip]\nnot_ready_warn = \"1m\"\nnot_ready_alarm = \"3m\"\n");
    let at = 100 * MIN;
    let view = LiveView {
        at,
        agents: vec![agent("a", AgentState::NotReady, at - 2 * MIN, &["vip"])],
        waiting: vec![],
    };
    let q = query("");
    let page = agents_page(&view, &[], &q, &cfg);
    assert_eq!(page.agents[0].level, "warn");
    let vip = page.thresholds.iter().find(|t| t.queue == "vip").unwrap();
    assert_eq!(
        (vip.not_ready_warn_seconds, vip.not_ready_alarm_seconds),
        (60, 180)
    );
    let json = serde_json::to_string(&page).unwrap();
    assert!(json.contains("\"talk_warn_seconds\":600"), "{json}");
}

#[test]
fn handled_today_reports_count_sum_and_mean() {
    let mut a = agent("a", AgentState::Available, 0, &["sales"]);
    a.handled_today = vec![HandledToday {
        queue: "sales".into(),
        count: 4,
        handle_ms: 600_000,
    }];
    let view = LiveView {
        at: MIN,
        agents: vec![a],
        waiting: vec![],
    };
    let (q, cfg) = (query(""), config(""));
    let page = agents_page(&view, &[], &q, &cfg);
    let h = &page.agents[0].handled_today[0];
    assert_eq!(
        (h.count, h.handle_seconds_sum, h.mean_handle_seconds),
        (4, 600.0, 150.0)
    );
}

#[test]
fn waiting_positions_count_within_each_queue_and_ids_hide_on_request() {
    let w = |queue: &str, since: Millis, id: &str| WaitingRow {
        queue: queue.into(),
        since,
        channel: Channel::Chat,
        priority: Some(2),
        contact_id: id.into(),
    };
    let view = LiveView {
        at: 10 * MIN,
        agents: vec![],
        waiting: vec![
            w("sales", MIN, "c1"),
            w("sales", 2 * MIN, "c2"),
            w("support", MIN, "s1"),
        ],
    };
    let q = query("queue=sales&offset=1");
    let page = waiting_page(&view, &[], &q, true);
    assert_eq!(page.total, 2);
    let row = &page.waiting[0];
    assert_eq!(
        (row.position, row.contact_id, row.wait_seconds),
        (2, Some("c2"), 8 * 60)
    );
    let q = query("queue=support");
    let page = waiting_page(&view, &[], &q, false);
    assert_eq!(page.waiting[0].position, 1);
    let json = serde_json::to_string(&page).unwrap();
    assert!(
        !json.contains("s1") && !json.contains("contact_id"),
        "{json}"
    );
}
