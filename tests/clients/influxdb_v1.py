"""Writes through a data node with the InfluxDB 1.x Python client (the `influxdb` package), as an
InfluxDB user's tools would: ping, then points with second precision and a consistency level.

Usage: influxdb_v1.py HOST PORT DATABASE. Prints one JSON object: the version the ping reported and
the points written (measurement, host tag, timestamp in seconds). Exits non-zero on any error.
"""

import json
import sys

from influxdb import InfluxDBClient


def main() -> None:
    host, port, database = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    client = InfluxDBClient(host=host, port=port, database=database, timeout=10)
    version = client.ping()
    points = [
        {"measurement": "cpu", "tags": {"host": f"h{i}"}, "fields": {"usage": i + 0.5}, "time": 1704067200 + i}
        for i in range(5)
    ]
    written = client.write_points(points, time_precision="s", consistency="one")
    if not written:
        raise SystemExit("write_points returned False")
    print(json.dumps({"version": version, "points": [[p["measurement"], p["tags"]["host"], p["time"]] for p in points]}))


if __name__ == "__main__":
    main()
