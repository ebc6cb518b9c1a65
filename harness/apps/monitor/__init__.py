"""Monitoring: regressions in the results store against the promoted baseline and the recent
trend, alerts (a command or a webhook), field accuracy from labelled feedback, and the
periodic summary report."""
