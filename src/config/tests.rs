//! Tests of parsing and validation: every error names its key and line.

use super::*;

#[test]
fn empty_config_is_the_contract_defaults() {
    let c = Config::parse("").unwrap();
    let labels: Vec<_> = c
        .center
        .engine
        .windows
        .iter()
        .map(|w| w.label.as_str())
        .collect();
    assert_eq!(labels, ["5m", "15m", "1h"]);
    assert_eq!(c.center.engine.interval, Span::from_secs(900));
    assert_eq!(c.center.engine.allowed_lateness, Span::from_secs(60));
    assert_eq!(c.center.defaults.sl_threshold, Span::from_secs(20));
    assert_eq!(c.center.defaults.min_volume, 10);
    assert_eq!(c.http.listen, "127.0.0.1:9898");
}

#[test]
fn queue_tables_override_defaults() {
    let c = Config::parse(
        "[defaults]\nsl_threshold = \"15s\"\nmin_volume = 3\n[queues.sales]\nsl_threshold = \"30s\"\ntimezone = \"Europe/Moscow\"\n",
    )
    .unwrap();
    let sales = c.queue("sales");
    assert_eq!(sales.sl_threshold, Span::from_secs(30));
    assert_eq!(sales.min_volume, 3, "inherits [defaults]");
    assert_eq!(sales.clock.zone, chrono_tz::Europe::Moscow);
    assert_eq!(c.queue("unknown").sl_threshold, Span::from_secs(15));
}

#[test]
fn errors_name_key_and_line() {
    let err =
        Config::parse("[engine]\nwindows = [\"5m\"]\n\n[defaults]\ntimezone = \"Mars/Olympus\"\n")
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("line 5") && err.contains("Mars/Olympus"),
        "{err}"
    );
    let err = Config::parse("[engine]\ninterval = \"7m\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2") && err.contains("interval"), "{err}");
    let err = Config::parse("[defaults]\nsl_target = 80\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2") && err.contains("ratio"), "{err}");
    let err = Config::parse("[defaults]\nsl_treshold = \"20s\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("sl_treshold"),
        "{err}"
    );
    let err = Config::parse("[engine]\nwindows = [\"5m\",\n  \"5x\"]\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3") && err.contains("5x"), "{err}");
}

