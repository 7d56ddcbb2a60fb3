"""The statistics web adapter: the REST API (``routes``: figures, their Excel and PDF, the exam
list behind them), the pages (``pages``: the index, one generic figure page, the exam list),
their templates, scripts and texts."""
