"""deploy/prometheus/alerts.yml (issue 13 point 2): every rule names only metrics the app exports.

An alert on a misspelt metric never fires and never says so; this test is what
notices. Metric names are taken from each rule's expression (strings, label
matchers, ranges and `by (…)` groupings removed, function names skipped) and
compared with the registry the app builds, suffixes included (`_total`,
`_bucket`, `_count`, `_sum`). The labels a rule matches on must be the metric's
own. `promtool check rules` runs too where Prometheus is installed.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import timeoff_site.metrics_middleware  # noqa: F401  (registers the HTTP metrics)
from approvals.metrics import TaskQueueCollector

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
# Not the app's: Prometheus's own per-target series and the blackbox exporter's probe result.
EXTERNAL = {"up": set(), "probe_success": set()}
TARGET_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
            "gauge": ("",), "summary": ("_count", "_sum", "_created", ""), "info": ("_info",)}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
                "offset", "inf", "nan"}


def exported() -> dict[str, set[str]]:
    """{sample name: its label names} for everything the app's /metrics can show."""
    names = dict(EXTERNAL)
    families = [*REGISTRY.collect(), *TaskQueueCollector().describe()]
    for family in families:
        labels = {label for sample in family.samples for label in sample.labels}
        labels |= set(getattr(family, "_labelnames", ()))
        for suffix in SUFFIXES.get(family.type, ("",)):
            extra = {"le"} if suffix == "_bucket" else set()
            names[family.name + suffix] = labels | extra
    for collector in list(REGISTRY._collector_to_names):  # labelled metrics with no sample yet
        labelnames = getattr(collector, "_labelnames", None)
        if labelnames is None:
            continue
        for name in REGISTRY._collector_to_names[collector]:
            names.setdefault(name, set()).update(labelnames)
            if name.endswith("_bucket"):
                names[name].add("le")
    for family in TaskQueueCollector._families():
        names[family.name] = {"queue", "status"} if family.name.endswith("depth") else {"queue"}
    return names


def rules() -> list[dict]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names matched) for each metric an expression reads."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (regexes) hold no metric names
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors: [5m]
    expr = re.sub(r"\boffset\s+-?[0-9][0-9a-z]*", " ", expr)  # offset 15m
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    found = []
    for match in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?", expr):
        name, matchers, call = match.groups()
        if call or name.lower() in PROMQL_WORDS:
            continue  # a function (rate, sum, histogram_quantile) or a keyword
        labels = set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers or ""))
        found.append((name, labels))
    return found


def test_the_file_has_rules_for_every_failure_issue_13_names():
    names = {rule["alert"] for rule in rules()}
    assert {"TimeoffSlackEndpointErrors", "TimeoffSlackEndpointSlow", "TimeoffRequestsNotDelivered",
            "TimeoffTasksFailing", "TimeoffTaskQueueStalled", "TimeoffSlackAuthFailing",
            "TimeoffLedgerUnreadable", "TimeoffNotReady"} <= names


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_each_rule_reads_only_metrics_the_app_exports(rule):
    known = exported()
    used = selectors(rule["expr"])
    assert used, f"no metric found in {rule['expr']!r}"
    for name, labels in used:
        assert name in known, f"{rule['alert']} reads {name}, which the app does not export"
        unknown = labels - known[name] - TARGET_LABELS
        assert not unknown, f"{rule['alert']} matches {name} on labels it does not have: {unknown}"


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_each_rule_says_how_bad_and_what_to_do(rule):
    assert rule["labels"]["severity"] in {"page", "ticket"}
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_the_name_extraction_itself():
    expr = ('histogram_quantile(0.99, sum by (le, endpoint) (rate(a_bucket{endpoint=~"slack/.*"}[5m]))) > 2 '
            'or sum(increase(b_total[15m])) / on(job) c{error!="x_total"} and up == 0 unless up offset 1h30m')
    assert selectors(expr) == [("a_bucket", {"endpoint"}), ("b_total", set()), ("c", {"error"}), ("up", set()), ("up", set())]


