// messaging-service/src/config.rs: a stand-in (generate.py)
