// user-service/src/repo/mod.rs: a stand-in (generate.py)
