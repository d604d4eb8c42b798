// user-service/src/config.rs: a stand-in (generate.py)
