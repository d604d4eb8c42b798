// messaging-service/src/error.rs: a stand-in (generate.py)
