// user-service/src/auth/mod.rs: a stand-in (generate.py)
