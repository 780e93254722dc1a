#!/usr/bin/env bash
# Checks the monitoring files in deploy/: the Prometheus alerting rules (`promtool check rules`)
# and their unit tests (`promtool test rules`), and the Grafana dashboard (valid JSON, every panel
# on the dashboard's data-source variable, every query parsed by promtool). Every metric name the
# rules and the dashboard use must be one metad or datad registers, as registered or with the
# `_total` a counter's exposition adds (the check cannot tell counters from gauges: the promtool
# tests and a look at the code must). Installs promtool (Debian's prometheus package) when
# missing, without starting the Prometheus service.
set -euo pipefail
cd "$(dirname "$0")/.."

rules=deploy/prometheus/alerts.yml
tests=deploy/prometheus/alerts_test.yml
dashboard=deploy/grafana/metad-dashboard.json

work=$(mktemp -d)
sudo=""
policy=""
cleanup() {
  rm -rf "$work"
  if [ -n "$policy" ]; then $sudo rm -f "$policy"; fi
}
trap cleanup EXIT

if ! command -v promtool >/dev/null 2>&1; then
  echo "installing promtool (Debian's prometheus package)"
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install prometheus" >&2; exit 1; }
    sudo="sudo"
  fi
  # The package's service is not wanted: RUNLEVEL=1 keeps invoke-rc.d from starting it, and a
  # policy-rc.d refusing every start (made only when none exists, removed after) covers
  # deb-systemd-invoke.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

promtool check rules "$rules"
promtool test rules "$tests"

python3 - "$rules" "$dashboard" "$work/dashboard-queries.yml" <<'EOF'
import glob, json, re, sys

rules_path, dashboard_path, queries_path = sys.argv[1:4]
# The names metad and datad register (without the `_total` a counter's exposition adds).
registered = set()
for path in glob.glob("crates/*/src/**/*.rs", recursive=True):
    with open(path, encoding="utf-8") as source:
        registered.update(re.findall(r'"((?:metad|datad)_[a-z0-9_]+)"', source.read()))
name = re.compile(r"\b(?:metad|datad)_[a-z0-9_]*[a-z0-9]\b(?!\*)")

def known(metric):
    return metric in registered or (metric.endswith("_total") and metric[: -len("_total")] in registered)

problems = []
with open(dashboard_path, encoding="utf-8") as f:
    dashboard = json.load(f)
exprs = []
def walk(panels):
    for panel in panels:
        walk(panel.get("panels", []))
        for target in panel.get("targets", []):
            exprs.append(target["expr"])
        if "targets" in panel and panel.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"{dashboard_path}: panel {panel.get('title')!r} is not on ${{datasource}}")
walk(dashboard["panels"])
if not exprs:
    problems.append(f"{dashboard_path}: no queries")
ids = [p["id"] for p in dashboard["panels"]]
if len(ids) != len(set(ids)):
    problems.append(f"{dashboard_path}: panel IDs repeat")

# The panels' queries as recording rules, for promtool to parse (Grafana's variables replaced).
with open(queries_path, "w", encoding="utf-8") as out:
    out.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, expr in enumerate(exprs):
        for variable, value in (("$__rate_interval", "5m"), ("$meta_instance", ".*"), ("$data_instance", ".*")):
            expr = expr.replace(variable, value)
        out.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(expr)}\n")

variables = [t.get("definition", "") for t in dashboard.get("templating", {}).get("list", [])]
with open(rules_path, encoding="utf-8") as f:
    rule_text = "\n".join(line for line in f if not line.lstrip().startswith("#"))
used = {(rules_path, m) for m in name.findall(rule_text)}
used |= {(dashboard_path, m) for e in exprs + variables for m in name.findall(e)}
for path, metric in sorted(used):
    if not known(metric):
        problems.append(f"{path}: {metric} is not a metric metad or datad exports")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"{dashboard_path}: valid JSON, {len(exprs)} panel queries; "
      f"{len({m for _, m in used})} metric names checked against the code")
EOF
if ! parsed=$(promtool check rules "$work/dashboard-queries.yml" 2>&1); then
  echo "$dashboard: a panel query does not parse:" >&2
  echo "$parsed" >&2
  exit 1
fi
echo "$dashboard: every panel query parses"
