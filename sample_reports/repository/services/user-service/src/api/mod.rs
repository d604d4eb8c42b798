// user-service/src/api/mod.rs: a stand-in (generate.py)
