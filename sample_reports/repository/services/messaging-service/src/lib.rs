// messaging-service/src/lib.rs: a stand-in (generate.py)