def test_the_export_list_includes_every_suffix():
    known = exported()
    assert {"timeoff_http_requests_total", "timeoff_http_request_duration_seconds_bucket",
            "timeoff_http_request_duration_seconds_count", "timeoff_http_request_duration_seconds_sum",
            "timeoff_task_queue_depth", "timeoff_task_queue_oldest_age_seconds",
            "timeoff_slack_api_errors_total", "timeoff_ledger_pages_total"} <= set(known)
    assert known["timeoff_slack_api_errors_total"] == {"method", "error"}
    assert "le" in known["timeoff_http_request_duration_seconds_bucket"]


def test_promtool_accepts_the_rules():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus); the rules were only parsed")
    result = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# --- The rules evaluated: promtool's unit tests on series shaped as the app's /metrics makes them -----


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus); the rules were not evaluated")
    return found


def firing(alert: str, labels: dict, value: str = "") -> dict:
    """What promtool should see firing: the rule's labels and its annotations with `labels` filled in."""
    rule = next(rule for rule in rules() if rule["alert"] == alert)

    def filled(text: str) -> str:
        text = re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels[m.group(1)], text)
        return re.sub(r"\{\{\s*\$value\s*\}\}", value, text)

    return {"exp_labels": {**labels, **rule["labels"]},
            "exp_annotations": {key: filled(text) for key, text in rule["annotations"].items()}}


def evaluate(tmp_path, series: dict[str, str], checks: list[tuple[str, str, list[dict]]]) -> None:
    """`series`: {selector: promtool values, one a minute}; `checks`: (alert, evaluation time, firing)."""
    test = {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": expected}
                            for alert, at, expected in checks],
    }]}
    path = tmp_path / "alerts_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


HOST = 'instance="web-1:8000", job="timeoff"'


@pytest.mark.parametrize("alert, series, labels", [
    ("TimeoffRequestsNotDelivered", f'timeoff_delivery_problems_total{{error="not_in_channel", {HOST}}}',
     {"error": "not_in_channel"}),
    ("TimeoffSlackAuthFailing",
     f'timeoff_slack_api_errors_total{{method="chat.postMessage", error="invalid_auth", {HOST}}}',
     {"error": "invalid_auth"}),
    ("TimeoffLedgerUnreadable", f'timeoff_ledger_unavailable_total{{error="not_in_channel", {HOST}}}', {}),
    ("TimeoffTasksFailing",
     f'timeoff_task_attempts_total{{task="deliver_request", outcome="failed", attempt="6", {HOST}}}',
     {"task": "deliver_request"}),
    ("TimeoffTaskNoWorkerCouldRun",
     f'timeoff_task_handovers_total{{task="deliver_request", outcome="failed", {HOST}}}', {"task": "deliver_request"}),
])
def test_a_single_event_fires_its_alert_though_its_series_is_born_with_it(tmp_path, alert, series, labels):
    """A labelled counter has no series before its first event (a new error code, a host just
    deployed): it appears at 1, where increase() sees no increase. The alert fires all the same, and
    stops once the event is older than its window."""
    evaluate(tmp_path, {series: "_x10 1x40"}, [
        (alert, "9m", []),
        (alert, "11m", [firing(alert, labels)]),
        (alert, "40m", []),
    ])


def test_a_counter_that_keeps_counting_fires_its_alert_again(tmp_path):
    series = f'timeoff_delivery_problems_total{{error="not_in_channel", {HOST}}}'
    evaluate(tmp_path, {series: "1x30 2x30"}, [
        ("TimeoffRequestsNotDelivered", "25m", []),
        ("TimeoffRequestsNotDelivered", "32m", [firing("TimeoffRequestsNotDelivered", {"error": "not_in_channel"})]),
    ])


def test_the_queue_depth_every_host_reads_from_the_database_counts_once(tmp_path):
    """Each host's /metrics reads the same shared queue: three hosts showing 100 ready tasks is 100."""
    hosts = ("web-1:8000", "web-2:8000", "worker-1:8000")

    def depth(values: str) -> dict[str, str]:
        return {f'timeoff_task_queue_depth{{queue="default", status="ready", instance="{host}", job="timeoff"}}': values
                for host in hosts}

    evaluate(tmp_path, depth("100x30"), [("TimeoffTaskQueueGrowing", "20m", [])])
    evaluate(tmp_path, depth("250x30"), [
        ("TimeoffTaskQueueGrowing", "20m", [firing("TimeoffTaskQueueGrowing", {"queue": "default"}, "250")]),
    ])
