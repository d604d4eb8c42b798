// user-service/src/repo/postgres.rs: a stand-in (generate.py)
