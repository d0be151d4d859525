"""KPI check-ins: indicators per lab, the nudge and chase cycle, reporting, status and charts.

`handlers.kpi.usecase` is the use-case module (its `register(routes)`); this package file stays empty so
that `handlers.ports` can import the repository protocol without importing the handlers."""
