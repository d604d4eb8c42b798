// messaging-service/src/queue/mod.rs: a stand-in (generate.py)
