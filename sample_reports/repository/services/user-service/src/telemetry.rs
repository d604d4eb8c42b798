// user-service/src/telemetry.rs: a stand-in (generate.py)
