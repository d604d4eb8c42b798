// user-service/src/models/mod.rs: a stand-in (generate.py)
