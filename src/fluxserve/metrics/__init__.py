"""Prometheus metrics: the queue as the job store sees it (the autoscaling signal) and this
process's own timings."""
