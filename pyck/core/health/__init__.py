"""Operations: the health of the synced data, the alerts sent about it, and its metrics.

- `status`: per synced model, partition and webhook receiver, the data's age, its recent runs and its level
  (`data_health`).
- `alerts`: one alert per incident and one on recovery (`check_alerts`), incidents kept in `HealthIncident`.
- `chart`: the SVG chart of a row's last runs, for the admin page.
- `admin`: the admin's health page ("Data health") and the list of incidents.
- `metrics`: a `prometheus_client` collector (needs the `prometheus` extra).
"""
