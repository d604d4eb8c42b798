// messaging-service/src/shutdown.rs: a stand-in (generate.py)
