// messaging-service/src/metrics.rs: a stand-in (generate.py)
