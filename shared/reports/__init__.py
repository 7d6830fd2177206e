"""Reports (issue 19 part 4): conversation and message figures by day, hour, channel, agent, team
and label, kept up to date by a fold that runs at most once a second per tenant.

- ``tally.py``: what each message counts towards (pure; the fold and the rebuild share it);
- ``histogram.py``: mergeable log-bucket distributions (medians and 90th percentiles from counters);
- ``fold.py``: the incremental fold (a deliver task) and ``schedule``, which queues it;
- ``rebuild.py``: the figures again from the messages (``python -m shared.cli rebuild-reports``);
- ``api.py``: agent_api ``reports`` (admins), the figures of a date range for the console's page.

Firestore side: shared/store/reports.py.
"""