#[test]
fn burn_factors_default_and_must_exceed_one() {
    let c = Config::parse("").unwrap();
    assert_eq!((c.alerts.fast_burn, c.alerts.slow_burn), (2.0, 1.2));
    let c = Config::parse("[alerts]\nfast_burn = 14.4\nslow_burn = 6\n").unwrap();
    assert_eq!((c.alerts.fast_burn, c.alerts.slow_burn), (14.4, 6.0));
    for bad in ["1.0", "1", "0.5", "-3", "nan", "inf"] {
        let err = Config::parse(&format!("[alerts]\nwindow = \"15m\"\nslow_burn = {bad}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3") && err.contains("above 1.0"),
            "{bad}: {err}"
        );
    }
    let err = Config::parse("[alerts]\nfast_burn = \"2\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn kafka_inputs_add_topics_in_a_format_and_topics_stay_the_callpulse_shorthand() {
    let c = Config::parse(
        "[kafka]\ntopics = [\"a\"]\n[[kafka.inputs]]\ntopic = \"b\"\nformat = \"callpulse\"\ntimezone = \"Europe/Paris\"\n",
    )
    .unwrap();
    let inputs = c.kafka.inputs();
    assert_eq!(inputs.len(), 2);
    assert_eq!(
        (inputs[0].topic.as_str(), inputs[0].format),
        ("a", InputFormat::Callpulse)
    );
    assert_eq!(inputs[1].timezone, chrono_tz::Europe::Paris);
    assert_eq!(c.kafka.input_of("b").timezone, chrono_tz::Europe::Paris);
    assert_eq!(c.kafka.input_of("elsewhere").format, InputFormat::Callpulse);
    let err = Config::parse("[kafka]\ntopics = [\"a\"]\n[[kafka.inputs]]\ntopic = \"a\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("listed twice"), "{err}");
    let err = Config::parse("[[kafka.inputs]]\ntopic = \"b\"\nformat = \"fax\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("fax") && err.contains("line 3"), "{err}");
    assert_eq!(
        "asterix".parse::<InputFormat>().unwrap_err().to_string(),
        "unknown input format \"asterix\"; one of callpulse, asterisk, connect, freeswitch, taskrouter"
    );
}

#[test]
fn a_connect_input_names_its_queues_by_arn_id() {
    let c = Config::parse(
        "[[kafka.inputs]]\ntopic = \"connect.contact-events\"\nformat = \"connect\"\n\
         [kafka.inputs.queue_names]\n\"5e2c8f6a-a001\" = \"sales\"\n",
    )
    .unwrap();
    let input = c.kafka.input_of("connect.contact-events");
    assert_eq!(input.format, InputFormat::Connect);
    assert_eq!(input.queue_names["5e2c8f6a-a001"], "sales");
    let err = Config::parse("[[kafka.inputs]]\ntopic = \"t\"\nformat = \"genesys\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("connect"), "{err}");
}

#[test]
fn the_dedup_horizon_covers_the_lateness() {
    let c = Config::parse("[engine]\nallowed_lateness = \"2h\"\n").unwrap();
    assert_eq!(c.center.engine.dedup_horizon, Span::from_secs(7200));
    let c = Config::parse("[engine]\nallowed_lateness = \"1m\"\n").unwrap();
    assert_eq!(c.center.engine.dedup_horizon, Span::from_secs(900));
    let err = Config::parse("[engine]\nallowed_lateness = \"2h\"\ndedup_horizon = \"15m\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("dedup_horizon"), "{err}");
}

#[test]
fn forecast_window_is_a_rolling_window() {
    let label = |c: &Config| {
        c.center
            .engine
            .forecast_window
            .as_ref()
            .map(|w| w.label.clone())
    };
    let c = Config::parse("").unwrap();
    assert_eq!(label(&c).as_deref(), Some("15m"));
    // its place among the windows the engine keeps (the standard profile: 15m, today)
    assert_eq!(c.center.engine.forecast(), Some((0, Span::from_secs(900))));
    let full = Config::parse("[export]\nprofile = \"full\"\n").unwrap();
    assert_eq!(
        full.center.engine.forecast(),
        Some((1, Span::from_secs(900)))
    );
    // written: by label, or by length ("900s" is the window 15m)
    let c = Config::parse("[engine]\nforecast_window = \"1h\"\n").unwrap();
    assert_eq!(c.center.engine.kept_labels(), ["15m", "1h", "today"]);
    assert_eq!(c.center.engine.forecast(), Some((1, Span::from_secs(3600))));
    let c = Config::parse("[engine]\nwindows = [\"5m\", \"900s\"]\nforecast_window = \"15m\"\n")
        .unwrap();
    assert_eq!(label(&c).as_deref(), Some("900s"));
    // left out and 15m not a window: the window closest to 15m (the longer on a tie)
    let c = Config::parse("[engine]\nwindows = [\"5m\", \"30m\", \"2h\"]\n").unwrap();
    assert_eq!(label(&c).as_deref(), Some("5m"));
    let c = Config::parse("[engine]\nwindows = [\"10m\", \"20m\", \"1h\"]\n").unwrap();
    assert_eq!(label(&c).as_deref(), Some("20m"));
    // no rolling window: no forecast
    let c = Config::parse("[engine]\nwindows = []\n").unwrap();
    assert_eq!((label(&c), c.center.engine.forecast()), (None, None));
    // written but not a rolling window: an error naming the key, the line and the windows
    for (text, line) in [
        (
            "[engine]\nwindows = [\"5m\", \"1h\"]\n\nforecast_window = \"15m\"\n",
            4,
        ),
        ("[engine]\nforecast_window = \"interval\"\n", 2),
        ("[engine]\nforecast_window = \"today\"\n", 2),
        ("[engine]\nwindows = []\nforecast_window = \"15m\"\n", 3),
    ] {
        let err = Config::parse(text).unwrap_err().to_string();
        assert!(
            err.contains(&format!("line {line}: engine.forecast_window"))
                && err.contains("is not one of the rolling windows"),
            "{err}"
        );
    }
    let err = Config::parse("[engine]\nwindows = [\"5m\", \"1h\"]\nforecast_window = \"15m\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("(engine.windows: 5m, 1h)"), "{err}");
}

#[test]
fn a_freeswitch_input_takes_wrapup_seconds_and_agent_queues_and_other_formats_refuse_them() {
    let c = Config::parse(
        "[[kafka.inputs]]\ntopic = \"fs1\"\nformat = \"freeswitch\"\nwrapup_seconds = 10\n\
         [kafka.inputs.agent_wrapup_seconds]\n\"1001@d\" = 30\n\
         [kafka.inputs.agent_queues]\n\"1001@d\" = [\"support@d\"]\n",
    )
    .unwrap();
    let input = c.kafka.input_of("fs1");
    assert_eq!(input.format, InputFormat::Freeswitch);
    assert_eq!(input.wrapup_seconds, Some(10));
    assert_eq!(input.agent_wrapup_seconds["1001@d"], 30);
    assert_eq!(input.agent_queues["1001@d"], ["support@d"]);
    let err = Config::parse(
        "[[kafka.inputs]]\ntopic = \"a\"\nformat = \"asterisk\"\nwrapup_seconds = 5\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("wrapup_seconds") && err.contains("freeswitch"),
        "{err}"
    );
    let err = Config::parse(
        "[[kafka.inputs]]\ntopic = \"a\"\nformat = \"freeswitch\"\nwrapup_seconds = -5\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("line 4"), "{err}");
    let err = Config::parse(
        "[[kafka.inputs]]\ntopic = \"a\"\nformat = \"freeswitch\"\n[kafka.inputs.agent_queues]\n\"\" = [\"q\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn a_taskrouter_input_takes_abandon_reasons_activities_channel_and_identities() {
    let c = Config::parse(
        "[[kafka.inputs]]\ntopic = \"tr\"\nformat = \"taskrouter\"\n\
         abandon_reasons = [\"hangup\", \"Task TTL Exceeded\"]\ndefault_channel = \"chat\"\n\
         identities = \"sids\"\n[kafka.inputs.activities]\nTraining = \"available\"\n",
    )
    .unwrap();
    let input = c.kafka.input_of("tr");
    assert_eq!(input.format, InputFormat::Taskrouter);
    assert_eq!(
        input.abandon_reasons.as_deref().map(<[String]>::len),
        Some(2)
    );
    assert_eq!(input.activities["Training"], ActivityState::Available);
    assert_eq!(input.default_channel, Some(DefaultChannel::Chat));
    assert_eq!(input.identities, Some(Identities::Sids));
    for (bad, key, line) in [
        ("default_channel = \"fax\"", "fax", "line 4"),
        ("identities = \"emails\"", "emails", "line 4"),
        (
            "[kafka.inputs.activities]\nLunch = \"lunching\"",
            "lunching",
            "line 5",
        ),
    ] {
        let err = Config::parse(&format!(
            "[[kafka.inputs]]\ntopic = \"tr\"\nformat = \"taskrouter\"\n{bad}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains(key) && err.contains(line), "{err}");
    }
    let err = Config::parse(
        "[[kafka.inputs]]\ntopic = \"a\"\nformat = \"connect\"\nabandon_reasons = []\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("abandon_reasons") && err.contains("taskrouter"),
        "{err}"
    );
}
