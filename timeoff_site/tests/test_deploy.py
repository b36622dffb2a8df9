"""deploy/ and the serving settings (issue 13 points 4 and 5): the systemd units parse and run
commands that exist, gunicorn.conf.py reads its sizes from the environment, the Procfile uses it,
and the reverse-proxy example health-checks /readyz over TLS."""

import configparser
import importlib.util
import runpy
import shlex
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTALL_DIR = "/srv/timeoff"  # where the units expect the checkout (README "Deployment")
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
# Commands the units may run before the code that provides them has landed: name -> why.
EXPECTED_MISSING = {"run_scheduler": "the clock's command arrives with issue 12; until then timeoff-clock fails"}


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def exec_start(path: Path) -> list[str]:
    return shlex.split(unit(path)["Service"]["ExecStart"])


def test_there_are_units_for_web_worker_and_clock():
    assert {path.name for path in UNITS} >= {"timeoff-web.service", "timeoff-worker@.service",
                                             "timeoff-clock.service"}


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_each_unit_parses_and_runs_from_the_checkout_with_the_environment_file(path):
    parsed = unit(path)
    assert {"Unit", "Service", "Install"} <= set(parsed.sections())
    service = parsed["Service"]
    assert service["User"] == "timeoff" and service["WorkingDirectory"] == INSTALL_DIR
    assert service["EnvironmentFile"] == "/etc/timeoff/timeoff.env"
    assert service["Restart"] == "always"
    assert parsed["Install"]["WantedBy"] == "multi-user.target"
    program = exec_start(path)[0]
    assert program.startswith(f"{INSTALL_DIR}/.venv/bin/"), program


@pytest.mark.parametrize("path", [p for p in UNITS if "gunicorn" in exec_start(p)[0]], ids=lambda p: p.name)
def test_gunicorn_units_run_this_config_and_this_app(path):
    argv = exec_start(path)
    parsed = Config().parser().parse_args(argv[1:])  # gunicorn's own parser: unknown flags fail here
    assert (ROOT / parsed.config).is_file()
    [app] = parsed.args
    assert importlib.util.find_spec(app) is not None, app
    assert unit(path)["Service"]["Type"] == "notify"  # gunicorn tells systemd when it is ready


@pytest.mark.parametrize("path", [p for p in UNITS if exec_start(p)[1:2] == ["manage.py"]], ids=lambda p: p.name)
def test_manage_py_units_run_commands_that_exist(path, settings):
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}  # production's backend
    argv = exec_start(path)
    assert (ROOT / "manage.py").is_file()
    name, options = argv[2], argv[3:]
    commands = get_commands()
    if name not in commands and name in EXPECTED_MISSING:
        pytest.xfail(f"{name} does not exist yet: {EXPECTED_MISSING[name]}")
    assert name in commands, f"{path.name} runs `manage.py {name}`, which does not exist"
    command = load_command_class(commands[name], name)
    command.create_parser("manage.py", name).parse_args(options)  # its options exist (SystemExit otherwise)


def test_the_worker_serves_every_queue():
    assert exec_start(DEPLOY / "systemd" / "timeoff-worker@.service")[2:] == [
        "task_worker", "--no-reload", "--queue-name", "*"]


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_every_process_shares_the_metrics_directory_that_tmpfiles_creates(path):
    tmpfiles = (DEPLOY / "systemd" / "timeoff-tmpfiles.conf").read_text()
    service = path.read_text()
    assert "Environment=PROMETHEUS_MULTIPROC_DIR=/run/timeoff-metrics" in service
    assert "ReadWritePaths=/run/timeoff-metrics" in service
    assert "d /run/timeoff-metrics 0750 timeoff timeoff" in tmpfiles


# --- gunicorn.conf.py and the Procfile -------------------------------------------------------


def load_gunicorn_conf(monkeypatch, **environ) -> dict:
    for name in ("WEB_CONCURRENCY", "WEB_THREADS", "PORT", "PROMETHEUS_MULTIPROC_DIR", "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_defaults_are_the_benchmarks(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)
    # bench/run.py: `--workers 2 --threads 8` by default.
    assert (conf["workers"], conf["threads"], conf["worker_class"]) == (2, 8, "gthread")
    assert conf["bind"] == "0.0.0.0:8000"
    assert conf["accesslog"] is None and conf["errorlog"] == "-"  # one JSON line per request is Django's
    assert conf["timeout"] == 30 and conf["graceful_timeout"] == 30
    assert conf["wsgi_app"] == "timeoff_site.wsgi"


def test_gunicorn_sizes_come_from_the_environment(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch, WEB_CONCURRENCY="4", WEB_THREADS="16", PORT="9000")
    assert (conf["workers"], conf["threads"], conf["bind"]) == (4, 16, "0.0.0.0:9000")


def test_every_setting_in_gunicorn_conf_is_one_gunicorn_knows(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)
    known = Config().settings
    ours = {name for name in conf if not name.startswith("_") and name not in ("os",)}
    assert ours <= set(known), ours - set(known)


def test_a_dead_worker_is_marked_dead_for_the_metrics(monkeypatch, tmp_path):
    directory = tmp_path / "metrics"
    conf = load_gunicorn_conf(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(directory))
    assert directory.is_dir()  # created when gunicorn starts
    (directory / "gauge_livesum_4242.db").write_bytes(b"")
    (directory / "counter_4242.db").write_bytes(b"")

    class Worker:
        pid = 4242

    conf["child_exit"](None, Worker())
    assert not (directory / "gauge_livesum_4242.db").exists()  # live gauges of a dead process go
    assert (directory / "counter_4242.db").exists()  # its counts stay in the sums


def test_the_procfile_uses_the_config_and_releases_with_migrations_and_static_files():
    lines = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert lines["web"] == "gunicorn -c gunicorn.conf.py timeoff_site.wsgi"
    assert "manage.py migrate --no-input" in lines["release"]
    assert "manage.py collectstatic --no-input" in lines["release"]


# --- The reverse proxy ------------------------------------------------------------------------


def test_the_proxy_example_terminates_tls_and_health_checks_readyz():
    caddyfile = (DEPLOY / "caddy" / "Caddyfile").read_text()
    assert "timeoff.example.com {" in caddyfile  # a site address: Caddy obtains and renews its certificate
    assert "health_uri /readyz" in caddyfile and "health_status 200" in caddyfile
    assert "respond /metrics 404" in caddyfile  # never public
    assert "header_up X-Request-ID" in caddyfile


def test_the_environment_example_names_every_secret_and_service():
    example = (DEPLOY / "timeoff.env.example").read_text()
    for name in ("SECRET_KEY", "DATABASE_URL", "CACHE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET",
                 "METRICS_TOKEN", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"):
        assert f"\n{name}=" in "\n" + example, name
