// messaging-service/src/router/mod.rs: a stand-in (generate.py)
